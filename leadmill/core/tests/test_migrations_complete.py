"""Every model change ships with its migration: a deployment that migrates gets the schema
the code expects."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_is_missing_a_migration():
    out = StringIO()
    try:
        call_command("makemigrations", check=True, dry_run=True, stdout=out, stderr=out)
    except SystemExit:  # --check exits non-zero when a migration is missing
        pytest.fail(
            f"a model changed without its migration (run makemigrations):\n{out.getvalue()}"
        )
    assert "No changes detected" in out.getvalue()

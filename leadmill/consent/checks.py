"""``check --deploy``: the suppression list needs a key of its own in production."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

W001 = checks.Warning(
    "LEADMILL_SUPPRESSION_KEY is not set: the suppression list's hashes use the key pinned in "
    "the data directory's suppression_key file, which each machine writes for itself from the "
    "SECRET_KEY in force when it first starts.",
    hint=(
        "Set LEADMILL_SUPPRESSION_KEY to the same value on every machine, and never rotate it "
        "with SECRET_KEY: set it to the content of the suppression_key file (or, before that "
        "file exists, to the current SECRET_KEY) and the list keeps matching; with a new key, "
        "run `leadmill suppression_rehash` (docs/deployment.md)."
    ),
    id="leadmill.consent.W001",
)


@checks.register(checks.Tags.security, deploy=True)
def suppression_key_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    return [] if settings.LEADMILL_SUPPRESSION_KEY else [W001]

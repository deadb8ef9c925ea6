"""The production environment documented in docs/deployment.md passes ``leadmill check --deploy``.

The variables are read from the page itself (the ``leadmill.env`` block of section 3), so
the documentation and the check cannot drift apart.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

# The shared conftest clears the cache (a database table by default) around every test.
pytestmark = pytest.mark.django_db

DEPLOYMENT_DOC = Path(__file__).resolve().parents[3] / "docs" / "deployment.md"


def documented_environment() -> dict[str, str]:
    """The ``KEY=value`` lines of the first shell block of "## 3. Configure"."""
    section = DEPLOYMENT_DOC.read_text().split("## 3. Configure", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    environment = {}
    for line in block.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            environment[key.strip()] = value.strip()
    return environment


def test_the_documented_production_environment_passes_the_deploy_check_at_warning_level(tmp_path):
    # given exactly the documented variables, with the two things a reader must fill in:
    # a real secret for the placeholder, and a data directory this test may write to
    environment = documented_environment()
    assert environment["SECRET_KEY"].startswith("<")  # the placeholder the reader replaces
    environment["SECRET_KEY"] = secrets.token_urlsafe(60)
    assert environment["LEADMILL_DATA_DIR"] == "/var/lib/leadmill"
    environment["LEADMILL_DATA_DIR"] = str(tmp_path / "data")
    leadmill = Path(sys.executable).with_name("leadmill")

    # when the deployment checks run in a process that sees nothing else of this one
    completed = subprocess.run(
        [str(leadmill), "check", "--deploy", "--fail-level", "WARNING"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **environment},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # then no issue at all
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "System check identified no issues (0 silenced)." in completed.stdout


def test_the_documented_environment_sets_no_variable_that_nothing_reads():
    # given the settings module's source, where every variable is read
    settings_source = (Path(__file__).resolve().parents[2] / "settings.py").read_text()
    # Read by the `leadmill web` command rather than by the settings.
    read_by_the_command = {"HOST", "PORT"}

    # when each documented variable is looked up there
    unread = [
        key
        for key in documented_environment()
        if key not in read_by_the_command and f'"{key}"' not in settings_source
    ]

    # then every one of them has an effect
    assert unread == []

"""Run a bench's Django half in a PostgreSQL database of its own, made and dropped for it.

``bench/analytics.py`` and ``bench/retention.py`` time the ORM inside one process: the outer
script (no Django) makes an empty database named ``capture.PG_DB``, migrates it, runs itself
again with ``--django ARGS`` under that database's settings, reads the JSON of the child's
last line, and drops the database whatever happened. Imported the way bench scripts import
``capture`` (the bench folder on ``sys.path``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import capture


def django_run_in_fresh_pg(script: str, args: list[str], *, timeout: float) -> dict:
    """Run ``script --django ARGS`` against a fresh, migrated database ``capture.PG_DB`` and
    return the JSON object its last line of output holds. The child's stderr is passed on.
    Raises RuntimeError with the child's output when migrating or the run fails."""
    name = Path(script).stem
    with tempfile.TemporaryDirectory(prefix=f"leadmill-bench-{name}-") as workdir:
        data_dir = Path(workdir) / "pg"
        (data_dir / "static").mkdir(parents=True)
        capture.pg_admin(f'DROP DATABASE IF EXISTS "{capture.PG_DB}" WITH (FORCE)')
        capture.pg_admin(f'CREATE DATABASE "{capture.PG_DB}"')
        try:
            env = capture.engine_env("pg", data_dir)
            migrate = subprocess.run(
                [capture.python(), "-m", "django", "migrate", "--noinput", "--verbosity", "0"],
                env=env,
                cwd=data_dir,
                capture_output=True,
                text=True,
                timeout=900,
            )
            if migrate.returncode != 0:
                raise RuntimeError(f"migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
            completed = subprocess.run(
                [capture.python(), str(Path(script).resolve()), "--django", *args],
                env=env,
                cwd=data_dir,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            sys.stderr.write(completed.stderr)
            if completed.returncode != 0:
                raise RuntimeError(f"the run failed:\n{completed.stdout}")
            return json.loads(completed.stdout.strip().splitlines()[-1])
        finally:
            capture.pg_admin(f'DROP DATABASE IF EXISTS "{capture.PG_DB}" WITH (FORCE)')

"""``make test``: the whole suite on SQLite, then again on PostgreSQL when a server answers.

PostgreSQL: ``TEST_DATABASE_URL`` (default the local server); each run creates a fresh
database named after the process, and drops it at the end. Browser tests run in Debian's
Chromium when it is installed. With ``CI=true`` a missing PostgreSQL server or browser is a
failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_reachable(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            return True
    except Exception:
        return False


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("LEADMILL_CHROMIUM", ""),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return shutil.which("chromium")


def run_suite(label: str, extra_env: dict[str, str], args: list[str]) -> int:
    env = {**os.environ, **extra_env}
    print(f"\n=== Leadmill tests on {label} ===", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *args], env=env)


def main() -> int:
    args = sys.argv[1:]
    ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    browser = chromium_path()
    if browser is None and ci:
        print("CI: Chromium is not installed, so the browser tests cannot run.", file=sys.stderr)
        return 1
    base_env = {
        "LEADMILL_TESTING": "1",
        "LEADMILL_CHROMIUM": browser or "",
        "LEADMILL_REQUIRE_BROWSER": "1" if ci else os.environ.get("LEADMILL_REQUIRE_BROWSER", ""),
    }
    with tempfile.TemporaryDirectory(prefix="leadmill-test-") as data_dir:
        base_env["LEADMILL_DATA_DIR"] = data_dir
        sqlite_env = {**base_env, "DATABASE_URL": ""}
        status = run_suite("SQLite", sqlite_env, args)

        pg_url = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
        if postgres_reachable(pg_url):
            pg_env = {
                **base_env,
                "DATABASE_URL": pg_url,
                "LEADMILL_TEST_DB_NAME": f"test_leadmill_{os.getpid()}",
            }
            status = run_suite("PostgreSQL", pg_env, args) or status
        elif ci:
            print(
                f"CI: PostgreSQL is not reachable at {pg_url}; the PostgreSQL pass is required.",
                file=sys.stderr,
            )
            status = status or 1
        else:
            print(f"\nPostgreSQL not reachable at {pg_url}: skipped the PostgreSQL pass.")
    return status


if __name__ == "__main__":
    sys.exit(main())

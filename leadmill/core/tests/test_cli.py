"""The ``leadmill`` command (leadmill/cli.py), run through its installed console script."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from leadmill import cli

# The shared conftest clears the cache (a database table by default) around every test.
pytestmark = pytest.mark.django_db

LEADMILL = Path(sys.executable).with_name("leadmill")


def run_leadmill(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEADMILL_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [str(LEADMILL), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_leadmill_help_prints_the_usage(tmp_path):
    completed = run_leadmill(tmp_path, "help")

    assert completed.returncode == 0, completed.stderr
    for usage in ("leadmill run [--demo]", "leadmill web", "leadmill worker", "leadmill <command>"):
        assert usage in completed.stdout


def test_leadmill_without_arguments_prints_the_usage(tmp_path):
    completed = run_leadmill(tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert "leadmill run [--demo]" in completed.stdout


def test_leadmill_runs_django_management_commands(tmp_path):
    completed = run_leadmill(tmp_path, "check")

    assert completed.returncode == 0, completed.stderr
    assert "System check identified no issues" in completed.stdout


def test_an_unknown_command_fails(tmp_path):
    completed = run_leadmill(tmp_path, "no-such-command")

    assert completed.returncode == 1
    assert "Unknown command: 'no-such-command'" in completed.stderr


def test_web_command_serves_the_wsgi_application_with_granian_on_host_and_port(monkeypatch):
    monkeypatch.setenv("HOST", "10.1.2.3")
    monkeypatch.setenv("PORT", "8471")
    monkeypatch.setenv("WEB_WORKERS", "3")
    monkeypatch.setenv("WEB_THREADS", "4")

    command = cli.web_command()

    assert command[:3] == [sys.executable, "-m", "granian"]
    assert command[command.index("--interface") + 1] == "wsgi"
    assert command[command.index("--host") + 1] == "10.1.2.3"
    assert command[command.index("--port") + 1] == "8471"
    assert command[command.index("--workers") + 1] == "3"
    assert command[command.index("--blocking-threads") + 1] == "4"
    assert "--respawn-failed-workers" in command  # one dead worker does not stop the server
    assert command[-1] == "leadmill.wsgi:application"


def test_web_command_defaults_to_loopback_port_8000(monkeypatch):
    for name in ("HOST", "PORT", "WEB_WORKERS", "WEB_THREADS"):
        monkeypatch.delenv(name, raising=False)

    command = cli.web_command()

    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8000"
    workers, threads = cli.web_concurrency(sqlite=connection.vendor == "sqlite")
    assert command[command.index("--workers") + 1] == str(workers)
    assert command[command.index("--blocking-threads") + 1] == str(threads)


def test_the_web_runs_more_processes_than_cpus_and_on_sqlite_fewer_threads(monkeypatch):
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 2)

    assert cli.web_concurrency(sqlite=False) == (3, 8)
    assert cli.web_concurrency(sqlite=True) == (4, 2)


@pytest.mark.parametrize(
    ("periodic", "expect_no_periodic"), [("1", False), ("", False), ("0", True), ("false", True)]
)
def test_worker_command_turns_periodic_tasks_off_with_huey_periodic_0(
    monkeypatch, periodic, expect_no_periodic
):
    monkeypatch.setenv("HUEY_PERIODIC", periodic)
    monkeypatch.setenv("HUEY_WORKERS", "5")

    command = cli.worker_command()

    assert command[:4] == [sys.executable, "-m", "django", "run_huey"]
    assert command[command.index("--workers") + 1] == "5"
    assert ("--no-periodic" in command) is expect_no_periodic

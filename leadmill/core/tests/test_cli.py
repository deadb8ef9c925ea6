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


def test_worker_command_runs_six_threads_unless_told(monkeypatch):
    """Two threads can be held by the polling drains (submissions, nurture kick); the bus and
    the owners' emails need the others (bench/intake.py)."""
    monkeypatch.delenv("HUEY_WORKERS", raising=False)

    command = cli.worker_command()

    assert command[command.index("--workers") + 1] == "6"


CHILD = """
import signal, sys, time
path = sys.argv[1]
def note(signum, frame):
    with open(path, "a") as out:
        out.write(signal.Signals(signum).name + "\\n")
    sys.exit(0)
signal.signal(signal.SIGINT, note)
signal.signal(signal.SIGTERM, note)
open(path + ".ready", "w").close()
while True:
    time.sleep(0.1)
"""

SUPERVISOR = """
import sys
from leadmill import cli
sys.exit(cli.supervise({"web": [sys.executable, "-c", sys.argv[1], sys.argv[2]],
                        "worker": [sys.executable, "-c", sys.argv[1], sys.argv[3]]}))
"""


def test_ctrl_c_on_leadmill_run_stops_its_processes_with_sigterm_only(tmp_path):
    # Given `leadmill run`'s supervisor with two children, in a terminal's process group
    import signal
    import time

    web, worker = tmp_path / "web", tmp_path / "worker"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, CHILD, str(web), str(worker)], start_new_session=True
    )
    deadline = time.monotonic() + 60
    while not (Path(f"{web}.ready").exists() and Path(f"{worker}.ready").exists()):
        assert time.monotonic() < deadline and supervisor.poll() is None
        time.sleep(0.05)

    # When Ctrl+C sends SIGINT to the whole foreground group
    os.killpg(supervisor.pid, signal.SIGINT)
    supervisor.wait(timeout=60)

    # Then each child got one SIGTERM (Huey's graceful stop), never the SIGINT
    assert supervisor.returncode == 0
    assert web.read_text() == "SIGTERM\n"
    assert worker.read_text() == "SIGTERM\n"


def test_the_worker_takes_sigterm_as_a_graceful_stop(settings):
    assert settings.HUEY["consumer"]["graceful_signal"] == "TERM"
    assert settings.HUEY["consumer"]["shutdown_timeout"] == 15


def test_run_help_prints_its_options_and_serves_nothing(tmp_path):
    # Given a new user who asks `leadmill run` what it takes
    # When they run it with --help
    completed = run_leadmill(tmp_path, "run", "--help")

    # Then it prints the options and exits, before creating a database or serving anything
    assert completed.returncode == 0, completed.stderr
    for option in ("--demo", "--host HOST", "--port PORT"):
        assert option in completed.stdout
    assert "Created the first admin" not in completed.stdout
    assert not (tmp_path / "data").exists()


def test_run_refuses_an_unknown_option_without_serving(tmp_path):
    completed = run_leadmill(tmp_path, "run", "--prot", "8080")

    assert completed.returncode == 2
    assert "unrecognized arguments: --prot 8080" in completed.stderr
    assert not (tmp_path / "data").exists()


def test_run_serves_on_the_port_and_host_given_as_options(monkeypatch):
    # Given the environment's defaults, and a run whose preparation and supervision are recorded
    monkeypatch.setenv("PORT", "8000")
    monkeypatch.setenv("HOST", "127.0.0.1")
    prepared, supervised = [], []
    monkeypatch.setattr(cli, "prepare", lambda *, demo: prepared.append(demo))
    monkeypatch.setattr(cli, "supervise", lambda commands: supervised.append(commands) or 0)

    # When the user asks for another port and address
    assert cli.main(["run", "--demo", "--port", "18301", "--host", "10.1.2.3"]) == 0

    # Then the demo is prepared and the web server listens where asked
    web = supervised[0]["web"]
    assert prepared == [True]
    assert web[web.index("--port") + 1] == "18301"
    assert web[web.index("--host") + 1] == "10.1.2.3"

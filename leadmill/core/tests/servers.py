"""Real Leadmill processes for tests: ``leadmill web`` and ``leadmill worker`` as subprocesses,
on the test's database (server_settings.py), with a data directory of their own."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from django.db import connection

LEADMILL = Path(sys.executable).with_name("leadmill")


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a Leadmill process on this test's database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadmill.core.tests.server_settings",
        "LEADMILL_SERVER_DB_NAME": str(connection.settings_dict["NAME"]),
        "LEADMILL_DATA_DIR": str(data_dir),
        "HOST": "127.0.0.1",
        **extra,
    }


def children_of(pid: int) -> list[int]:
    """The pids of a process's children (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except FileNotFoundError:
        return []


def free_port() -> int:
    """A loopback port nothing listens on now (a fixed port collides when two runs share
    the machine): the first free one of ``LEADMILL_TEST_PORTS`` ("18200-18299") when set,
    for a run that must keep to a range, else what the system gives port 0."""
    first, _dash, last = os.environ.get("LEADMILL_TEST_PORTS", "").partition("-")
    candidates = range(int(first), int(last or first) + 1) if first else [0]
    for candidate in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free port in LEADMILL_TEST_PORTS={first}-{last}")


def answers(port: int, path: str = "/healthz") -> int | None:
    """The status of ``GET path`` on loopback, or ``None`` when nothing answers."""
    try:
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        client.request("GET", path)
        status = client.getresponse().status
        client.close()
        return status
    except OSError:
        return None


def stop(process: subprocess.Popen) -> str:
    """Stop a process started here (SIGTERM, then SIGKILL after 20 s), and whatever it left
    running in its session, and return the end of its log."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # its own session (start_new_session): its workers
    return log_of(process)


def log_of(process: subprocess.Popen) -> str:
    """The last lines a process started here wrote (stdout and stderr)."""
    path = getattr(process, "log_path", None)
    return Path(path).read_text(errors="replace")[-4000:] if path else ""


def workers_started(process: subprocess.Popen) -> int:
    """How many times granian said a worker of this server was ready (its log)."""
    return Path(process.log_path).read_text(errors="replace").count("Started worker-")


def _start(command: str, data_dir: Path, env: dict[str, str]) -> subprocess.Popen:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"{command}-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(LEADMILL), command],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log_path = log_path
    return process


@contextlib.contextmanager
def web_running(
    data_dir: Path, *, port: int, workers: int = 2, threads: int = 2, **extra: str
) -> Iterator[subprocess.Popen]:
    """``leadmill web`` on ``127.0.0.1:port`` until the block ends; waits until it answers."""
    if answers(port) is not None:
        raise RuntimeError(f"something already listens on 127.0.0.1:{port}")
    env = server_env(
        data_dir, PORT=str(port), WEB_WORKERS=str(workers), WEB_THREADS=str(threads), **extra
    )
    process = _start("web", data_dir, env)
    try:
        deadline = time.monotonic() + 90
        while answers(port) != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"leadmill web did not start:\n{stop(process)}")
            time.sleep(0.2)
        while workers_started(process) < workers:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"leadmill web's workers did not start:\n{stop(process)}")
            time.sleep(0.1)
        yield process
    finally:
        stop(process)


def worker_start(data_dir: Path, **extra: str) -> subprocess.Popen:
    """``leadmill worker`` (one Huey consumer) on this test's database."""
    return _start("worker", data_dir, server_env(data_dir, **extra))

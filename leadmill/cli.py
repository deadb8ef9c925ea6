"""The ``leadmill`` command.

``leadmill run [--demo] [--host HOST] [--port PORT]``
                           migrate, create the first admin, seed the demo, serve web + worker
``leadmill web``           the production web server alone (granian, WSGI)
``leadmill worker``        one Huey consumer alone
``leadmill <command>``     any Django management command (``leadmill migrate``, ``leadmill shell``)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmill.settings")


def _django_setup():
    import django

    django.setup()


def _call(*args: str) -> None:
    from django.core.management import call_command

    call_command(*args)


def prepare(*, demo: bool) -> None:
    """Migrate, collect static files, create the first admin, seed the demo when asked."""
    _django_setup()
    from django.conf import settings

    _call("migrate", "--noinput", "--verbosity", "0")
    _call("collectstatic", "--noinput", "--verbosity", "0")
    from leadmill.core.setup import admin_ensure, groups_ensure

    groups_ensure()
    created = admin_ensure()
    if created is not None:
        username, password = created
        print(f"Created the first admin user. Log in at {settings.BASE_URL}/admin/")
        print(f"    user: {username}    password: {password}")
        print("    (set LEADMILL_ADMIN_PASSWORD to choose it; change it after logging in)")
    if demo:
        from leadmill.capture.demo import demo_seed
        from leadmill.nurture.demo import nurture_demo_seed
        from leadmill.sales.demo import sales_demo_seed
        from leadmill.scoring.demo import scoring_demo_seed

        if demo_seed():
            print("Seeded the demo: /ebook/ and /demo/.")
        if nurture_demo_seed():
            print('Seeded the demo nurture: the sequence "E-book follow-up" and a segment.')
        if scoring_demo_seed():
            print("Seeded the demo scoring rules: a demo request is hot and qualified.")
        if sales_demo_seed():
            print(
                "Seeded the demo sales reps and assignment rules: demo requests reach "
                "your own “My leads”."
            )


def web_concurrency(*, sqlite: bool) -> tuple[int, int]:
    """Default (worker processes, threads each) of the web server.

    PostgreSQL: one and a half processes per CPU (rounded up), 8 threads each: a process's
    Python runs one thread at a time and its threads wait on the database together (the
    event batches' group commit), so a process per CPU left a fifth of the CPU idle; three
    processes on 2 CPUs took 25 to 40 % more event batches through (docs/adr/0010-collect-fast-path.md).
    SQLite: two processes per CPU with 2 threads each. Its writes go one at a time, and a process's threads then wait on each
    other and on the GIL around every write; more processes with fewer threads took 22 %
    more form posts through (docs/adr/0009-lean-form-post-path.md).
    """
    cpus = max(1, os.cpu_count() or 1)
    return (2 * cpus, 2) if sqlite else ((3 * cpus + 1) // 2, 8)


def web_command() -> list[str]:
    from django.conf import settings
    from django.db import connection

    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    os.makedirs(settings.MEDIA_ROOT, exist_ok=True)
    os.makedirs(settings.STATIC_ROOT, exist_ok=True)
    workers, threads = web_concurrency(sqlite=connection.vendor == "sqlite")
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        port,
        "--workers",
        os.environ.get("WEB_WORKERS", str(workers)),
        "--blocking-threads",
        os.environ.get("WEB_THREADS", str(threads)),
        "--backlog",
        os.environ.get("WEB_BACKLOG", "1024"),
        # Static files and the images and documents uploaded in the back office are served by
        # the application (leadmill.wsgi), not granian's file server: it cannot add the
        # security headers (X-Content-Type-Options: nosniff). Offer files are private.
        # A worker that dies (killed, out of memory) is replaced while the others keep serving
        # on the shared socket; without this granian stops every worker (docs/adr/0017-worker-supervision-and-expiring-locks.md).
        "--respawn-failed-workers",
        "--no-ws",
        "leadmill.wsgi:application",
    ]


def worker_command() -> list[str]:
    args = [
        sys.executable,
        "-m",
        "django",
        "run_huey",
        "--workers",
        os.environ.get("HUEY_WORKERS", "6"),
    ]
    if os.environ.get("HUEY_PERIODIC", "1").strip().lower() in {"0", "false", "no", "off"}:
        args.append("--no-periodic")
    return args


def supervise(commands: dict[str, list[str]]) -> int:
    """Run the processes together; restart one that dies; stop all on SIGINT / SIGTERM.

    Each runs in a session of its own, so the terminal's Ctrl+C (SIGINT to the foreground
    group) reaches only this supervisor, which stops them with SIGTERM: the worker then
    finishes its running tasks (Huey's graceful signal is TERM, settings.HUEY) instead of
    dropping them with their locks held."""

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen(commands[name], start_new_session=True)

    processes = {name: start(name) for name in commands}
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    restarts: dict[str, list[float]] = {name: [] for name in commands}
    while not stopping:
        time.sleep(0.5)
        for name, process in list(processes.items()):
            if process.poll() is not None and not stopping:
                recent = [t for t in restarts[name] if time.time() - t < 60] + [time.time()]
                restarts[name] = recent
                if len(recent) > 5:
                    print(f"leadmill: {name} keeps failing; stopping.", file=sys.stderr)
                    stop(None, None)
                    break
                print(
                    f"leadmill: {name} exited with {process.returncode}; restarting it.",
                    file=sys.stderr,
                )
                processes[name] = start(name)
    deadline = time.time() + 20
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            process.kill()
    return 0


def run_arguments(argv: list[str]) -> argparse.Namespace:
    """The options of ``leadmill run``. ``--host`` and ``--port`` set ``HOST`` and ``PORT``
    before Django's settings load, so the default base URL (links in emails, the admin URL
    printed) names the port actually served. ``--help`` prints them and serves nothing."""
    parser = argparse.ArgumentParser(
        prog="leadmill run",
        description="Migrate the database, create the first admin (its password is printed "
        "once), optionally seed the demo, and serve Leadmill with its background worker.",
    )
    parser.add_argument(
        "--demo", action="store_true", help="seed the demo landing pages /ebook/ and /demo/"
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST", "127.0.0.1"),
        help="address to listen on (default: $HOST or 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8000")),
        help="port to listen on (default: $PORT or 8000)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "help"
    if command == "run":
        options = run_arguments(argv[1:])
        os.environ["HOST"] = options.host
        os.environ["PORT"] = str(options.port)
        prepare(demo=options.demo)
        from django.conf import settings

        host = os.environ.get("HOST", "127.0.0.1")
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        print(
            f"Leadmill is running at http://{shown}:{os.environ.get('PORT', '8000')}/ "
            f"(back office: {settings.BASE_URL}/admin/). Stop with Ctrl+C.",
            flush=True,
        )
        return supervise({"web": web_command(), "worker": worker_command()})
    if command == "web":
        _django_setup()
        _call("collectstatic", "--noinput", "--verbosity", "0")
        os.execv(sys.executable, web_command())
    if command == "worker":
        _django_setup()
        os.execv(sys.executable, worker_command())
    if command in ("help", "-h", "--help"):
        print(__doc__)
        return 0
    from django.core.management import execute_from_command_line

    execute_from_command_line(["leadmill", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the worker's time goes per lead: an in-process profile of intake processing.

    python bench/intake_profile.py --engine pg -n 400
    python bench/intake_profile.py --engine sqlite -n 200 --cprofile

No server and no worker: in this process, from a fresh database with bench/intake.py's set-up
(the bench form and its consent purpose, the scoring rule that makes every lead an MQL, the
welcome sequence, one sales rep named by an assignment rule), it

1. receives ``-n`` form posts through capture's edge service (``submission_receive``, each
   with its own render token seen 10 s ago, as bench/loadgen.py posts them);
2. drains them as the worker does (``capture.tasks._drain``: processing batches of
   ``--batch``, each batch's events delivered by the chain in the same thread), with Huey
   immediate, so the tasks the chain queues (the new-lead alert, the nurture kick, a last
   round's deliveries) run inline and are counted too; the owners' emails go to an SMTP
   sink on loopback (aiosmtpd, in a thread);
3. prints the statements per lead grouped by kind and table (INSERT / UPDATE / SELECT /
   DELETE on each table, transaction control apart), the slowest statements, milliseconds
   per lead (wall, and the CPU of the drain's thread and, on PostgreSQL, of its database
   backend: steadier than wall time on a shared host), the same per stage (capture's
   processing batch, each event handler, the bus's own reads and marks), and with
   ``--cprofile`` the functions that took the most time.

The figures are what set-based processing is judged by (docs/benchmarks.md, "Intake"): the
end-to-end rate bench/intake.py measures is bounded by the worker's time per lead. Ends
with one JSON line. ``--keep`` leaves the database (PostgreSQL) or its directory.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import functools
import gc
import io
import json
import os
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import capture  # noqa: E402

_TABLE = re.compile(
    r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([\w.]+)"?|\bFROM\s+"?([\w.]+)"?', re.I | re.S
)


def statement_kind(sql: str) -> str:
    """``SELECT leadmill_contacts_contact``, ``INSERT core_outboxevent``, ``BEGIN`` …"""
    words = sql.lstrip().split(None, 1)
    verb = words[0].upper().rstrip(";") if words else ""
    if verb in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
        match = _TABLE.search(sql)
        table = next((g for g in match.groups() if g), "?") if match else "?"
        return f"{verb} {table}"
    return verb  # BEGIN, SAVEPOINT, RELEASE, COMMIT, SET …


class Stages:
    """Wall time, CPU time (of this thread) and statements per stage of the drain: capture's
    processing batch, each event handler (its own stage, whatever it calls), and the bus's
    bookkeeping between them (reading the outbox, marking events delivered)."""

    PROCESSING, BUS = "capture processing (submissions_process)", "event bus (outbox reads, marks)"

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.wall: collections.Counter[str] = collections.Counter()
        self.cpu: collections.Counter[str] = collections.Counter()
        self.statements: collections.Counter[str] = collections.Counter()

    @property
    def current(self) -> str:
        return self.stack[-1] if self.stack else "other"

    @contextlib.contextmanager
    def stage(self, name: str):
        """Time the block as ``name``; a stage inside it is taken out of ``name``'s times."""
        self.stack.append(name)
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            self.stack.pop()
            self.wall[name] += wall
            self.cpu[name] += cpu
            if self.stack:
                self.wall[self.stack[-1]] -= wall
                self.cpu[self.stack[-1]] -= cpu

    def handlers_timed(self) -> None:
        """Put a timing wrapper in place of every event subscriber (same dotted name, so
        deliveries still find their handler; batch handlers stay batch handlers)."""
        from leadmill.core import events

        for event_name, handlers in events._subscribers.items():
            for index, handler in enumerate(handlers):
                label = events.handler_name(handler).removeprefix("leadmill.")

                @functools.wraps(handler)
                def timed(*args, _handler=handler, _label=label, **kwargs):
                    with self.stage(_label):
                        return _handler(*args, **kwargs)

                handlers[index] = timed
                if (event_name, handler) in events._batch_handlers:
                    events._batch_handlers.discard((event_name, handler))
                    events._batch_handlers.add((event_name, timed))


class GcClock:
    """CPU time spent in Python's cyclic garbage collector, by generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[int] = collections.Counter()
        self.runs: collections.Counter[int] = collections.Counter()
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds[info["generation"]] += time.thread_time() - self._started
            self.runs[info["generation"]] += 1

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self)


class Counter:
    """A database execute wrapper that counts statements by kind and keeps the slowest."""

    def __init__(self, stages: Stages | None = None) -> None:
        self.kinds: collections.Counter[str] = collections.Counter()
        self.seconds: collections.Counter[str] = collections.Counter()
        self.slowest: list[tuple[float, str]] = []
        self.stages = stages

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - started
            kind = statement_kind(sql)
            self.kinds[kind] += 1
            self.seconds[kind] += took
            if self.stages is not None:
                self.stages.statements[self.stages.current] += 1
            self.slowest.append((took, sql[:300]))
            if len(self.slowest) > 200:
                self.slowest = sorted(self.slowest, reverse=True)[:20]

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


def prepare(engine: str, workdir: Path, smtp_port: int) -> dict:
    """A fresh database with the bench's set-up (made by subprocesses, as bench/intake.py
    does); returns the engine's environment and the set-up's facts."""
    prepared = capture.prepare([engine], workdir)[engine]
    env = {
        **prepared["env"],
        "EMAIL_URL": "",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "HUEY_IMMEDIATE": "1",
    }
    prepared["env"] = env
    prepared["intake"] = capture.django_helper(env, "setup", script="intake_django.py")
    return prepared


def smtp_sink(port: int):
    """An SMTP server on loopback that accepts every message (counted)."""
    from aiosmtpd.controller import Controller

    class Handler:
        accepted = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 -- aiosmtpd's name
            Handler.accepted += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, Handler


def receive(n: int, *, form_slug: str, form_id: int, consent_field: str, prefix: str) -> float:
    from unittest import mock

    from leadmill.capture import services
    from leadmill.capture.selectors import form_definition
    from leadmill.capture.tokens import render_token_make

    definition = form_definition(slug=form_slug)
    seen = time.time() - 10
    started = time.perf_counter()
    # The drain below processes them; nothing is queued meanwhile.
    with mock.patch.object(services, "processing_schedule", lambda: None):
        for i in range(n):
            domain = "gmail.com" if i % 2 == 0 else f"corp{i % 20}.example.com"
            outcome = services.submission_receive(
                definition=definition,
                data={
                    "email": f"{prefix}n{i}@{domain}",
                    "first_name": "Ana",
                    consent_field: "on",
                    "_rt": render_token_make(form_id=form_id, at=seen),
                },
                meta=services.RequestMeta(
                    ip_address=f"10.1.{i // 250 % 250}.{i % 250 + 1}",
                    user_agent="leadmill-bench",
                    page_url="https://example.com/guide?utm_source=newsletter&utm_medium=email",
                ),
            )
            if outcome.status != "received":
                raise RuntimeError(f"post {i} was {outcome.status}: {outcome.errors}")
    return time.perf_counter() - started


def drain(batch: int, stages: Stages) -> None:
    """What the worker's processing task does (capture.tasks._drain, no linger)."""
    from leadmill.capture import services
    from leadmill.core import events

    while True:
        # The chain runs as delivered_here() exits: in the bus's stage, its handlers apart.
        with (
            stages.stage(Stages.BUS),
            events.delivered_here(),
            stages.stage(Stages.PROCESSING),
        ):
            processed = services.submissions_process(limit=batch)
        if not processed:
            return


def backend_cpu_seconds() -> float | None:
    """CPU seconds so far of this connection's PostgreSQL backend (a local server: /proc)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = capture._proc_stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / capture.CLOCK_TICKS


def outcome(prefix: str) -> dict[str, int]:
    """How many of the leads got each part of the way."""
    from leadmill.capture.models import Submission
    from leadmill.messaging.models import Message
    from leadmill.nurture.models import Enrollment
    from leadmill.sales.models import SalesLead
    from leadmill.scoring.models import ContactScore

    mine = {"contact__email__startswith": prefix}
    return {
        "accepted": Submission.objects.filter(**mine, status="accepted").count(),
        "scored": ContactScore.objects.filter(**mine).count(),
        "enrolled": Enrollment.objects.filter(**mine).count(),
        "assigned": SalesLead.objects.filter(**mine, owner__isnull=False).count(),
        "owner_emails_claimed": SalesLead.objects.filter(
            **mine, assignment_notified_at__isnull=False
        ).count(),
        "messages_sent": Message.objects.filter(**mine, sent_at__isnull=False).count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("-n", type=int, default=400, help="leads (default 400)")
    parser.add_argument("--batch", type=int, default=200, help="processing batch (200)")
    parser.add_argument("--top", type=int, default=25, help="kinds of statement shown")
    parser.add_argument("--cprofile", action="store_true", help="profile the drain too")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--smtp-port", type=int, default=18120)
    args = parser.parse_args()

    capture.PG_DB = f"leadmill_bench_profile_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="leadmill-intake-profile-"))
    if args.engine == "pg" and not capture.pg_available():
        return 1
    capture.log(f"preparing {args.engine} in {workdir}")
    prepared = prepare(args.engine, workdir, args.smtp_port)
    controller, sink = smtp_sink(args.smtp_port)
    try:
        os.environ.update(prepared["env"])
        os.chdir(prepared["data_dir"])
        import django

        django.setup()
        from capture_django import FORM_SLUG
        from django.db import connection

        import leadmill.core.tasks  # noqa: F401 -- loaded as the worker loads it
        from leadmill.core.memory import startup_objects_freeze

        startup_objects_freeze()  # as the worker's start-up hook does

        prefix = "p1r1c1"
        received_s = receive(
            args.n,
            form_slug=FORM_SLUG,
            form_id=prepared["form_id"],
            consent_field=prepared["consent_field"],
            prefix=prefix,
        )
        stages = Stages()
        stages.handlers_timed()
        counter = Counter(stages)
        profiler = cProfile.Profile() if args.cprofile else None
        db_cpu = backend_cpu_seconds()
        started, cpu_started = time.perf_counter(), time.thread_time()
        with connection.execute_wrapper(counter), GcClock() as gc_clock:
            if profiler:
                profiler.enable()
            drain(args.batch, stages)
            if profiler:
                profiler.disable()
        drained_s = time.perf_counter() - started
        cpu_s = time.thread_time() - cpu_started
        db_cpu_s = None if db_cpu is None else backend_cpu_seconds() - db_cpu
        reached = outcome(prefix)
    finally:
        controller.stop()
        if not args.keep:
            if args.engine == "pg":
                try:
                    from django.db import connections

                    connections.close_all()
                    capture.pg_admin(f'DROP DATABASE IF EXISTS "{capture.PG_DB}" WITH (FORCE)')
                except Exception as exc:  # noqa: BLE001
                    capture.log(f"could not drop {capture.PG_DB}: {exc}")
        else:
            capture.log(f"kept: {workdir} {capture.PG_DB if args.engine == 'pg' else ''}")

    n = args.n
    per_lead = counter.total / n
    print(f"\n{args.engine}: {n} leads, batches of {args.batch}")
    print(f"  received in {received_s:.2f} s (edge, not counted below)")
    print(f"  drained in {drained_s:.2f} s: {1000 * drained_s / n:.1f} ms per lead")
    print(f"  CPU of the drain's thread: {1000 * cpu_s / n:.1f} ms per lead")
    if db_cpu_s is not None:
        print(f"  CPU of its PostgreSQL backend: {1000 * db_cpu_s / n:.1f} ms per lead")
    print(
        "  garbage collector: "
        + ", ".join(
            f"generation {g}: {gc_clock.runs[g]} runs, {1000 * gc_clock.seconds[g] / n:.2f} ms per lead"
            for g in sorted(gc_clock.runs)
        )
    )
    print(f"  statements: {counter.total} ({per_lead:.1f} per lead)")
    print(f"\n  {'stage':<58} {'ms/lead':>8} {'CPU ms':>7} {'stmts':>6}")
    for name, wall in sorted(stages.wall.items(), key=lambda item: -item[1]):
        print(
            f"  {name[:58]:<58} {1000 * wall / n:>8.2f} {1000 * stages.cpu[name] / n:>7.2f} "
            f"{stages.statements[name] / n:>6.2f}"
        )
    print(f"  reached: {reached}; owners' emails accepted by the sink: {sink.accepted}")
    print(f"\n  {'statements':<58} {'count':>7} {'/lead':>6} {'ms':>8}")
    for kind, count in counter.kinds.most_common(args.top):
        print(
            f"  {kind[:58]:<58} {count:>7} {count / n:>6.2f} {1000 * counter.seconds[kind]:>8.1f}"
        )
    print("\n  slowest statements:")
    for took, sql in sorted(counter.slowest, reverse=True)[:8]:
        print(f"  {1000 * took:8.1f} ms  {' '.join(sql.split())[:150]}")
    if profiler:
        out = io.StringIO()
        dump = Path(tempfile.gettempdir()) / f"intake-profile-{os.getpid()}.prof"
        profiler.dump_stats(dump)
        print(f"  cProfile stats kept in {dump} (python -m pstats {dump})")
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)  # where the CPU goes, waits aside
        print(out.getvalue())
    print(
        json.dumps(
            {
                "bench": "intake_profile",
                "engine": args.engine,
                "leads": n,
                "batch": args.batch,
                "statements_per_lead": round(per_lead, 1),
                "ms_per_lead": round(1000 * drained_s / n, 1),
                "cpu_ms_per_lead": round(1000 * cpu_s / n, 1),
                "gc_ms_per_lead": round(1000 * sum(gc_clock.seconds.values()) / n, 2),
                "db_cpu_ms_per_lead": None if db_cpu_s is None else round(1000 * db_cpu_s / n, 1),
                "stages": {
                    name: {
                        "ms": round(1000 * wall / n, 2),
                        "cpu_ms": round(1000 * stages.cpu[name] / n, 2),
                        "statements": round(stages.statements[name] / n, 2),
                    }
                    for name, wall in stages.wall.items()
                },
                "owner_emails_accepted": sink.accepted,
                **reached,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

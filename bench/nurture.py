"""Nurture benchmark: 100,000 enrolled contacts all due at once, sent by the real engine to an
SMTP sink on loopback, beside a plain loop that renders the same messages (same template, same
signed links) and sends them over one reused connection, in the same run; then a 3-condition
segment over 1,000,000 contacts.

    python bench/nurture.py                      100,000 contacts, PostgreSQL, 1M-contact segment
    python bench/nurture.py --contacts 20000     a smaller run (reported as such)
    python bench/nurture.py --engines pg,sqlite  also on SQLite
    python bench/nurture.py --no-segment         skip the 1M segment figure

What it does, from nothing, per engine (in a child process of its own):

1. A fresh database, migrated. N contacts with an email and a granted marketing consent
   (``COPY`` on PostgreSQL, ``executemany`` on SQLite), one email template (personalised,
   four links), one active sequence whose first step sends it, and N enrollments due now.
2. An SMTP sink (aiosmtpd, a separate process so it does not share our interpreter) that
   appends each message's Message-ID to a file.
3. Ceiling: the plain loop. Each contact is read in chunks, its message rendered by the
   same renderer (open pixel, click links and unsubscribe headers signed the same way) and
   sent over ONE reused SMTP connection. ``raw_smtp_per_s`` = N / seconds.
4. The engine: ``enrollments_advance`` (queues every due send step, set-based, in batches)
   then ``messages_send_due`` until nothing is queued, as the worker's tick does; timed until
   the sink holds N distinct Message-IDs. ``sent_per_s`` = N / seconds, ``ratio`` =
   sent_per_s / raw_smtp_per_s. ``duplicates`` = Message-IDs received more than once,
   ``missing`` = enrolled contacts whose message never arrived. Resident memory is sampled
   every second: ``peak_rss_mb`` and ``rss_growth_mb`` (last sample - sample at 10 %) show
   it stays flat.
5. Segment (PostgreSQL): bench/nurture_segments.py's ``segment_bench`` over 1,000,000
   contacts: median ms of a 3-condition count.

Ends with one JSON line. Goals (the nurture issue): ratio >= 0.5 on PostgreSQL, no duplicates,
none missing, memory flat; segment < 1,000 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL_RATIO, GOAL_SEGMENT_MS = 0.5, 1000.0
SINK_PORT = {"pg": 8651, "sqlite": 8652}

BODY = """
<h1>Hi {{ first_name|default:"there" }},</h1>
<p>Thanks for downloading the guide. Here are three things teams like yours do next.</p>
<p><a href="https://example.com/blog/landing-pages">Landing pages that convert</a></p>
<p><a href="https://example.com/blog/lead-scoring">Scoring leads without guessing</a></p>
<p><a href="https://example.com/blog/nurture">Nurture that does not annoy</a></p>
<p>When you are ready, <a href="https://example.com/demo">book a 20-minute demo</a>.</p>
<p>— The {{ company_name|default:"Leadmill" }} team</p>
"""


# --- The SMTP sink (its own process) ----------------------------------------------------------


def sink_main(port: int, out_path: str, ref_pattern: str = "") -> int:
    """Accept every message; write one line per message: its Message-ID, the time it was
    accepted (``time.time()``), its first recipient and the first match of ``ref_pattern``
    in the raw message (bench/intake.py finds the lead a notification is about so), tab
    separated."""
    import re

    from aiosmtpd.controller import Controller

    message_id = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
    ref = re.compile(ref_pattern.encode()) if ref_pattern else None
    out = open(out_path, "ab", buffering=0)  # noqa: SIM115 -- lives as long as the process

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 -- aiosmtpd's name
            accepted_at = time.time()
            content = envelope.original_content or envelope.content
            found = message_id.search(content)
            referred = ref.search(content) if ref else None
            recipient = (envelope.rcpt_tos or ["-"])[0]
            out.write(
                b"\t".join(
                    (
                        found.group(1) if found else b"-",
                        f"{accepted_at:.6f}".encode(),
                        recipient.encode(errors="replace"),
                        referred.group(0) if referred else b"-",
                    )
                )
                + b"\n"
            )
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        controller.stop()
    return 0


class Sink:
    def __init__(self, port: int, ref_pattern: str = ""):
        handle, self.path = tempfile.mkstemp(prefix="leadmill-bench-sink-")
        os.close(handle)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--sink", str(port), self.path, ref_pattern],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def lines(self) -> list[list[bytes]]:
        """Every message accepted so far: [Message-ID, accepted at, recipient, reference]."""
        try:
            with open(self.path, "rb") as f:
                return [line.split(b"\t") for line in f.read().splitlines()]
        except FileNotFoundError:
            return []

    def ids(self) -> list[bytes]:
        return [fields[0] for fields in self.lines()]

    def count(self) -> int:
        try:
            with open(self.path, "rb") as f:
                return f.read().count(b"\n")
        except FileNotFoundError:
            return 0

    def reset(self) -> None:
        open(self.path, "wb").close()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        os.unlink(self.path)


# --- Memory --------------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssSampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.5):
            self.samples.append(rss_mb())


# --- Child: one engine ------------------------------------------------------------------------


def generate(engine: str, contacts: int) -> dict:
    """Contacts with a granted marketing consent, the template, the sequence, N due enrollments."""
    from django.db import connection, transaction
    from django.utils import timezone

    from leadmill.consent.services import purpose_ensure
    from leadmill.messaging.models import EmailTemplate
    from leadmill.nurture.models import Sequence

    now = timezone.now()
    purpose = purpose_ensure(
        key="newsletter", name="Newsletter", text="Send me guides.", is_email_marketing=True
    )
    text_id = purpose.current_text.pk
    template = EmailTemplate.objects.create(
        name="Guide follow-up",
        subject="{{ first_name|default:'Hi' }}, your next step",
        preheader="Three ideas",
        body=BODY,
        purpose=purpose,
    )
    step_id = str(uuid.uuid4())
    sequence = Sequence.objects.create(name="Bench", is_active=True)
    sequence.steps = [
        {"type": "send_email", "value": {"label": "guide", "template": template.pk}, "id": step_id}
    ]
    sequence.save()

    def contact_rows():
        for i in range(contacts):
            yield (f"lead{i}@bench.example", f"Lead{i}", "lead", "cold", "{}", now, now)

    contact_cols = "email, first_name, lifecycle_stage, temperature, custom, created_at, updated_at"
    blank_cols = [
        f.column
        for f in __import__(
            "leadmill.contacts.models", fromlist=["Contact"]
        ).Contact._meta.concrete_fields
        if not f.primary_key
        and not f.null
        and f.column not in contact_cols.split(", ")
        and f.get_internal_type() in ("CharField", "EmailField")
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cols = contact_cols + "".join(f", {c}" for c in blank_cols)
        extra = ("",) * len(blank_cols)
        if engine == "pg":
            raw = cursor.cursor
            with raw.copy(f"COPY contacts_contact ({cols}) FROM STDIN") as copy:
                for row in contact_rows():
                    copy.write_row(row + extra)
            cursor.execute(
                "INSERT INTO consent_consent (contact_id, purpose_id, purpose_text_id, granted, method, occurred_at, "
                "page_url, user_agent, author, awaiting_confirmation) "
                "SELECT id, %s, %s, true, 'form', %s, '', '', '', false FROM contacts_contact",
                [purpose.pk, text_id, now],
            )
            cursor.execute(
                "INSERT INTO nurture_enrollment (sequence_id, contact_id, state, step_id, step_started_at, next_run_at, "
                "enrolled_at, exit_reason, source) "
                "SELECT %s, id, 'active', %s, %s, %s, %s, '', 'bench' FROM contacts_contact",
                [sequence.pk, step_id, now, now, now],
            )
        else:
            raw = connection.connection
            adapt = connection.ops.adapt_datetimefield_value
            marks = ", ".join(["?"] * (7 + len(blank_cols)))
            raw.executemany(
                f"INSERT INTO contacts_contact ({cols}) VALUES ({marks})",  # noqa: S608 -- our columns
                ((*row[:5], adapt(now), adapt(now), *extra) for row in contact_rows()),
            )
            raw.execute(
                "INSERT INTO consent_consent (contact_id, purpose_id, purpose_text_id, granted, method, occurred_at, "
                "page_url, user_agent, author, awaiting_confirmation) "
                "SELECT id, ?, ?, 1, 'form', ?, '', '', '', 0 FROM contacts_contact",
                [purpose.pk, text_id, adapt(now)],
            )
            raw.execute(
                "INSERT INTO nurture_enrollment (sequence_id, contact_id, state, step_id, step_started_at, next_run_at, "
                "enrolled_at, exit_reason, source) "
                "SELECT ?, id, 'active', ?, ?, ?, ?, '', 'bench' FROM contacts_contact",
                [sequence.pk, step_id, adapt(now), adapt(now), adapt(now)],
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if engine == "pg" else "ANALYZE")
    return {"template": template, "sequence": sequence}


def plain_loop(contacts: int, template, port: int, sink: Sink) -> float:
    """The ceiling: render with the same renderer and send over one reused connection."""
    from django.core.mail import get_connection

    from leadmill.contacts.models import Contact
    from leadmill.messaging.emails import email_message_build
    from leadmill.messaging.models import Message

    sink.reset()
    started = time.perf_counter()
    connection = get_connection(
        "leadmill.messaging.backends.SMTPEmailBackend", host="127.0.0.1", port=port
    )
    connection.open()
    last = 0
    fake_pk = 10**9
    while True:
        chunk = list(Contact.objects.filter(pk__gt=last).order_by("pk")[:1000])
        if not chunk:
            break
        for contact in chunk:
            fake_pk += 1
            message = Message(pk=fake_pk, contact=contact, template=template)
            connection.send_messages(
                [email_message_build(message=message, template=template, contact=contact)]
            )
        last = chunk[-1].pk
    connection.close()
    while sink.count() < contacts:
        time.sleep(0.01)
    return time.perf_counter() - started


def engine_run(contacts: int, port: int, sink: Sink) -> dict:
    from django.test import override_settings

    from leadmill.messaging.sending import messages_send_due
    from leadmill.nurture.engine import enrollments_advance

    sink.reset()
    sampler = RssSampler()
    sampler.start()
    started = time.perf_counter()
    with override_settings(
        EMAIL_BACKEND="leadmill.messaging.backends.SMTPEmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
    ):
        while enrollments_advance(limit=1000):
            pass
        queued_s = time.perf_counter() - started
        while messages_send_due(limit=1000).sent:
            pass
    while sink.count() < contacts and time.perf_counter() - started < 3600:
        time.sleep(0.01)
        if (
            sink.count() < contacts
        ):  # anything left (e.g. a reclaimed message) goes on the next tick
            with override_settings(
                EMAIL_BACKEND="leadmill.messaging.backends.SMTPEmailBackend",
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=port,
            ):
                messages_send_due(limit=1000)
    elapsed = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    samples = sampler.samples or [rss_mb()]
    early = samples[max(0, len(samples) // 10)]
    ids = sink.ids()
    distinct = set(ids)
    return {
        "engine_s": elapsed,
        "queued_s": queued_s,
        "received": len(ids),
        "duplicates": len(ids) - len(distinct),
        "missing": max(0, contacts - len(distinct)),
        "peak_rss_mb": round(max(samples), 1),
        "rss_growth_mb": round(samples[-1] - early, 1),
    }


def child(engine: str, contacts: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    made = generate(engine, contacts)
    print(f"[{engine}] ready in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    sink = Sink(SINK_PORT[engine])
    try:
        raw_s = plain_loop(contacts, made["template"], SINK_PORT[engine], sink)
        print(f"[{engine}] plain loop {raw_s:.1f} s", file=sys.stderr, flush=True)
        result = engine_run(contacts, SINK_PORT[engine], sink)
        print(f"[{engine}] engine {result['engine_s']:.1f} s", file=sys.stderr, flush=True)
    finally:
        sink.close()
    raw_rate = contacts / raw_s
    rate = contacts / result["engine_s"]
    return {
        "engine": engine,
        "contacts": contacts,
        "raw_smtp_per_s": round(raw_rate, 1),
        "sent_per_s": round(rate, 1),
        "ratio": round(rate / raw_rate, 3),
        "queue_s": round(result["queued_s"], 2),
        "duplicates": result["duplicates"],
        "missing": result["missing"],
        "peak_rss_mb": result["peak_rss_mb"],
        "rss_growth_mb": result["rss_growth_mb"],
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


# --- Parent ----------------------------------------------------------------------------------


def run_engine(engine: str, contacts: int) -> dict:
    import psycopg

    env = {
        **os.environ,
        "LEADMILL_DATA_DIR": tempfile.mkdtemp(prefix=f"leadmill-bench-nurture-{engine}-"),
        "DJANGO_SETTINGS_MODULE": "leadmill.settings",
        "LEADMILL_EMAIL_MAX_PER_HOUR": "0",
    }
    env.pop("LEADMILL_TESTING", None)
    db_name = f"leadmill_bench_nurture_{os.getpid()}"
    if engine == "pg":
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{db_name}"')
        env["DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db_name
    else:
        env["DATABASE_URL"] = ""
    try:
        output = subprocess.run(
            [sys.executable, __file__, "--child", engine, "--contacts", str(contacts)],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        return json.loads(output.stdout.strip().splitlines()[-1])
    finally:
        if engine == "pg":
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--engines", default="pg")
    parser.add_argument("--segment-contacts", type=int, default=1_000_000)
    parser.add_argument("--no-segment", action="store_true")
    parser.add_argument("--child", choices=["pg", "sqlite"])
    parser.add_argument("--sink", nargs="+", metavar="PORT FILE [REF_PATTERN]")
    parser.add_argument(
        "--sink-port-base",
        type=int,
        help=f"the SMTP sink listens on this port for PostgreSQL, the next for SQLite "
        f"(default {SINK_PORT['pg']})",
    )
    args = parser.parse_args()
    if args.sink_port_base:
        # The child reads it from its environment (run_engine passes os.environ on).
        os.environ["LEADMILL_BENCH_SINK_PORT_BASE"] = str(args.sink_port_base)
    if os.environ.get("LEADMILL_BENCH_SINK_PORT_BASE"):
        base = int(os.environ["LEADMILL_BENCH_SINK_PORT_BASE"])
        SINK_PORT.update(pg=base, sqlite=base + 1)
    if args.sink:
        return sink_main(int(args.sink[0]), args.sink[1], *args.sink[2:3])
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(child(args.child, args.contacts)))
        return 0

    results = {engine: run_engine(engine, args.contacts) for engine in args.engines.split(",")}
    print(
        f"\n{'engine':8} {'contacts':>9} {'loop/s':>8} {'engine/s':>9} {'ratio':>6} {'dup':>4} {'miss':>5} {'peak MB':>8} {'growth MB':>9}"
    )
    for engine, r in results.items():
        print(
            f"{engine:8} {r['contacts']:>9} {r['raw_smtp_per_s']:>8} {r['sent_per_s']:>9} {r['ratio']:>6} "
            f"{r['duplicates']:>4} {r['missing']:>5} {r['peak_rss_mb']:>8} {r['rss_growth_mb']:>9}"
        )
    summary: dict = {"contacts": args.contacts}
    for engine, r in results.items():
        summary.update(
            {
                f"sent_per_s_{engine}": r["sent_per_s"],
                f"raw_smtp_per_s_{engine}": r["raw_smtp_per_s"],
                f"ratio_{engine}": r["ratio"],
                f"queue_s_{engine}": r["queue_s"],
            }
        )
    first = results.get("pg") or next(iter(results.values()))
    summary["raw_smtp_per_s"] = first["raw_smtp_per_s"]
    summary["duplicates"] = sum(r["duplicates"] for r in results.values())
    summary["missing"] = sum(r["missing"] for r in results.values())
    summary["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results.values())
    summary["rss_growth_mb"] = max(r["rss_growth_mb"] for r in results.values())
    if not args.no_segment:
        sys.path.insert(0, str(BENCH_DIR))
        from nurture_segments import segment_bench

        segment = segment_bench(args.segment_contacts)
        print(
            f"segment over {args.segment_contacts:,} contacts: {segment.get('segment_ms_1m')} ms",
            flush=True,
        )
        summary["segment_ms_1m"] = segment.get("segment_ms_1m")
        summary.update({f"segment_{k}": v for k, v in segment.items() if k != "segment_ms_1m"})
    summary["goal_ratio"], summary["goal_segment_ms"] = GOAL_RATIO, GOAL_SEGMENT_MS
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

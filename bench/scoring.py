"""Scoring benchmark: recompute every lead's rule scores, set-based, against one plain
``UPDATE`` of the same rows in the same run, on PostgreSQL and SQLite; then the incremental
path for one new event.

    python bench/scoring.py                       1,000,000 leads, 3 events each, both engines
    python bench/scoring.py --contacts 100000     a smaller run (reported as such)
    python bench/scoring.py --engines sqlite      one engine

What it does, from nothing, once per engine (each in a child process of its own):

1. A fresh database (PostgreSQL: a new database; SQLite: a file in a temporary
   ``LEADMILL_DATA_DIR``), migrated. Leads and tracking events are generated with ``COPY``
   (PostgreSQL) or ``executemany`` in one transaction (SQLite); 5 % of the events are bots.
2. Ten rules: six fit rules (equals, in, gte on a custom field, is set, business/free mail)
   and four engagement rules (page views capped at 10 points per 30 days, pricing page,
   form submits, email clicks).
3. ``scores_recompute_all()`` once to fill the scores (``first_s``), then three timed runs
   in which one fit rule every lead passes changes its points, so every row is rewritten;
   beside each, the ceiling: one ``UPDATE scoring_contactscore SET fit_score = fit_score + 1``
   over the same rows (same table, same indexes). A run over unchanged data
   (``unchanged_s``) shows the "write only what changed" path, and one after an engagement
   rule changed (``engagement_change_s``, the page-view rule's points; one run) the cost
   of rewriting engagement, which SQLite writes apart from fit. Medians of 3;
   ratio = recompute / update.
4. ``event_to_score_ms``: a new page view of the pricing page is stored for a random lead and
   ``score_apply_event`` applied to it; median (and p95) of 200.

Ends with one JSON line. Goals (the scoring issue): ratio within 3x, event under 20 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL_RATIO, GOAL_EVENT_MS = 3.0, 20.0
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

ROLES = ["ceo", "cto", "vp sales", "director", "manager", "analyst", "intern", ""]
COUNTRIES = ["BR", "PT", "US", "DE", "FR", "IN", "GB", "MX"]
SEGMENTS = ["saas", "retail", "health", "finance", "education", ""]
EVENT_TYPES = ["page_view"] * 6 + ["form_submit", "email_click", "cta_click"]
URLS = [
    "https://x.example/",
    "https://x.example/pricing",
    "https://x.example/blog/a",
    "https://x.example/docs",
]


# --- Child: one engine -----------------------------------------------------------------------


def contact_rows(n: int, rng: random.Random):
    from leadmill.contacts.models import Contact

    fields = [f for f in Contact._meta.concrete_fields if not f.primary_key]
    created = NOW - dt.timedelta(days=200)
    for i in range(n):
        values = {
            "email": f"lead{i}@{'gmail.com' if i % 3 == 0 else f'co{i % 5000}.example'}",
            "role": rng.choice(ROLES),
            "country": rng.choice(COUNTRIES),
            "segment": rng.choice(SEGMENTS),
            "custom": json.dumps({"employees": rng.choice([5, 20, 80, 300, 2000])}),
            "lifecycle_stage": "lead",
            "temperature": "cold",
            "created_at": created,
            "updated_at": created,
        }
        yield [values.get(f.column, None if f.null else "") for f in fields], fields


def event_rows(contacts: int, per_contact: int, first_id: int, rng: random.Random):
    for i in range(contacts * per_contact):
        kind = rng.choice(EVENT_TYPES)
        age = dt.timedelta(seconds=rng.randrange(0, 90 * 86400))
        yield (
            NOW - age,
            first_id + rng.randrange(contacts),
            kind,
            "demo" if kind == "form_submit" else "",
            rng.choice(URLS),
            "",
            "{}",
            "",
            "",
            "",
            "",
            "",
            "",
            i % 20 == 0,
        )


EVENT_COLUMNS = (
    "occurred_at",
    "contact_id",
    "type",
    "name",
    "url",
    "referrer",
    "properties",
    "source",
    "medium",
    "campaign",
    "term",
    "content",
    "channel",
    "is_bot",
)


def generate(engine: str, contacts: int, per_contact: int) -> float:
    from django.db import connection, transaction

    from leadmill.contacts.models import Contact

    rng = random.Random(7)
    started = time.perf_counter()
    rows = contact_rows(contacts, rng)
    first, fields = next(rows)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = Contact._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if engine == "pg":
            raw = cursor.cursor
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write_row(first)
                for row, _fields in rows:
                    copy.write_row(row)
            cursor.execute(f"SELECT MIN(id) FROM {table}")  # noqa: S608 -- our table name
            first_id = cursor.fetchone()[0]
            with raw.copy(f"COPY tracking_event ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for row in event_rows(contacts, per_contact, first_id, rng):
                    copy.write_row(row)
        else:
            raw = connection.connection
            marks = ", ".join(["?"] * len(first))
            adapt = connection.ops.adapt_datetimefield_value

            def sqlite_contacts():
                for row, _fields in _chain(first, rows):
                    yield [adapt(v) if isinstance(v, dt.datetime) else v for v in row]

            raw.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", sqlite_contacts())  # noqa: S608
            first_id = raw.execute(f"SELECT MIN(id) FROM {table}").fetchone()[0]  # noqa: S608
            event_marks = ", ".join(["?"] * len(EVENT_COLUMNS))
            raw.executemany(
                f"INSERT INTO tracking_event ({', '.join(EVENT_COLUMNS)}) VALUES ({event_marks})",  # noqa: S608
                ((adapt(r[0]), *r[1:]) for r in event_rows(contacts, per_contact, first_id, rng)),
            )
    if engine == "pg":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _chain(first, rows):
    yield first, None
    yield from rows


def rules_make():
    from leadmill.scoring.models import EngagementRule, FitRule, ScoringSettings

    FitRule.objects.create(field="role", operator="equals", value="ceo", points=20)
    FitRule.objects.create(field="role", operator="in", value="cto, vp sales, director", points=10)
    FitRule.objects.create(field="custom.employees", operator="gte", value="50", points=10)
    FitRule.objects.create(field="segment", operator="equals", value="saas", points=10)
    every_lead = FitRule.objects.create(field="country", operator="is_set", value="", points=5)
    FitRule.objects.create(field="email_type", operator="equals", value="free", points=-10)
    views = EngagementRule.objects.create(
        name="views", event_type="page_view", points=1, cap_points=10, cap_days=30
    )
    EngagementRule.objects.create(
        name="pricing", event_type="page_view", url_contains="/pricing", points=10
    )
    EngagementRule.objects.create(name="demo form", event_type="form_submit", points=15)
    EngagementRule.objects.create(name="email click", event_type="email_click", points=3)
    settings = ScoringSettings.load()
    settings.half_life_days = 14
    settings.save()
    return every_lead, views


def vacuum(engine: str) -> None:
    from django.db import connection

    if engine == "pg":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE scoring_contactscore")


def child(engine: str, contacts: int, per_contact: int, runs: int, samples: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from leadmill.scoring.recompute import scores_recompute_all
    from leadmill.scoring.services import score_apply_event
    from leadmill.tracking.models import Event

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_s = time.perf_counter() - started
    generate_s = generate(engine, contacts, per_contact)
    every_lead, views = rules_make()
    print(
        f"[{engine}] migrated in {migrate_s:.0f} s, generated in {generate_s:.0f} s",
        file=sys.stderr,
        flush=True,
    )

    t = time.perf_counter()
    written = scores_recompute_all(at=NOW)
    first_s = time.perf_counter() - t
    print(
        f"[{engine}] first recompute {first_s:.2f} s ({written} rows)", file=sys.stderr, flush=True
    )

    recompute, update, changed = [], [], []
    for run in range(runs):
        every_lead.points = 5 + 3 * (run + 1)  # never the value the ceiling's +1 left behind
        every_lead.save()
        vacuum(engine)
        t = time.perf_counter()
        changed.append(scores_recompute_all(at=NOW + dt.timedelta(hours=run + 1)))
        recompute.append(time.perf_counter() - t)
        vacuum(engine)
        t = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE scoring_contactscore SET fit_score = fit_score + 1")
        update.append(time.perf_counter() - t)
        print(
            f"[{engine}] run {run + 1}: recompute {recompute[-1]:.2f} s ({changed[-1]} rows), update {update[-1]:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    # put the scores back as the rules say, then a run over unchanged data
    scores_recompute_all(at=NOW + dt.timedelta(hours=10))
    vacuum(engine)
    t = time.perf_counter()
    unchanged_rows = scores_recompute_all(at=NOW + dt.timedelta(hours=11))
    unchanged_s = time.perf_counter() - t
    # an engagement rule changes instead: the engagement of most leads is rewritten, once
    views.points = 2
    views.save()
    vacuum(engine)
    t = time.perf_counter()
    engagement_rows = scores_recompute_all(at=NOW + dt.timedelta(hours=12))
    engagement_change_s = time.perf_counter() - t

    rng = random.Random(11)
    ids = list(Event.objects.order_by().values_list("contact_id", flat=True)[: samples * 10])
    timings = []
    for _ in range(samples):
        event = Event.objects.create(
            occurred_at=NOW + dt.timedelta(hours=12),
            contact_id=rng.choice(ids),
            type="page_view",
            url="https://x.example/pricing",
        )
        t = time.perf_counter()
        score_apply_event(event_id=event.pk, at=NOW + dt.timedelta(hours=12))
        timings.append((time.perf_counter() - t) * 1000)
    timings.sort()
    return {
        "engine": engine,
        "contacts": contacts,
        "events": contacts * per_contact,
        "first_s": round(first_s, 3),
        "recompute_s": round(statistics.median(recompute), 3),
        "update_s": round(statistics.median(update), 3),
        "ratio": round(statistics.median(recompute) / statistics.median(update), 2),
        "rows_changed": changed,
        "unchanged_s": round(unchanged_s, 3),
        "unchanged_rows": unchanged_rows,
        "engagement_change_s": round(engagement_change_s, 3),
        "engagement_change_rows": engagement_rows,
        "event_ms": round(statistics.median(timings), 2),
        "event_p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
        "generate_s": round(generate_s, 1),
    }


# --- Parent ----------------------------------------------------------------------------------


def run_engine(engine: str, args: argparse.Namespace) -> dict:
    import psycopg

    data_dir = tempfile.mkdtemp(prefix=f"leadmill-bench-scoring-{engine}-")
    env = {
        **os.environ,
        "LEADMILL_DATA_DIR": data_dir,
        "DJANGO_SETTINGS_MODULE": "leadmill.settings",
    }
    env.pop("LEADMILL_TESTING", None)
    db_name = f"leadmill_bench_scoring_{os.getpid()}"
    if engine == "pg":
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{db_name}"')
        env["DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db_name
    else:
        env["DATABASE_URL"] = ""
    command = [
        sys.executable,
        __file__,
        "--child",
        engine,
        "--contacts",
        str(args.contacts),
        "--events-per-contact",
        str(args.events_per_contact),
        "--runs",
        str(args.runs),
        "--samples",
        str(args.samples),
    ]
    try:
        output = subprocess.run(
            command,
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=False,
            stdout=subprocess.PIPE,
            text=True,
        )
        return json.loads(output.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)  # the SQLite file: 0.7 GB at 1M leads
        if engine == "pg":
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events-per-contact", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--engines", default="pg,sqlite")
    parser.add_argument("--child", choices=["pg", "sqlite"])
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        result = child(args.child, args.contacts, args.events_per_contact, args.runs, args.samples)
        print(json.dumps(result))
        return 0

    results = {engine: run_engine(engine, args) for engine in args.engines.split(",")}
    print(
        f"\n{'engine':8} {'leads':>9} {'events':>9} {'recompute s':>12} {'UPDATE s':>9} {'ratio':>6} {'unchanged s':>12} {'event ms':>9}"
    )
    for engine, r in results.items():
        print(
            f"{engine:8} {r['contacts']:>9} {r['events']:>9} {r['recompute_s']:>12} {r['update_s']:>9} "
            f"{r['ratio']:>6} {r['unchanged_s']:>12} {r['event_ms']:>9}"
        )
    summary: dict = {"contacts": args.contacts, "events": args.contacts * args.events_per_contact}
    for engine, suffix in (("pg", "pg"), ("sqlite", "sqlite")):
        if engine in results:
            r = results[engine]
            summary.update(
                {
                    f"recompute_s_{suffix}": r["recompute_s"],
                    f"update_s_{suffix}": r["update_s"],
                    f"ratio_{suffix}": r["ratio"],
                    f"first_s_{suffix}": r["first_s"],
                    f"unchanged_s_{suffix}": r["unchanged_s"],
                    f"engagement_change_s_{suffix}": r["engagement_change_s"],
                    f"event_ms_{suffix}": r["event_ms"],
                    f"event_p95_ms_{suffix}": r["event_p95_ms"],
                }
            )
    summary["event_to_score_ms"] = max(r["event_ms"] for r in results.values())
    summary["goal_ratio"], summary["goal_event_ms"] = GOAL_RATIO, GOAL_EVENT_MS
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

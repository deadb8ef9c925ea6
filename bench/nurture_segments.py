"""Segment benchmark: count a 3-condition dynamic segment over 1,000,000 contacts on
PostgreSQL, beside the same count written by hand as one raw SQL query, in the same run.

    python bench/nurture_segments.py                    1,000,000 contacts
    python bench/nurture_segments.py --contacts 200000  a smaller run (reported as such)

What it does, from nothing (in a child process of its own):

1. A fresh PostgreSQL database (created here, dropped at the end), migrated. Contacts and
   tracking events are generated inside the server with ``INSERT … SELECT`` over
   ``generate_series`` (no rows cross the wire): 8 countries, 70 % cold / 20 % warm / 10 %
   hot, created over the last 365 days; one page view per contact on average, 10 % of them
   on the pricing page, 5 % bots, over the last 60 days. ``VACUUM ANALYZE``.
2. Segment "fields": country = BR AND temperature in (warm, hot) AND created within the last
   90 days. Segment "event": country = BR AND temperature in (warm, hot) AND viewed a page
   whose address contains /pricing in the last 30 days (bots excluded).
3. Each is counted by ``segment_count`` (one query built by leadmill.segments) and,
   as the ceiling, by a hand-written ``SELECT COUNT(*)`` of the same conditions. Five timed
   runs each after one warm-up; medians; ratio = segment / hand-written. Counts must agree.

Ends with one JSON line; ``segment_ms_1m`` is the "fields" segment's median (goal < 1,000 ms).
``segment_bench(n)`` runs it all and returns that JSON as a dict (bench/nurture.py uses it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL_MS = 1000.0
RUNS = 5
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

FIELDS_SEGMENT = {
    "match": "all",
    "conditions": [
        {"field": "country", "op": "equals", "value": "BR"},
        {"field": "temperature", "op": "in", "value": ["warm", "hot"]},
        {"field": "created_at", "op": "within_days", "value": 90},
    ],
}
EVENT_SEGMENT = {
    "match": "all",
    "conditions": [
        {"field": "country", "op": "equals", "value": "BR"},
        {"field": "temperature", "op": "in", "value": ["warm", "hot"]},
        {
            "field": "event",
            "event_type": "page_view",
            "url_contains": "/pricing",
            "within_days": 30,
        },
    ],
}
FIELDS_SQL = (
    "SELECT COUNT(*) FROM contacts_contact WHERE country = 'BR' AND temperature IN ('warm', 'hot') "
    "AND created_at >= %s"
)
EVENT_SQL = (
    "SELECT COUNT(*) FROM contacts_contact c WHERE c.country = 'BR' AND c.temperature IN ('warm', 'hot') "
    "AND EXISTS (SELECT 1 FROM tracking_event e WHERE e.contact_id = c.id AND e.type = 'page_view' "
    "AND NOT e.is_bot AND e.url ILIKE '%%/pricing%%' AND e.occurred_at >= %s)"
)


# --- Child ---------------------------------------------------------------------------------------


def _column_values(n: int) -> dict[str, str]:
    """SQL expressions (over ``g`` = 1..n) for the contact columns the bench cares about."""
    return {
        "email": "'lead' || g || '@co' || mod(g, 5000) || '.example'",
        "country": "(ARRAY['BR','PT','US','DE','FR','IN','GB','MX'])[1 + floor(random() * 8)::int]",
        "temperature": "(ARRAY['hot','warm','warm','cold','cold','cold','cold','cold','cold','cold'])[1 + floor(random() * 10)::int]",
        "lifecycle_stage": "'lead'",
        "custom": "'{}'::jsonb",
        "created_at": f"%(now)s - floor(random() * {365 * 86400}) * INTERVAL '1 second'",
        "updated_at": "%(now)s",
        "outcome": "''",
    }


def generate(contacts: int) -> float:
    from django.db import connection, transaction

    from leadmill.contacts.models import Contact

    started = time.perf_counter()
    values = _column_values(contacts)
    columns, expressions = [], []
    for field in Contact._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        expressions.append(values.get(field.column, "NULL" if field.null else "''"))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")  # the same data on every run
        cursor.execute(
            f"INSERT INTO contacts_contact ({', '.join(columns)}) "  # noqa: S608 -- our columns and expressions only
            f"SELECT {', '.join(expressions)} FROM generate_series(1, %(n)s::bigint) g",
            {"now": NOW, "n": contacts},
        )
        cursor.execute("SELECT MIN(id) FROM contacts_contact")
        first_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO tracking_event (occurred_at, contact_id, type, name, url, referrer, properties, source, "
            "medium, campaign, term, content, channel, is_bot) "
            "SELECT %(now)s - floor(random() * 60 * 86400) * INTERVAL '1 second', %(first)s + floor(random() * %(n)s)::bigint, "
            "'page_view', '', CASE WHEN random() < 0.1 THEN 'https://x.example/pricing' ELSE 'https://x.example/blog/' || mod(g, 50) END, "
            "'', '{}'::jsonb, '', '', '', '', '', '', random() < 0.05 FROM generate_series(1, %(n)s::bigint) g",
            {"now": NOW, "n": contacts, "first": first_id},
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def _median_ms(run) -> tuple[float, int]:
    run()  # warm-up
    timings, result = [], None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = run()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1), result


def child(contacts: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from leadmill.segments.models import Segment
    from leadmill.segments.selectors import segment_count

    call_command("migrate", verbosity=0)
    generate_s = generate(contacts)
    print(
        f"generated {contacts:,} contacts and events in {generate_s:.0f} s",
        file=sys.stderr,
        flush=True,
    )

    def raw(sql, since):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(sql, [since])
                return cursor.fetchone()[0]

        return run

    result: dict = {"contacts": contacts, "generate_s": round(generate_s, 1)}
    for name, definition, sql, days in (
        ("fields", FIELDS_SEGMENT, FIELDS_SQL, 90),
        ("event", EVENT_SEGMENT, EVENT_SQL, 30),
    ):
        segment = Segment.objects.create(name=name, definition=definition)
        segment_ms, count = _median_ms(
            lambda segment=segment: segment_count(segment=segment, now=NOW)
        )
        raw_ms, raw_count = _median_ms(raw(sql, NOW - dt.timedelta(days=days)))
        if count != raw_count:
            raise SystemExit(
                f"{name}: the segment counted {count}, the hand-written query {raw_count}"
            )
        result.update(
            {
                f"{name}_ms": segment_ms,
                f"{name}_raw_ms": raw_ms,
                f"{name}_ratio": round(segment_ms / max(raw_ms, 0.1), 2),
                f"{name}_count": count,
            }
        )
        print(
            f"{name}: segment {segment_ms} ms, hand-written {raw_ms} ms, {count:,} contacts",
            file=sys.stderr,
            flush=True,
        )
    result["segment_ms_1m"] = result["fields_ms"]
    result["goal_ms"] = GOAL_MS
    return result


# --- Parent --------------------------------------------------------------------------------------


def segment_bench(n: int = 1_000_000) -> dict:
    """Run the whole benchmark over ``n`` contacts in a fresh PostgreSQL database (created and
    dropped here) and return its JSON line as a dict."""
    import psycopg

    db_name = f"leadmill_bench_segments_{os.getpid()}"
    env = {
        **os.environ,
        "LEADMILL_DATA_DIR": tempfile.mkdtemp(prefix="leadmill-bench-segments-"),
        "DJANGO_SETTINGS_MODULE": "leadmill.settings",
        "DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db_name,
    }
    env.pop("LEADMILL_TESTING", None)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db_name}"')
    try:
        output = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", "--contacts", str(n)],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        return json.loads(output.stdout.strip().splitlines()[-1])
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(child(args.contacts)))
        return 0
    result = segment_bench(args.contacts)
    print(
        f"\n{'segment':8} {'contacts':>10} {'count':>8} {'segment ms':>11} {'raw SQL ms':>11} {'ratio':>6}"
    )
    for name in ("fields", "event"):
        print(
            f"{name:8} {result['contacts']:>10,} {result[f'{name}_count']:>8,} {result[f'{name}_ms']:>11} "
            f"{result[f'{name}_raw_ms']:>11} {result[f'{name}_ratio']:>6}"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

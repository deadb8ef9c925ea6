"""Retention benchmark: how fast the periodic retention deletes old tracking events and
delivered outbox rows on PostgreSQL, beside one raw ``DELETE`` of the same rows (the
ceiling), and against the ingest goal of 30,000 events/s.

    python bench/retention.py               3 runs, 1M old events (and 1M recent) per run
    python bench/retention.py --quick       1 run, 200k old events
    python bench/retention.py --rows N      old events per run

1. A fresh PostgreSQL database, migrated (bench/capture.py's helpers).
2. Each run, inside Django: the event table gets N events older than the retention and N
   recent ones (``INSERT ... SELECT generate_series``, server-side), then ANALYZE;
   ``tracking.services.events_prune`` (what the ten-minute task runs: slices of the
   ``occurred_at`` index, one short transaction each) is timed until it is caught up.
   The same old rows are inserted again and one ``DELETE ... WHERE occurred_at < cutoff``
   (one statement, one transaction: what no live system can afford, the ceiling) is timed.
   The same for N/4 delivered outbox rows (``core.events.outbox_prune``).
3. rows/s = rows deleted / seconds; ratio = retention / raw delete; ``keeps_up`` =
   retention rows/s / 30,000 (above 1: it deletes faster than the ingest goal writes).

Figures are medians of the runs. Ends with one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import capture  # noqa: E402
import fresh_pg  # noqa: E402

capture.PORTS = {"sqlite": 8650, "pg": 8651}
capture.PG_DB = f"leadmill_bench_retention_{os.getpid()}"
INGEST_GOAL = 30_000  # events/s (the tracking issue's goal on PostgreSQL)
RETENTION_DAYS = 395


def fill_events(cursor, count: int, *, old: bool) -> float:
    """``count`` anonymous page views, older than the retention (spread over a week) or of
    the last day; returns the seconds the insert took."""
    started = time.perf_counter()
    age = (
        f"interval '{RETENTION_DAYS + 1} days' + " if old else ""
    )  # inside the brackets: older still
    cursor.execute(
        f"""
        INSERT INTO tracking_event (occurred_at, contact_id, type, name, url, referrer, properties,
            source, medium, campaign, term, content, channel, is_bot)
        SELECT now() - ({age}(g %% 604800) * interval '1 second'), NULL, 'page_view', '',
               'https://www.example.com/p/' || (g %% 1000), '', '{{}}', '', '', '', '', '', 'direct', false
        FROM generate_series(1, %s) AS g
        """,  # noqa: S608 -- constants only
        [count],
    )
    return time.perf_counter() - started


def fill_outbox(cursor, count: int) -> None:
    cursor.execute(
        """
        INSERT INTO core_outboxevent (name, payload, created_at, delivered_at, attempts, last_error)
        SELECT 'LeadCaptured', '{"contact_id": 1}', now() - interval '30 days', now() - interval '30 days'
               + (g %% 86400) * interval '1 second', 1, ''
        FROM generate_series(1, %s) AS g
        """,
        [count],
    )


def django_runs(rows: int, runs: int) -> dict:
    """Runs inside Django (``python bench/retention.py --django ROWS RUNS``)."""
    import django

    django.setup()
    from django.db import connection

    from leadmill.core.events import outbox_prune
    from leadmill.tracking.services import events_prune

    results = []
    with connection.cursor() as cursor:
        for run in range(1, runs + 1):
            cursor.execute("TRUNCATE tracking_event, core_outboxevent CASCADE")
            fill_events(cursor, rows, old=False)
            fill_s = fill_events(cursor, rows, old=True)
            fill_outbox(cursor, rows // 4)
            cursor.execute("ANALYZE tracking_event")
            cursor.execute("ANALYZE core_outboxevent")

            started = time.perf_counter()
            deleted = events_prune(older_than_days=RETENTION_DAYS)
            prune_s = time.perf_counter() - started
            started = time.perf_counter()
            outbox_deleted = outbox_prune(older_than_days=7)
            outbox_s = time.perf_counter() - started

            fill_events(cursor, rows, old=True)
            fill_outbox(cursor, rows // 4)
            cursor.execute("ANALYZE tracking_event")
            started = time.perf_counter()
            cursor.execute(
                f"DELETE FROM tracking_event WHERE occurred_at < now() - interval '{RETENTION_DAYS} days'"  # noqa: S608
            )
            raw_deleted = cursor.rowcount
            raw_s = time.perf_counter() - started
            started = time.perf_counter()
            cursor.execute(
                "DELETE FROM core_outboxevent WHERE delivered_at < now() - interval '7 days'"
            )
            raw_outbox_deleted = cursor.rowcount
            raw_outbox_s = time.perf_counter() - started
            cursor.execute("SELECT count(*) FROM tracking_event")
            left = cursor.fetchone()[0]
            result = {
                "deleted": deleted,
                "prune_rows_per_s": deleted / prune_s,
                "raw_deleted": raw_deleted,
                "raw_delete_rows_per_s": raw_deleted / raw_s,
                "outbox_deleted": outbox_deleted,
                "outbox_prune_rows_per_s": outbox_deleted / outbox_s,
                "raw_outbox_delete_rows_per_s": raw_outbox_deleted / raw_outbox_s,
                "insert_select_rows_per_s": rows / fill_s,
                "recent_left": left,
            }
            results.append(result)
            print(
                f"run {run}: retention {result['prune_rows_per_s']:,.0f} rows/s, raw DELETE "
                f"{result['raw_delete_rows_per_s']:,.0f} rows/s, outbox {result['outbox_prune_rows_per_s']:,.0f} "
                f"rows/s (raw {result['raw_outbox_delete_rows_per_s']:,.0f})",
                file=sys.stderr,
                flush=True,
            )
    return {"runs": results}


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--django", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.django:
        print(json.dumps(django_runs(*args.django)))
        return 0
    rows = args.rows or (200_000 if args.quick else 1_000_000)
    runs = args.runs or (1 if args.quick else 3)
    if not capture.pg_available():
        return 1
    measured = fresh_pg.django_run_in_fresh_pg(__file__, [str(rows), str(runs)], timeout=3600)[
        "runs"
    ]
    prune, raw = median(measured, "prune_rows_per_s"), median(measured, "raw_delete_rows_per_s")
    outbox, raw_outbox = (
        median(measured, "outbox_prune_rows_per_s"),
        median(measured, "raw_outbox_delete_rows_per_s"),
    )
    figures = {
        "bench": "retention",
        "engine": "postgresql",
        "old_rows_per_run": rows,
        "runs": runs,
        "prune_rows_per_s": round(prune),
        "raw_delete_rows_per_s": round(raw),
        "ratio": round(prune / raw, 3),
        "ingest_goal_events_per_s": INGEST_GOAL,
        "keeps_up": round(prune / INGEST_GOAL, 2),
        "outbox_prune_rows_per_s": round(outbox),
        "raw_outbox_delete_rows_per_s": round(raw_outbox),
        "outbox_ratio": round(outbox / raw_outbox, 3),
        "insert_select_rows_per_s": round(median(measured, "insert_select_rows_per_s")),
        "recent_rows_kept": all(run["recent_left"] == rows for run in measured),
    }
    print(f"{'figure':<34}{'rows/s':>12}")
    print(f"{'events_prune (slices of 50k)':<34}{figures['prune_rows_per_s']:>12,}")
    print(f"{'raw DELETE (one statement)':<34}{figures['raw_delete_rows_per_s']:>12,}")
    print(f"{'ratio':<34}{figures['ratio']:>12}")
    print(f"{'ingest goal':<34}{INGEST_GOAL:>12,}")
    print(f"{'keeps up (prune / goal)':<34}{figures['keeps_up']:>12}")
    print(f"{'outbox_prune':<34}{figures['outbox_prune_rows_per_s']:>12,}")
    print(f"{'raw outbox DELETE':<34}{figures['raw_outbox_delete_rows_per_s']:>12,}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

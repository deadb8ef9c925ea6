"""What PostgreSQL spends a bench phase on: run beside a bench, it samples the statements
running in the bench's database and diffs each table's scans over the same seconds.

    python bench/pg_activity.py --seconds 60 --after /tmp/intake.log "steady form: 200"

(start ``bench/intake.py ... > /tmp/intake.log`` first). It waits for the newest database
named like ``--database`` (``leadmill_bench_%``), then for ``--after``'s text to appear in
its file (none: at once), then for ``--seconds`` it reads ``pg_stat_activity`` every
``--interval`` seconds and counts each active statement (its first 150 characters), and
diffs ``pg_stat_user_tables`` (sequential scans, rows they read, index scans). A table whose
sequential reads grow with the run (a count that reads every earlier row) shows at the top;
session 17 found the intake bench's one render token for every post so (docs/benchmarks.md,
"One render token per post"). Needs no extension: ``pg_stat_statements`` is not loaded on
every server. Last line: JSON.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import time
from pathlib import Path

import psycopg

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def newest_database(admin: psycopg.Connection, like: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY oid DESC LIMIT 1",
            [like],
        ).fetchone()
        if row:
            return row[0]
        time.sleep(0.5)
    raise SystemExit(f"no database named like {like!r} within {timeout_s:g} s")


def wait_for_text(path: str, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if text in Path(path).read_text(errors="replace"):
                return
        except FileNotFoundError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{text!r} did not appear in {path} within {timeout_s:g} s")


def table_stats(conn: psycopg.Connection) -> dict[str, tuple[int, int, int, int]]:
    """Per table: sequential scans, rows they read, index scans, live rows."""
    rows = conn.execute(
        "SELECT relname, seq_scan, seq_tup_read, COALESCE(idx_scan, 0), n_live_tup "
        "FROM pg_stat_user_tables"
    )
    return {name: (seq, read, idx, live) for name, seq, read, idx, live in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="leadmill_bench_%", help="LIKE pattern")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--after", nargs=2, metavar=("FILE", "TEXT"), help="start when seen")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    admin = psycopg.connect(ADMIN_URL, autocommit=True)
    database = newest_database(admin, args.database, timeout_s=600)
    print(f"database: {database}", flush=True)
    if args.after:
        wait_for_text(*args.after, timeout_s=1800)
    conn = psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{database}", autocommit=True)
    before, started = table_stats(conn), time.monotonic()
    statements: collections.Counter[str] = collections.Counter()
    samples = 0
    while time.monotonic() - started < args.seconds:
        active = admin.execute(
            "SELECT query FROM pg_stat_activity WHERE state = 'active' AND datname = %s "
            "AND pid <> pg_backend_pid()",
            [database],
        )
        for (query,) in active:
            statements[re.sub(r"\s+", " ", query or "")[:150]] += 1
        samples += 1
        time.sleep(args.interval)
    after = table_stats(conn)

    print(f"\n{samples} samples over {args.seconds:g} s; statements seen running (samples):")
    for query, count in statements.most_common(args.top):
        print(f"{count:7d}  {query}")
    tables = []
    for name, (seq, read, idx, live) in after.items():
        seq0, read0, idx0, _live0 = before.get(name, (0, 0, 0, 0))
        tables.append(
            {
                "table": name,
                "seq_scans": seq - seq0,
                "seq_rows_read": read - read0,
                "idx_scans": idx - idx0,
                "live_rows": live,
            }
        )
    tables.sort(key=lambda row: row["seq_rows_read"], reverse=True)
    print("\ntable                              seq scans   rows they read   idx scans   live rows")
    for row in tables[: args.top]:
        print(
            f"{row['table']:<34} {row['seq_scans']:>9,} {row['seq_rows_read']:>16,} "
            f"{row['idx_scans']:>11,} {row['live_rows']:>11,}"
        )
    print(
        json.dumps(
            {
                "bench": "pg_activity",
                "database": database,
                "seconds": args.seconds,
                "samples": samples,
                "statements": dict(statements.most_common(args.top)),
                "tables": tables[: args.top],
            }
        )
    )


if __name__ == "__main__":
    main()

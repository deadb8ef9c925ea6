"""Tracking benchmark: events ingested per second through ``POST /t/collect`` on the
production server, beside a bare view doing the same one multi-row INSERT; then the contact
timeline and attribution of one contact with millions of events in the table.

    python bench/tracking.py               3 runs of 10 s per figure, 10M events (long)
    python bench/tracking.py --quick       1 run of 5 s per figure, 1M events
    python bench/tracking.py --events N    the size of the event table for the read figures

1. Fresh SQLite file and PostgreSQL database, migrated (bench/capture.py's helpers).
2. ``leadmill web`` (granian WSGI, the production command) with ``bench_settings``
   (Leadmill's settings plus ``/bench/bare-events/``, bench_urls.py), rate limit raised.
3. wrk, 50 keep-alive connections: each request is a batch of 20 events (page views with
   UTM and referrer, CTA clicks, form events) of a new visitor, from a browser user agent and
   an allowed Origin. events/s = 2xx answers x 20 / s; ratio = collect / bare view.
   After each run the stored rows are counted: ``lost`` = events accepted - events stored.
4. PostgreSQL: the event table grows to N rows (``INSERT ... SELECT generate_series``, one
   statement server-side, the fastest way to get there) spread over 20,000 contacts and
   the anonymous; one contact has 300 events. contact_timeline() (every app's part) and
   contact_attribution() of that contact are timed (median of 50) and EXPLAINed.

Ends with one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import capture  # noqa: E402

capture.PORTS = {"sqlite": 8640, "pg": 8641}
capture.PG_DB = f"leadmill_bench_tracking_{os.getpid()}"
BATCH = 20
CONNECTIONS = 50
GOAL_RATIO, GOAL_EVENTS_PG, GOAL_READ_MS = 0.8, 30_000, 50.0
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

WRK_SCRIPT = r"""
-- Written by bench/tracking.py: a batch of 20 events of a new visitor per request.
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  prefix, origin, template = args[1], args[2], args[3]
  ok, bad, n = 0, 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Origin"] = origin
  wrk.headers["User-Agent"] = "CHROME_UA"
end
function request()
  n = n + 1
  local vid = string.format("%s%02dv%010d", prefix, tid, n)
  return wrk.format(nil, nil, nil, (string.gsub(template, "VISITOR", vid)))
end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); b = b + t:get("bad") end
  io.write(string.format("BENCH ok=%d bad=%d\n", o, b))
end
""".replace("CHROME_UA", CHROME)


def batch_template(origin: str) -> str:
    """20 events of one visit: page views from a newsletter, clicks, a form; ``VISITOR`` is
    replaced by a new visitor id in every request."""
    events = []
    for i in range(BATCH):
        kind = ("page_view", "page_view", "cta_click", "form_view", "form_start")[i % 5]
        event = {
            "type": kind,
            "url": f"{origin}/offer/{i}?utm_source=newsletter&utm_medium=email&utm_campaign=nov",
            "visitor_id": "VISITOR",
            "properties": {"title": f"Offer {i}"},
        }
        if kind == "page_view":
            event["referrer"] = "https://mail.example.com/"
        else:
            event["name"] = f"element-{i}"
        events.append(event)
    return json.dumps(events, separators=(",", ":"))


def event_count(engine: str, setup: dict) -> int:
    if engine == "pg":
        import psycopg

        with psycopg.connect(setup["env"]["DATABASE_URL"]) as conn:
            return conn.execute("SELECT count(*) FROM tracking_event").fetchone()[0]
    with sqlite3.connect(setup["data_dir"] / "leadmill.sqlite3", timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM tracking_event").fetchone()[0]


def wrk_run(engine: str, path: str, seconds: float, workdir: Path, run: int) -> dict:
    port = capture.PORTS[engine]
    origin = f"http://127.0.0.1:{port}"
    script = workdir / "tracking.lua"
    script.write_text(WRK_SCRIPT)
    wrk = capture.loadgen.wrk_install()  # the Debian package, installed when missing (root)
    if wrk is None:
        raise SystemExit("bench/tracking.py needs wrk (apt-get install wrk)")
    completed = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{seconds:g}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"{origin}{path}",
            "--",
            f"b{os.getpid() % 10000:04d}r{run}",
            origin,
            batch_template(origin),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    out = completed.stdout
    counted = re.search(r"BENCH ok=(\d+) bad=(\d+)", out)
    took = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    if completed.returncode != 0 or counted is None or took is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {out}\n{completed.stderr}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
    elapsed = float(took.group(2)) * scale[took.group(3)]
    return {
        "ok": int(counted.group(1)),
        "bad": int(counted.group(2)),
        "seconds": elapsed,
        "mean_latency_ms": float(latency.group(1)) * scale[latency.group(2)] * 1000
        if latency
        else None,
    }


def ingest(engine: str, setup: dict, args, workdir: Path) -> dict:
    env = {**setup["env"], "LEADMILL_TRACKING_RATE_LIMIT_PER_IP": "1000000000"}
    setup = {**setup, "env": env}
    runs: dict[str, list[dict]] = {"collect": [], "bare": []}
    paths = {"collect": "/t/collect", "bare": "/bench/bare-events/"}
    with capture.Server(engine, setup, worker=False, workdir=workdir):
        wrk_run(engine, paths["collect"], 2, workdir, 0)  # warm up both paths
        wrk_run(engine, paths["bare"], 2, workdir, 0)
        for run in range(1, args.runs + 1):
            for target in ("collect", "bare"):
                before = event_count(engine, setup)
                result = wrk_run(engine, paths[target], args.seconds, workdir, run)
                time.sleep(1)
                stored = event_count(engine, setup) - before
                accepted = result["ok"] * BATCH
                result.update(
                    events_per_s=accepted / result["seconds"],
                    accepted=accepted,
                    stored=stored,
                    lost=max(0, accepted - stored),
                )
                runs[target].append(result)
                capture.log(
                    f"{engine} {target} run {run}: {result['events_per_s']:,.0f} events/s, "
                    f"non-2xx {result['bad']}, lost {result['lost']}"
                )
    collect = statistics.median(r["events_per_s"] for r in runs["collect"])
    bare = statistics.median(r["events_per_s"] for r in runs["bare"])
    return {
        "events_per_s": collect,
        "bare_events_per_s": bare,
        "ratio": collect / bare if bare else None,
        "lost": sum(r["lost"] for r in runs["collect"]) + sum(r["lost"] for r in runs["bare"]),
        "non_2xx": sum(r["bad"] for r in runs["collect"]),
        "mean_latency_ms": statistics.median(r["mean_latency_ms"] or 0 for r in runs["collect"]),
    }


# --- reads at scale (runs inside Django: python bench/tracking.py --django-reads N) ----------


def django_reads(events: int) -> dict:
    import django

    django.setup()
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from leadmill.contacts.models import Contact, LifecycleStage, StageChange
    from leadmill.core.registry import contact_timeline
    from leadmill.tracking.selectors import contact_attribution, contact_events

    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        [Contact(email=f"scale{i}@example.com", stage_changed_at=now) for i in range(20_000)],
        batch_size=5000,
    )
    target = contacts[len(contacts) // 2]
    StageChange.objects.create(
        contact=target, from_stage="", to_stage=LifecycleStage.LEAD, changed_at=now
    )
    first_id, last_id = contacts[0].pk, contacts[-1].pk
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tracking_event")
        have = cursor.fetchone()[0]
        missing = max(0, events - have - 300)
        # One row in three is anonymous; the rest spread over the 20,000 contacts; a year of time.
        cursor.execute(
            """
            INSERT INTO tracking_event (occurred_at, contact_id, type, name, url, referrer, properties,
                source, medium, campaign, term, content, channel, is_bot)
            SELECT %s - (g %% 31536000) * interval '1 second',
                   CASE WHEN g %% 3 = 0 THEN NULL ELSE %s + (g::bigint * 7919) %% %s END,
                   CASE WHEN g %% 4 = 0 THEN 'cta_click' ELSE 'page_view' END, '',
                   'https://www.example.com/p/' || (g %% 1000), '', '{}',
                   CASE WHEN g %% 4 = 1 THEN 'newsletter' ELSE '' END,
                   CASE WHEN g %% 4 = 1 THEN 'email' ELSE '' END, '', '', '',
                   CASE WHEN g %% 4 = 1 THEN 'email' WHEN g %% 4 = 2 THEN 'direct' ELSE '' END,
                   g %% 50 = 0
            FROM generate_series(1, %s) AS g
            """,
            [now, first_id, last_id - first_id + 1, missing],
        )
        cursor.execute(
            """
            INSERT INTO tracking_event (occurred_at, contact_id, type, name, url, referrer, properties,
                source, medium, campaign, term, content, channel, is_bot)
            SELECT %s - g * interval '1 hour', %s, CASE WHEN g %% 3 = 0 THEN 'cta_click' ELSE 'page_view' END,
                   '', 'https://www.example.com/offer', '', '{}', 'newsletter', 'email', 'nov', '', '',
                   CASE WHEN g %% 3 = 1 THEN 'email' ELSE '' END, false
            FROM generate_series(1, 300) AS g
            """,
            [now - dt.timedelta(minutes=1), target.pk],
        )
        cursor.execute("ANALYZE tracking_event")
        cursor.execute("SELECT count(*) FROM tracking_event")
        total = cursor.fetchone()[0]
    fill_s = time.monotonic() - started

    def median_ms(call, repeat: int = 50) -> float:
        call()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    timeline_ms = median_ms(lambda: contact_timeline(target.pk))
    attribution_ms = median_ms(lambda: contact_attribution(contact_id=target.pk))
    plans = {}
    with connection.cursor() as cursor:
        from leadmill.tracking.selectors import TIMELINE_TYPES

        for name, queryset in {
            "timeline": contact_events(contact_id=target.pk, types=TIMELINE_TYPES)[:200],
        }.items():
            sql, params = queryset.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plans[name] = [row[0] for row in cursor.fetchall()]
        from leadmill.tracking.models import Event
        from leadmill.tracking.selectors import NOT_TOUCHES, TOUCH_TYPES

        touches = (
            Event.objects.filter(contact_id=target.pk, type__in=TOUCH_TYPES, is_bot=False)
            .exclude(channel__in=NOT_TOUCHES)
            .order_by("occurred_at", "id")
        )
        sql, params = touches.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plans["touches"] = [row[0] for row in cursor.fetchall()]
    return {
        "events_in_table": total,
        "fill_s": fill_s,
        "timeline_ms": timeline_ms,
        "attribution_ms": attribution_ms,
        "timeline_entries": len(contact_timeline(target.pk)),
        "touches": len(contact_attribution(contact_id=target.pk)[0].touches),
        "plans": plans,
    }


def reads(setup: dict, events: int) -> dict:
    completed = subprocess.run(
        [capture.python(), str(Path(__file__).resolve()), "--django-reads", str(events)],
        env=setup["env"],
        cwd=setup["data_dir"],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"reads failed:\n{completed.stdout}\n{completed.stderr[-5000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--django-reads", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-reads", action="store_true")
    parser.add_argument(
        "--no-ingest", action="store_true", help="only the reads at scale (PostgreSQL)"
    )
    parser.add_argument("--engines", default="sqlite,pg", help="sqlite,pg (default both)")
    parser.add_argument(
        "--port-base",
        type=int,
        help=f"the SQLite server listens on this port, PostgreSQL's on the next "
        f"(default {capture.PORTS['sqlite']})",
    )
    parser.add_argument(
        "--ref",
        help="measure the leadmill package as committed at this git ref "
        "(default: the work tree as it is); the set-up is today's bench/capture_django.py, "
        "so a ref older than the settings it uses fails (073fbc7 does)",
    )
    args = parser.parse_args()
    if args.port_base:
        capture.PORTS.update(sqlite=args.port_base, pg=args.port_base + 1)
    if args.django_reads is not None:
        print(json.dumps(django_reads(args.django_reads)))
        return 0
    args.runs, args.seconds = (1, 5) if args.quick else (3, 10)
    events = args.events or (1_000_000 if args.quick else 10_000_000)
    wanted = {name.strip() for name in args.engines.split(",")}
    engines = [e for e in ("sqlite", "pg") if e in wanted and (e != "pg" or capture.pg_available())]
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="leadmill-bench-tracking-") as tmp:
        workdir = Path(tmp)
        if args.ref:
            capture.SOURCE = capture.export_ref(capture.git_state(args.ref), workdir)
        prepared = capture.prepare(engines, workdir)
        try:
            for engine in [] if args.no_ingest else engines:
                out[engine] = ingest(engine, prepared[engine], args, workdir)
            if "pg" in engines and not args.no_reads:
                out["reads"] = reads(prepared["pg"], events)
        finally:
            if "pg" in engines:
                capture.pg_admin(f'DROP DATABASE IF EXISTS "{capture.PG_DB}" WITH (FORCE)')
    print(
        f"{'engine':8} {'collect ev/s':>13} {'bare ev/s':>11} {'ratio':>6} {'lost':>5} {'non-2xx':>8}"
    )
    for engine in [engine for engine in engines if engine in out]:
        r = out[engine]
        print(
            f"{engine:8} {r['events_per_s']:>13,.0f} {r['bare_events_per_s']:>11,.0f} {r['ratio']:>6.2f} "
            f"{r['lost']:>5} {r['non_2xx']:>8}"
        )
    if "reads" in out:
        r = out["reads"]
        print(
            f"\n{r['events_in_table']:,} events in the table (filled in {r['fill_s']:.0f} s): "
            f"timeline {r['timeline_ms']:.1f} ms ({r['timeline_entries']} entries), "
            f"attribution {r['attribution_ms']:.1f} ms ({r['touches']} touches), median of 50"
        )
        for name, plan in r["plans"].items():
            print(f"EXPLAIN {name}:\n  " + "\n  ".join(plan))
    pg, lite, rd = out.get("pg", {}), out.get("sqlite", {}), out.get("reads", {})
    summary = {
        "events_per_s_pg": round(pg["events_per_s"]) if pg else None,
        "events_per_s_sqlite": round(lite["events_per_s"]) if lite else None,
        "bare_events_per_s_pg": round(pg["bare_events_per_s"]) if pg else None,
        "bare_events_per_s_sqlite": round(lite["bare_events_per_s"]) if lite else None,
        "ratio_pg": round(pg["ratio"], 3) if pg else None,
        "ratio_sqlite": round(lite["ratio"], 3) if lite else None,
        "lost": (lite["lost"] if lite else 0) + (pg["lost"] if pg else 0),
        "timeline_ms_10m": round(rd["timeline_ms"], 2) if rd else None,
        "attribution_ms_10m": round(rd["attribution_ms"], 2) if rd else None,
        "events_in_table": rd.get("events_in_table"),
        "batch": BATCH,
        "connections": CONNECTIONS,
        "quick": args.quick,
        "commit": capture.git_state(args.ref),
        "goals": {"ratio": GOAL_RATIO, "events_per_s_pg": GOAL_EVENTS_PG, "read_ms": GOAL_READ_MS},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

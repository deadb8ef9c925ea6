"""The funnel's breakdowns that are not plain daily counts, on PostgreSQL: by segment
(counted when read, ADR 59) and by source under attribution models other than first touch
(fractional credits from the raw journeys, ADR 60), beside the served first-touch and CTA
breakdowns, and the fill's rate once the leads have journeys and CTA clicks.

    python bench/analytics_breakdowns.py             100,000 contacts, 1,000,000 events
    python bench/analytics_breakdowns.py --quick     20,000 contacts, 200,000 events
    python bench/analytics_breakdowns.py --contacts 1000000 --events 10000000   (the goal)

The data set is bench/analytics.py's, and then: half the page views belong to a lead (5
channels), a fifth of the leads clicked a CTA ten minutes before they came in, and three
segments (a dynamic one of a third of the leads, a dynamic one of a fifth, a static list of
a tenth). Each view over the last 30 days, median of 5 as served (the stored counts and
credits, ADR 65, plus today's raw tail, kept a minute: cleared before each view, so its
first run, "cold", counts today from the raw rows), and once "raw" (the fill state
forgotten for the run: every day from the raw tables and journeys, ADR 60). Checks
(``mismatches`` must be empty): each served answer equals the raw one (credits to 1e-9,
floats summed in another order), and every model's credits add up to the period's leads.
``BENCH_SKIP_RAW=1``: served views only, no raw reading nor served = raw check (at the goal
size the raw readings take longer than the rest of the run). Last line: JSON.
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

import analytics  # noqa: E402
import capture  # noqa: E402
import fresh_pg  # noqa: E402

capture.PORTS = {"sqlite": 19150, "pg": 19151}
capture.PG_DB = f"leadmill_bench_breakdowns_{os.getpid()}"
RUNS = 5


def seed(contacts: int, events: int) -> None:
    from django.db import connection

    from leadmill.segments.models import Segment, SegmentMember

    analytics.seed(contacts, events)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM contacts_contact")
        first = cursor.fetchone()[0]
        cursor.execute(
            f"""
            UPDATE tracking_event SET contact_id = {first} + id % {contacts},
                channel = (ARRAY['paid_search', 'organic_search', 'paid_social', 'email',
                                 'referral'])[1 + id % 5]
            WHERE id % 2 = 0
            """  # noqa: S608 -- numbers only
        )
        cursor.execute(
            """
            INSERT INTO tracking_event (occurred_at, visitor_id, contact_id, type, name, url,
                referrer, properties, source, medium, campaign, term, content, channel, is_bot)
            SELECT created_at - interval '10 minutes', NULL, id, 'cta_click',
                   '/c/cta-' || (id % 5) || '/', '', '', '{}', '', '', '', '', '', '', false
            FROM contacts_contact WHERE id % 5 = 0
            """
        )
        cursor.execute("ANALYZE")
    Segment.objects.create(
        name="Brazil",
        definition={
            "match": "all",
            "conditions": [{"field": "country", "op": "equals", "value": "BR"}],
        },
    )
    Segment.objects.create(
        name="Email first",
        definition={
            "match": "all",
            "conditions": [{"field": "first_channel", "op": "equals", "value": "email"}],
        },
    )
    listed = Segment.objects.create(name="Listed", kind=Segment.Kind.STATIC)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {SegmentMember._meta.db_table} (segment_id, contact_id, added_at)
            SELECT {listed.pk}, id, now() FROM contacts_contact WHERE id % 10 = 0
            """  # noqa: S608 -- numbers only
        )
        cursor.execute("ANALYZE")


def django_run(contacts: int, events: int) -> dict:
    import datetime as dt

    import django

    django.setup()
    from django.utils import timezone

    from leadmill.analytics import selectors
    from leadmill.analytics.quality import quality
    from leadmill.analytics.services import counts_fill

    started = time.perf_counter()
    seed(contacts, events)
    print(f"seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    fill_s = analytics.fill_timed(counts_fill, lines=45)

    until = timezone.localdate()
    since = until - dt.timedelta(days=29)
    period = {"since": since, "until": until}
    views = {
        "funnel_by_source": lambda: selectors.funnel(**period, group_by="source"),
        "funnel_by_cta": lambda: selectors.funnel(**period, group_by="cta"),
        "funnel_by_segment": lambda: selectors.funnel(**period, group_by="segment"),
        **{
            f"funnel_by_source_{model}": (
                lambda model=model: selectors.funnel(**period, group_by="source", attribution=model)
            )
            for model in ("last_touch", "linear", "u_shaped", "time_decay")
        },
        # one model for quality: its counts are the funnel's credits; its scores are its own
        "quality_by_source_linear": lambda: quality(
            **period, group_by="source", attribution="linear"
        ),
    }
    if os.environ.get("BENCH_PROFILE", "fill") != "fill":  # a view's time: BENCH_PROFILE=<view>
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(views[os.environ["BENCH_PROFILE"]])
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    if os.environ.get("BENCH_EXPLAIN"):  # the slowest statements of views (a,b), explained
        for name in os.environ["BENCH_EXPLAIN"].split(","):
            print(f"=== {name}", file=sys.stderr)
            explain(views[name], raw=os.environ.get("BENCH_RAW") == "1")
    from django.core.cache import cache

    from leadmill.analytics.models import FillState
    from leadmill.analytics.services import COUNTS

    state = FillState.objects.get(name=COUNTS)
    medians, colds, raw_ms, answers, mismatches = {}, {}, {}, {}, []
    for name, function in views.items():
        cache.clear()  # the first run counts today's tail; the next ones reuse it
        times = []
        for _ in range(RUNS):
            begun = time.perf_counter()
            answers[name] = function()
            times.append((time.perf_counter() - begun) * 1000)
        medians[name], colds[name] = statistics.median(times), times[0]
        if os.environ.get("BENCH_SKIP_RAW") == "1":  # served only (the goal size's raw: long)
            print(
                f"{name}: served {medians[name]:.1f} ms (cold {colds[name]:.1f} ms)",
                file=sys.stderr,
                flush=True,
            )
            continue
        FillState.objects.filter(pk=state.pk).update(filled_until=None)  # every day from raw
        begun = time.perf_counter()
        raw = function()
        raw_ms[name] = (time.perf_counter() - begun) * 1000
        FillState.objects.filter(pk=state.pk).update(filled_until=state.filled_until)
        if not _same(answers[name], raw):
            mismatches.append(name)
        print(
            f"{name}: served {medians[name]:.1f} ms (cold {colds[name]:.1f} ms),"
            f" raw {raw_ms[name]:.1f} ms",
            file=sys.stderr,
            flush=True,
        )
    leads = answers["funnel_by_source"]["total"]["leads"]
    mismatches += [
        f"{name} (credits do not add up)"
        for name, answer in answers.items()
        if name.startswith(("funnel_by_source", "quality"))
        and abs(sum(row["leads"] for row in answer["rows"]) - leads) > 1e-6
    ]
    return {
        "views": medians,
        "views_cold": colds,
        "raw_ms": raw_ms,
        "leads_in_period": leads,
        "fill_s": fill_s,
        "mismatches": mismatches,
    }


def explain(function, *, raw: bool) -> None:
    """Run ``function`` (``raw``: with the fill state forgotten, as the raw reading) and
    print ``EXPLAIN ANALYZE`` of its three slowest statements."""
    from django.core.cache import cache
    from django.db import connection

    from leadmill.analytics.models import FillState
    from leadmill.analytics.services import COUNTS

    statements = []

    def record(execute, sql, params, many, context):
        begun = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if not many:
                statements.append((time.perf_counter() - begun, sql, params))

    state = FillState.objects.get(name=COUNTS)
    if raw:
        FillState.objects.filter(pk=state.pk).update(filled_until=None)
    cache.clear()
    with connection.execute_wrapper(record):
        function()
    if raw:
        FillState.objects.filter(pk=state.pk).update(filled_until=state.filled_until)
    for seconds, sql, params in sorted(statements, key=lambda row: -row[0])[:3]:
        print(f"--- {seconds * 1000:.1f} ms: {sql[:300]}", file=sys.stderr)
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            for (line,) in cursor.fetchall():
                print(line, file=sys.stderr)
            cursor.execute("RESET jit")


def _same(served, raw) -> bool:
    """Equal, credits (floats) to 1e-9 and money from credits to a millionth of a cent."""
    from decimal import Decimal

    if isinstance(raw, dict):
        return (
            isinstance(served, dict)
            and set(served) == set(raw)
            and all(_same(served[key], raw[key]) for key in raw)
        )
    if isinstance(raw, list):
        return (
            isinstance(served, list)
            and len(served) == len(raw)
            and all(_same(left, right) for left, right in zip(served, raw, strict=True))
        )
    if isinstance(raw, float) or (isinstance(raw, Decimal) and isinstance(served, Decimal)):
        return abs(float(served) - float(raw)) <= 1e-9 * max(1.0, abs(float(raw)))
    return served == raw


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--contacts", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--django", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.django:
        print(json.dumps(django_run(*args.django)))
        return 0
    contacts = args.contacts or (20_000 if args.quick else 100_000)
    events = args.events or (200_000 if args.quick else 1_000_000)
    if not capture.pg_available():
        return 1
    measured = fresh_pg.django_run_in_fresh_pg(
        __file__, [str(contacts), str(events)], timeout=6 * 3600
    )
    figures = {
        "bench": "analytics_breakdowns",
        "engine": "postgresql",
        "contacts": contacts,
        "events": events + contacts // 5,
        "runs_per_view": RUNS,
        "leads_in_period": measured["leads_in_period"],
        "views": {name: round(ms, 1) for name, ms in measured["views"].items()},
        "views_cold": {name: round(ms, 1) for name, ms in measured["views_cold"].items()},
        "raw_ms": {name: round(ms, 1) for name, ms in measured["raw_ms"].items()},
        "max_view_ms": round(max(measured["views"].values()), 1),
        "fill_events_per_s": round((events + contacts // 5) / measured["fill_s"]),
        "mismatches": measured["mismatches"],
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }
    print(json.dumps(figures))
    return 0 if not measured["mismatches"] else 1


if __name__ == "__main__":
    sys.exit(main())

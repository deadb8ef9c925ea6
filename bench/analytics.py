"""Analytics benchmark: each dashboard view and analytics API read, from the daily counts
(the rollup plus the raw tail, as served), beside the same numbers computed straight from
the raw tables, on PostgreSQL; the rollup fill's rate beside the ingest goal.

    python bench/analytics.py                1,000,000 contacts, 10,000,000 events (the goal)
    python bench/analytics.py --quick        20,000 contacts, 200,000 events
    python bench/analytics.py --contacts N --events M

1. A fresh PostgreSQL database, migrated (bench/capture.py's helpers).
2. Inside Django: N contacts over the last 90 days (ORM bulk_create, then their creation
   dates spread by one UPDATE), first touches over 5 channels and 20 sources; stage
   changes for 30 % (MQL), 10 % (SQL), 3 % (customer, won with a value); M page views
   (INSERT ... SELECT generate_series, 1 % bots) by M/5 visitors over 20 landing pages;
   for one form, shown on one of them: M/40 form views and the starts, field events and
   posts that follow (``FORM_STEPS``: about 6 % of the M events; the page views are the
   rest); spend per day and source.
3. The fill (``counts_fill``) is timed from nothing: events/s = events / seconds.
4. Each view, median of 5 runs, as served (rollup + today's raw tail, the tail kept a
   minute in the shared cache, ADR 61: the kept tail is cleared before each view, so its
   first run, reported as "cold", counts today from the raw rows) and "raw" (the fill
   state forgotten for the run, so every day is counted from the raw tables by the same
   function the fill uses); the two answers are compared (``mismatches`` must be 0): equal,
   except the landing pages' unique visitors and rate over the 30 days, an estimate from
   merged daily sketches (ADR 56), which must be within 1 % of the raw, exact count.
   A form's report is served from the stored browser days plus today's tail (ADR 64) and
   compared with its raw reading (``form_report_raw``, what it answers with no fill state).

Ends with one line of JSON: ``max_view_ms``, ``views``, ``views_cold`` (each view's first
run, nothing kept), ``max_cold_view_ms``, ``raw_ms``, ``speedup_min``
(over the views served from the rollup), ``fill_events_per_s``, ``mismatches``,
``unique_visitors_max_error_pct``, ``load_average``.
Goals (issue 15): every view under 200 ms at 10M events, >= 10x the raw query, the fill at
least 30,000 events/s.
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

capture.PORTS = {"sqlite": 19140, "pg": 19141}
capture.PG_DB = f"leadmill_bench_analytics_{os.getpid()}"
INGEST_GOAL = 30_000  # events/s (the tracking issue's goal on PostgreSQL)
DAYS = 90
RUNS = 5
CHANNELS = ("paid_search", "organic_search", "paid_social", "email", "referral")


def seed(contacts: int, events: int) -> None:
    """The data set (see the module docstring), written as fast as PostgreSQL takes it."""
    import random
    from decimal import Decimal

    from django.db import connection, transaction

    from leadmill.analytics.models import Spend
    from leadmill.capture.models import FieldKind, Form, FormField
    from leadmill.contacts.models import Contact

    rng = random.Random(42)
    form = Form.objects.create(slug="bench", name="Bench form")
    for order, kind in enumerate((FieldKind.EMAIL, FieldKind.FIRST_NAME, FieldKind.PHONE)):
        FormField.objects.create(form=form, kind=kind, sort_order=order)
    batch = []
    with transaction.atomic():
        for n in range(contacts):
            channel = CHANNELS[n % len(CHANNELS)]
            batch.append(
                Contact(
                    email=f"lead{n}@bench.example",
                    first_channel=channel,
                    first_source=f"{channel}-{n % 20}",
                    first_campaign=f"c{n % 7}",
                    first_landing_url=f"https://www.example.com/p/{n % 20}/",
                    country=("BR", "PT", "US")[n % 3],
                )
            )
            if len(batch) == 5000:
                Contact.objects.bulk_create(batch)
                batch = []
        Contact.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE contacts_contact SET created_at = now() - (id % {DAYS}) * interval '1 day'"  # noqa: S608
            " - (id % 86400) * interval '1 second'"
        )
        cursor.execute("ANALYZE contacts_contact")  # else the joins below plan for an empty table
        for to_stage, modulo, lag in (("mql", 3, 1), ("sql", 10, 5), ("customer", 33, 20)):
            cursor.execute(
                f"""
                INSERT INTO contacts_stagechange (contact_id, from_stage, to_stage, changed_at, cause)
                SELECT id, '', '{to_stage}', created_at + (id % {lag * 2 + 1}) * interval '1 day'
                       + interval '1 hour', 'bench'
                FROM contacts_contact WHERE id % {modulo} = 0
                  AND created_at + (id % {lag * 2 + 1}) * interval '1 day' + interval '1 hour' < now()
                """  # noqa: S608 -- constants only
            )
        cursor.execute("ANALYZE contacts_stagechange")
        cursor.execute(
            "UPDATE contacts_contact c SET outcome = 'won', outcome_value = 100 + c.id % 900,"
            " outcome_at = s.changed_at FROM contacts_stagechange s"
            " WHERE s.contact_id = c.id AND s.to_stage = 'customer'"
        )
        visitors = max(1, events // 5)
        cursor.execute(
            f"""
            INSERT INTO tracking_visitor (id, first_seen, last_seen, is_bot)
            SELECT 'v' || lpad(g::text, 15, '0'), now() - interval '{DAYS} days', now(), g % 100 = 0
            FROM generate_series(1, {visitors}) AS g
            """  # noqa: S608
        )
        form_events = seed_form(cursor, form_id=form.pk, sessions=events // 40, visitors=visitors)
        page_views = events - form_events
        cursor.execute(
            f"""
            INSERT INTO tracking_event (occurred_at, visitor_id, contact_id, type, name, url, referrer,
                properties, source, medium, campaign, term, content, channel, is_bot)
            SELECT now() - (g % ({DAYS} * 86400)) * interval '1 second',
                   'v' || lpad((g % {visitors} + 1)::text, 15, '0'), NULL, 'page_view', '',
                   'https://www.example.com/p/' || (g % 20) || '/?utm_source=x', '', '{{}}',
                   'src-' || (g % 20), '', '', '', '', 'paid_search', g % 100 = 1
            FROM generate_series(1, {page_views}) AS g
            """  # noqa: S608
        )
        # The seed rewrote every contact (creation dates, outcomes): vacuumed, as autovacuum
        # (on in production, docs/deployment.md) would have done, so that reads do not wade
        # through a million dead row versions the machine's PostgreSQL (autovacuum off)
        # would otherwise keep.
        cursor.execute("VACUUM ANALYZE")
    Spend.objects.bulk_create(
        Spend(
            day=day,
            channel=channel,
            source=f"{channel}-{n}",
            amount=Decimal(rng.randint(10, 500)),
            currency="USD",
        )
        for day in _days()
        for channel in CHANNELS
        for n in range(4)
    )


# A form session's steps, s its number: (event type, seconds after the view, the field
# touched, the share of sessions as "s % 20 < n"). Of the views, 45 % start the form; of
# the starters every one reaches the email field, 78 % the first name, 67 % the phone, and
# 56 % post it (5 in 9), one post in ten refused for its phone number.
FORM_STEPS = (
    ("form_view", 0, "", 20),
    ("form_start", 5, "", 9),
    ("form_field", 5, "email", 9),
    ("form_field", 15, "first_name", 7),
    ("form_field", 25, "phone", 6),
)
POSTED = 5  # sessions with s % 20 < 5 post the form, 45 s after the view


def seed_form(cursor, *, form_id: int, sessions: int, visitors: int) -> int:
    """The bench form's events and posts: ``sessions`` views of the form (shown on the
    landing page /p/0/, by the same visitors as the page views, 1 % of them bots' events)
    and the starts, field events and posts that follow in the proportions of
    :data:`FORM_STEPS`. An accepted post is the first form of a lead (its contact), and a
    conversion of /p/0/. Returns the number of events written (they count in the bench's
    events: the page views are the rest)."""
    moment = f"now() - (60 + (s * 97) % ({DAYS} * 86400 - 3600)) * interval '1 second'"
    visitor = f"'v' || lpad(((s * 7) % {visitors} + 1)::text, 15, '0')"
    steps = " UNION ALL ".join(
        f"SELECT '{kind}' AS kind, {offset} AS offset_s, '{field}' AS field, {share} AS share"
        for kind, offset, field, share in FORM_STEPS
    )
    cursor.execute(
        f"""
        INSERT INTO tracking_event (occurred_at, visitor_id, contact_id, type, name, url, referrer,
            properties, source, medium, campaign, term, content, channel, is_bot)
        SELECT {moment} + step.offset_s * interval '1 second', {visitor}, NULL, step.kind,
               'bench', 'https://www.example.com/p/0/', '',
               CASE WHEN step.field = '' THEN '{{}}'::jsonb
                    ELSE jsonb_build_object('field', step.field, 'action', 'focus') END,
               '', '', '', '', '', '', s % 100 = 1
        FROM generate_series(1, {sessions}) AS s, ({steps}) AS step
        WHERE s % 20 < step.share
        """  # noqa: S608 -- constants only
    )
    written = cursor.rowcount
    cursor.execute("SELECT min(id), count(*) FROM contacts_contact")
    first_contact, contacts = cursor.fetchone()
    cursor.execute(
        f"""
        INSERT INTO capture_submission (status, data, "values", errors, spam_reason, page_url,
            referrer, utm_source, utm_medium, utm_campaign, utm_term, utm_content, user_agent,
            created_at, visitor_id, form_id, contact_id, channel)
        SELECT CASE WHEN (s / 20) % 10 = 0 THEN 'rejected' ELSE 'accepted' END, '{{}}', '{{}}',
               CASE WHEN (s / 20) % 10 = 0
                    THEN '{{"phone": ["Enter a valid phone number."]}}'::jsonb
                    ELSE '{{}}'::jsonb END,
               '', 'https://www.example.com/p/0/?utm_source=x', '', 'x', '', '', '', '', '',
               {moment} + interval '45 seconds', {visitor}, {form_id},
               CASE WHEN (s / 20) % 10 = 0 THEN NULL
                    ELSE {first_contact} + (s * 7919) % {contacts} END,
               'web_form'
        FROM generate_series(1, {sessions}) AS s
        WHERE s % 20 < {POSTED} AND {moment} + interval '45 seconds' < now()
        """  # noqa: S608 -- constants only
    )
    cursor.execute("ANALYZE capture_submission")
    return written


def _days():
    import datetime as dt

    from django.utils import timezone

    today = timezone.localdate()
    return [today - dt.timedelta(days=n) for n in range(DAYS, -1, -1)]


def views() -> dict:
    """The views a marketer opens, as callables answering plain data to compare."""
    import datetime as dt

    from django.utils import timezone

    from leadmill.analytics import selectors
    from leadmill.analytics.form_report import form_report
    from leadmill.analytics.landing_pages import page_report
    from leadmill.analytics.models import Metric
    from leadmill.analytics.quality import quality
    from leadmill.capture.models import Form

    until = timezone.localdate()
    since = until - dt.timedelta(days=29)
    form = Form.objects.get(slug="bench")
    rolled = {
        "funnel_total": lambda: selectors.funnel(since=since, until=until),
        "funnel_by_source": lambda: selectors.funnel(since=since, until=until, group_by="source"),
        "funnel_activity_by_channel": lambda: selectors.funnel(
            since=since, until=until, group_by="channel", reading="activity"
        ),
        "leads_per_day_by_channel": lambda: selectors.daily(
            metric=Metric.LEADS, since=since, until=until, group_by="channel"
        ),
        "quality_by_source": lambda: quality(since=since, until=until, group_by="source"),
        "landing_pages": lambda: page_report(since=since, until=until),
        "form": lambda: form_report(form=form, since=since, until=until),
    }
    raw_only: dict = {}  # views that read raw rows only (none since ADR 64)
    return rolled, raw_only


def _plain(value):
    """An answer as JSON text to compare (dates, decimals and date keys as text)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value if isinstance(value, int | float | str | None) else str(value)


APPROXIMATE = 0.01  # an estimated distinct count may be this far from the exact one


def _same(name: str, served, raw) -> bool:
    """Whether the served answer is the raw one: equal, except the landing pages' unique
    visitors and rate, estimated over several days (ADR 56), which must be within 1 %."""
    if name != "landing_pages":
        return json.dumps(_plain(served), sort_keys=True) == json.dumps(_plain(raw), sort_keys=True)
    if served["weeks"] != raw["weeks"] or len(served["rows"]) != len(raw["rows"]):
        return False
    for mine, exact in zip(served["rows"], raw["rows"], strict=True):
        if (mine["page"], mine["views"], mine["conversions"]) != (
            exact["page"],
            exact["views"],
            exact["conversions"],
        ):
            return False
        for key in ("unique_visitors", "conversion_rate"):
            if (mine[key] is None) != (exact[key] is None):
                return False
            if exact[key] and abs(mine[key] - exact[key]) > APPROXIMATE * exact[key]:
                return False
    return True


def _largest_error(served, raw) -> float:
    """The largest relative error of the estimated unique visitors, over the pages."""
    return max(
        (
            abs(mine["unique_visitors"] - exact["unique_visitors"]) / exact["unique_visitors"]
            for mine, exact in zip(served["rows"], raw["rows"], strict=True)
            if exact["unique_visitors"]
        ),
        default=0.0,
    )


def _timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    answer = function()
    return (time.perf_counter() - started) * 1000, answer


def fill_timed(counts_fill, *, lines: int = 40) -> float:
    """The fill from nothing, timed (seconds); ``BENCH_PROFILE=fill`` prints where it spends
    its time (the rate is then inflated by the profiler)."""
    started = time.perf_counter()
    if os.environ.get("BENCH_PROFILE") == "fill":
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(counts_fill)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(lines)
    else:
        counts_fill()
    fill_s = time.perf_counter() - started
    print(f"filled in {fill_s:.1f} s", file=sys.stderr, flush=True)
    return fill_s


def django_run(contacts: int, events: int) -> dict:
    """Inside Django (``python bench/analytics.py --django CONTACTS EVENTS``)."""
    import django

    django.setup()
    from django.core.cache import cache

    from leadmill.analytics.models import FillState
    from leadmill.analytics.services import COUNTS, counts_fill

    started = time.perf_counter()
    seed(contacts, events)
    seed_s = time.perf_counter() - started
    print(f"seeded in {seed_s:.1f} s", file=sys.stderr, flush=True)
    fill_s = fill_timed(counts_fill)

    rolled, raw_only = views()
    if os.environ.get("BENCH_PROFILE") == "view":  # where a served view spends its time
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(rolled["funnel_total"])
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM analytics_dailycount")
            print(f"daily count rows: {cursor.fetchone()[0]}", file=sys.stderr, flush=True)
    served_ms, cold_ms, raw_ms, mismatches, unique_error = {}, {}, {}, [], 0.0
    state = FillState.objects.get(name=COUNTS)
    for name, function in {**rolled, **raw_only}.items():
        cache.clear()  # the first run counts today's tail (nothing kept); the next reuse it
        times, answer = [], None
        for _ in range(RUNS):
            ms, answer = _timed(function)
            times.append(ms)
        served_ms[name] = statistics.median(times)
        cold_ms[name] = times[0]
        FillState.objects.filter(pk=state.pk).update(filled_until=None)  # every day from raw
        raw_times, raw_answer = [], None
        for _ in range(RUNS if name in raw_only else 1):
            ms, raw_answer = _timed(function)
            raw_times.append(ms)
        FillState.objects.filter(pk=state.pk).update(filled_until=state.filled_until)
        raw_ms[name] = statistics.median(raw_times)
        if not _same(name, answer, raw_answer):
            mismatches.append(name)
        if name == "landing_pages":
            unique_error = _largest_error(answer, raw_answer)
        print(
            f"{name}: served {served_ms[name]:.1f} ms (cold {cold_ms[name]:.1f} ms),"
            f" raw {raw_ms[name]:.1f} ms",
            file=sys.stderr,
            flush=True,
        )
    return {
        "served_ms": served_ms,
        "cold_ms": cold_ms,
        "raw_ms": raw_ms,
        "rolled": list(rolled),
        "mismatches": mismatches,
        "unique_visitors_error": unique_error,
        "fill_s": fill_s,
        "seed_s": seed_s,
    }


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
    contacts = args.contacts or (20_000 if args.quick else 1_000_000)
    events = args.events or (200_000 if args.quick else 10_000_000)
    if not capture.pg_available():
        return 1
    measured = fresh_pg.django_run_in_fresh_pg(
        __file__, [str(contacts), str(events)], timeout=6 * 3600
    )
    served, raw = measured["served_ms"], measured["raw_ms"]
    speedups = {name: raw[name] / served[name] for name in measured["rolled"] if served[name]}
    figures = {
        "bench": "analytics",
        "engine": "postgresql",
        "contacts": contacts,
        "events": events,
        "runs_per_view": RUNS,
        "views": {name: round(ms, 1) for name, ms in served.items()},
        "views_cold": {name: round(ms, 1) for name, ms in measured["cold_ms"].items()},
        "raw_ms": {name: round(ms, 1) for name, ms in raw.items()},
        "max_view_ms": round(max(served.values()), 1),
        "max_cold_view_ms": round(max(measured["cold_ms"].values()), 1),
        "speedup_min": round(min(speedups.values()), 2),
        "fill_events_per_s": round(events / measured["fill_s"]),
        "ingest_goal_events_per_s": INGEST_GOAL,
        "mismatches": len(measured["mismatches"]),
        "mismatched_views": measured["mismatches"],
        "unique_visitors_max_error_pct": round(100 * measured["unique_visitors_error"], 3),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }
    cold = measured["cold_ms"]
    print(f"{'view':<30}{'served ms':>12}{'cold ms':>10}{'raw ms':>12}{'speed-up':>10}")
    for name in served:
        speedup = f"{speedups[name]:.1f}x" if name in speedups else "raw only"
        print(f"{name:<30}{served[name]:>12.1f}{cold[name]:>10.1f}{raw[name]:>12.1f}{speedup:>10}")
    print(f"fill: {figures['fill_events_per_s']:,} events/s (goal {INGEST_GOAL:,})")
    print(
        "landing pages' unique visitors (estimated over 30 days): largest error "
        f"{figures['unique_visitors_max_error_pct']} % (goal under 1 %)"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

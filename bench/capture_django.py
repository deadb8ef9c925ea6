"""The Django side of bench/capture.py, run in a subprocess with the benchmark's environment
(``DATABASE_URL``, ``LEADMILL_DATA_DIR``, raised rate limits).

    python bench/capture_django.py setup [N]       create the bench form, the bare table and
                                                   a pool of N render tokens
    python bench/capture_django.py queries         the SQL of one form post, counted by kind
    python bench/capture_django.py profile [N]     cProfile of N form posts in one process

Each prints one JSON object on its last line (``profile`` prints its report before it).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")

import django  # noqa: E402

django.setup()

from bench_urls import BARE_TABLE  # noqa: E402
from django.db import connection  # noqa: E402

FORM_SLUG = "bench"
PURPOSE_KEY = "marketing"


TOKENS_FILE = "render-tokens.txt"


def setup(pool: int) -> dict:
    """The form every post goes to (email + first name, one optional consent box) and the
    plain table of the bare view. Returns the ids, a render token seen 10 s ago, and the
    file of a pool of ``pool`` more (URL-quoted, one a line): each its own render of the
    form seen 10 s ago, as every visitor gets one, so no token is posted more often than
    the server's LEADMILL_FORM_TOKEN_POSTS (returned too) lets a person post."""
    from urllib.parse import quote

    from django.conf import settings

    from leadmill.capture.models import FieldKind, Form, FormConsent, FormField
    from leadmill.capture.tokens import render_token_make
    from leadmill.consent.services import purpose_ensure

    purpose = purpose_ensure(
        key=PURPOSE_KEY,
        name="Marketing email",
        text="Send me the occasional email about new guides and offers.",
        is_email_marketing=True,
    )
    form = Form.objects.create(name="Bench", slug=FORM_SLUG)
    FormField.objects.create(form=form, kind=FieldKind.EMAIL, required=True, sort_order=0)
    FormField.objects.create(form=form, kind=FieldKind.FIRST_NAME, sort_order=1)
    FormConsent.objects.create(form=form, purpose=purpose, sort_order=0)
    key = (
        "integer PRIMARY KEY AUTOINCREMENT"
        if connection.vendor == "sqlite"
        else "bigserial PRIMARY KEY"
    )
    stamp = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {BARE_TABLE} (id {key}, email varchar(254) NOT NULL, "  # noqa: S608
            f"first_name varchar(100) NOT NULL, consent boolean NOT NULL, created_at {stamp} NOT NULL)"
        )
    seen = time.time() - 10
    tokens_file = Path(settings.DATA_DIR) / TOKENS_FILE
    tokens_file.write_text(
        "".join(
            quote(render_token_make(form_id=form.pk, at=seen), safe="") + "\n" for _ in range(pool)
        )
    )
    return {
        "form_id": form.pk,
        "consent_field": f"consent_{purpose.key}",
        "token": render_token_make(form_id=form.pk, at=seen),
        "tokens_file": str(tokens_file),
        "tokens": pool,
        "token_posts": settings.LEADMILL_FORM_TOKEN_POSTS,
        "vendor": connection.vendor,
    }


_form_ids: dict[str, int] = {}


def _post(client, email: str):
    """One valid post of the bench form, as a page's embed sends it (JSON answer wanted).
    The form id is looked up once, so a measured post holds only the view's own queries."""
    from leadmill.capture.models import Form
    from leadmill.capture.tokens import render_token_make

    if FORM_SLUG not in _form_ids:
        _form_ids[FORM_SLUG] = Form.objects.get(slug=FORM_SLUG).pk
    return client.post(
        f"/f/{FORM_SLUG}/",
        data=urlencode(
            {
                "email": email,
                "first_name": "Ana",
                f"consent_{PURPOSE_KEY}": "on",
                "_rt": render_token_make(form_id=_form_ids[FORM_SLUG], at=time.time() - 10),
            }
        ),
        content_type="application/x-www-form-urlencoded",  # as wrk posts it
        HTTP_ACCEPT="application/json",
        HTTP_X_FORWARDED_FOR=_next_ip(),  # one address per post, as bench/capture.py's load does
    )


_ip_counter = iter(range(1, 2**24))


def _next_ip() -> str:
    n = next(_ip_counter)
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def _kind(sql: str) -> str:
    return sql.lstrip().split(" ", 1)[0].upper()


_TABLE = re.compile(
    r'^\s*(?:SELECT .*? FROM|INSERT(?: OR IGNORE)? INTO|UPDATE|DELETE FROM)\s+"?(\w+)"?', re.S
)


def _table(sql: str) -> str:
    """The table a statement reads or writes first; transaction control as its own kind."""
    match = _TABLE.match(sql)
    return match.group(1) if match else "(transaction control)"


def queries() -> dict:
    """The SQL one form post sends to the database (Huey's enqueue goes to its own store and
    is not in it). Measured after a warm-up post, for a new contact at a business domain
    whose company exists, and for a new contact at a free-mail domain."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    stamp = f"{os.getpid()}{int(time.time() * 1000)}"
    _post(client, f"warm{stamp}@corpq.example.com")
    result: dict = {}
    for label, email in (
        ("business", f"q{stamp}@corpq.example.com"),
        ("free_mail", f"q{stamp}@gmail.com"),
    ):
        with CaptureQueriesContext(connection) as captured:
            response = _post(client, email)
        sqls = [q["sql"] for q in captured.captured_queries]
        result[label] = {
            "status": response.status_code,
            "queries": len(sqls),
            "by_kind": dict(Counter(_kind(s) for s in sqls)),
            "by_table": dict(Counter(_table(s) for s in sqls).most_common()),
            "sql": [re.sub(r"\s+", " ", s)[:220] for s in sqls],
        }
    return result


# Where a form post spends its time: (file suffix, function) -> label, in call order.
HOT_SPOTS = (
    (("capture/views.py", "form_post"), "form_post: the whole view"),
    (("capture/views.py", "rate_limit_retry_after"), "  per-form limit (count read once a second)"),
    (("capture/views.py", "_request_data"), "  request.POST parsing"),
    (("capture/services.py", "submission_receive"), "  submission_receive"),
    (("capture/services.py", "_submission_check"), "    _submission_check (spam, validation)"),
    (("capture/tokens.py", "render_token_read"), "      render token check"),
    (("django/forms/forms.py", "full_clean"), "      Django form validation"),
    (("contacts/identity.py", "email_normalise"), "        email_normalise (email-validator)"),
    (("capture/services.py", "_submission_insert"), "    _submission_insert (the one statement)"),
    (("capture/views.py", "_answer"), "  _answer (thank-you token, JSON)"),
    (("django/db/backends/utils.py", "_execute"), "SQL execution, all statements"),
)


def _hot_spots(stats, count: int) -> list[tuple[str, float]]:
    by_function: dict[tuple[str, str], float] = {}
    for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():
        for (suffix, function), _label in HOT_SPOTS:
            if name == function and filename.endswith(suffix):
                by_function[(suffix, function)] = (
                    by_function.get((suffix, function), 0.0) + cumulative
                )
    return [(label, by_function.get(key, 0.0) * 1000 / count) for key, label in HOT_SPOTS]


def _bare(client, email: str):
    return client.post(
        "/bench/bare/",
        data=urlencode({"email": email, "first_name": "Ana", "consent_marketing": "on"}),
        content_type="application/x-www-form-urlencoded",
    )


def profile(count: int) -> dict:
    """The cost of one post in one process and one thread, without server or concurrency:
    milliseconds per form post and per bare insert (no profiler), then cProfile's view of
    the form post: the hot spots above (inclusive ms per post) and the top functions."""
    import cProfile
    import io
    import pstats

    from django.test import Client

    client = Client()
    stamp = f"{os.getpid()}{int(time.time() * 1000)}"

    def email(tag: str, i: int) -> str:
        domain = "gmail.com" if i % 2 == 0 else f"corp{i % 20}.example.com"
        return f"{tag}{stamp}n{i}@{domain}"

    for i in range(20):
        _post(client, email("w", i))
        _bare(client, email("wb", i))
    started = time.perf_counter()
    for i in range(count):
        response = _post(client, email("t", i))
        assert response.status_code == 201, (response.status_code, response.content[:300])
    form_ms = (time.perf_counter() - started) / count * 1000
    started = time.perf_counter()
    for i in range(count):
        assert _bare(client, email("b", i)).status_code == 201
    bare_ms = (time.perf_counter() - started) / count * 1000

    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(count):
        _post(client, email("p", i))
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt * 1000 / count
    print(
        f"--- {connection.vendor}: form post {form_ms:.2f} ms, bare insert {bare_ms:.2f} ms "
        f"(one thread, test client, no profiler; ratio {bare_ms / form_ms:.3f})"
    )
    print(f"--- hot spots under cProfile (inclusive ms per post; profiled total {total:.2f} ms)")
    for label, ms in _hot_spots(stats, count):
        print(f"  {ms:7.2f} ms  {100 * ms / total:5.1f}%  {label}")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    print("--- top 25 functions by own time")
    print(out.getvalue())
    return {
        "vendor": connection.vendor,
        "posts": count,
        "form_ms": round(form_ms, 2),
        "bare_ms": round(bare_ms, 2),
        "ratio_one_thread": round(bare_ms / form_ms, 3),
    }


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "setup":
        print(json.dumps(setup(int(sys.argv[2]) if len(sys.argv) > 2 else 0)))
    elif command == "queries":
        print(json.dumps(queries()))
    elif command == "profile":
        print(json.dumps(profile(int(sys.argv[2]) if len(sys.argv) > 2 else 300)))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)

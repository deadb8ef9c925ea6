"""Leadmill's URLs plus ``/bench/bare/``: the ceiling a form post is compared with, and
``/bench/bare-events/``: the ceiling of ``POST /t/collect`` (bench/tracking.py).

The bare view runs in the same server process, behind the same middleware, reads the same
POST body and writes one row with one INSERT (autocommit): what one request that stores one
thing costs on this machine, with nothing of the capture pipeline.
"""

import json

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

BARE_TABLE = "bench_bare"


@csrf_exempt
def bare_view(request):
    post = request.POST
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BARE_TABLE} (email, first_name, consent, created_at) VALUES (%s, %s, %s, %s)",  # noqa: S608
            [
                post.get("email", ""),
                post.get("first_name", ""),
                bool(post.get("consent_marketing")),
                timezone.now(),
            ],
        )
    return JsonResponse({"status": "accepted"}, status=201)


EVENT_COLUMNS = (
    "occurred_at",
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


@csrf_exempt
def bare_events_view(request):
    """The same JSON batch as /t/collect, stored as the same rows of ``tracking_event`` with
    one multi-row INSERT (autocommit): no checks, no visitor, no classification."""
    batch = json.loads(request.body)
    now = timezone.now()
    params: list = []
    for event in batch:
        params += [
            now,
            event.get("type", ""),
            event.get("name", ""),
            event.get("url", ""),
            event.get("referrer", ""),
            json.dumps(event.get("properties") or {}),
            "",
            "",
            "",
            "",
            "",
            "",
            False,
        ]
    row = "(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO tracking_event ({', '.join(EVENT_COLUMNS)}) VALUES {', '.join([row] * len(batch))}",  # noqa: S608
            params,
        )
    return HttpResponse(status=204)


urlpatterns = [
    path("bench/bare/", bare_view, name="bench_bare"),
    path("bench/bare-events/", bare_events_view, name="bench_bare_events"),
    path("", include("leadmill.urls")),
]

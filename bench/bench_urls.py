"""Leadmill's URLs plus ``/bench/bare/``: the ceiling a form post is compared with.

The bare view runs in the same server process, behind the same middleware, reads the same
POST body and writes one row with one INSERT (autocommit): what one request that stores one
thing costs on this machine, with nothing of the capture pipeline.
"""

from django.db import connection
from django.http import JsonResponse
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


urlpatterns = [
    path("bench/bare/", bare_view, name="bench_bare"),
    path("", include("leadmill.urls")),
]

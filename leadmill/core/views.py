from django.db import connection
from django.http import HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request):
    """200 when the database answers a query, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "up"})


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a sign-in refused for too many failures (AXES_LOCKOUT_CALLABLE):
    the back office's sign-in layout with a sentence saying how long to wait, 429."""
    from django.conf import settings
    from django.template.response import TemplateResponse

    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    response = TemplateResponse(
        request, "core/login_locked_out.html", {"cooloff_minutes": minutes}, status=429
    )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response.render()


@require_GET
def favicon(request):
    """``/favicon.ico``, which browsers ask for whatever the page links: the site's icon
    among the static files (a temporary redirect, as its static name changes with it)."""
    response = HttpResponseRedirect(static("core/favicon.ico"))
    response["Cache-Control"] = "public, max-age=86400"
    return response

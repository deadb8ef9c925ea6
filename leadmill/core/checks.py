"""System checks of core: the lean paths' middleware is a subset of settings.MIDDLEWARE."""

from __future__ import annotations

from django.core import checks


def lean_middleware_errors(names, *, check_id: str) -> list[checks.CheckMessage]:
    """An error naming each of ``names`` missing from settings.MIDDLEWARE (the lean paths of
    leadmill/core/wsgi.py run a subset of it, in its order, and cannot run a missing one)."""
    from .wsgi import lean_middleware_missing

    return [
        checks.Error(
            f"{name} is not in settings.MIDDLEWARE, but a lean path (leadmill/core/wsgi.py) needs it.",
            hint="Add it back to MIDDLEWARE, or take it out of the lean path's list.",
            id=check_id,
        )
        for name in lean_middleware_missing(names)
    ]


@checks.register()
def lean_middleware_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    from .wsgi import LEAN_MIDDLEWARE

    return lean_middleware_errors(LEAN_MIDDLEWARE, check_id="leadmill.core.E001")

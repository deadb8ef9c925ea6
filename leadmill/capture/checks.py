"""System checks of capture: the form post's lean path has the middleware it adds."""

from __future__ import annotations

from django.core import checks


@checks.register()
def form_post_middleware_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    from leadmill.core.checks import lean_middleware_errors

    from .wsgi import FORM_POST_MIDDLEWARE

    return lean_middleware_errors(FORM_POST_MIDDLEWARE, check_id="leadmill.capture.E001")

"""``POST /f/<slug>/`` served ahead of Django's full handler (docs/adr/0009-lean-form-post-path.md).

A form post is anonymous, CSRF-exempt (the signed render token and the Origin check guard
it) and reads no session: it needs the lean middleware, plus the clickjacking header
because an invalid post from an embedded form is answered with the form's HTML page.
"""

from __future__ import annotations

import re

from django.urls import reverse
from django.urls.converters import SlugConverter

from leadmill.core.wsgi import LeanHandler, LeanRoute, lean_middleware

from . import views

_SLUG_MARK = "slug-mark"
# What the form post's answers need beyond the lean middleware (checked: capture.E001).
FORM_POST_MIDDLEWARE = (
    "leadmill.core.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)


class FormPostHandler(LeanHandler):
    """The form post view through the lean middleware, the CSP and the clickjacking header."""

    def __init__(self) -> None:
        super().__init__(views.form_post, middleware=lean_middleware(*FORM_POST_MIDDLEWARE))


def form_post_route() -> LeanRoute:
    """``/f/<slug>/`` exactly, with the slug converter's characters (the form's other paths,
    such as ``/f/<slug>/embed/``, have more segments and stay with Django)."""
    path = reverse("capture:form_post", kwargs={"slug": _SLUG_MARK})
    before, after = path.split(_SLUG_MARK)
    pattern = re.compile(f"{re.escape(before)}(?P<slug>{SlugConverter.regex}){re.escape(after)}")
    return LeanRoute(pattern, FormPostHandler())

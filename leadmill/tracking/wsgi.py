"""``POST /t/collect`` served ahead of Django's full handler (docs/adr/0008-lean-collect-path.md).

The collect endpoint is the busiest public path and needs none of the site's middleware but
:data:`leadmill.core.wsgi.LEAN_MIDDLEWARE`: its answers are 204 or JSON, never framed HTML.
"""

from __future__ import annotations

from django.urls import reverse

from leadmill.core.wsgi import LeanHandler, LeanRoute

from . import views


class CollectHandler(LeanHandler):
    """The collect view through the lean middleware (the sender of its request signals)."""

    def __init__(self) -> None:
        super().__init__(views.collect)


def collect_route() -> LeanRoute:
    return LeanRoute.exact(reverse("tracking:collect"), CollectHandler())

"""``{% leadmill_tracker %}``: the tracker script tag for a page.

On Leadmill's own pages (landing pages, form pages)::

    {% load tracking_tags %}{% leadmill_tracker %}

renders ``<script defer src="/static/tracking/lm.js" data-lm-endpoint="/t/collect" ...>``.
``{% leadmill_tracker absolute=True %}`` gives the snippet another site pastes into its
pages (absolute URLs under LEADMILL_BASE_URL, the script at its stable ``/t/lm.js``).
``{% leadmill_consent_banner %}`` renders Leadmill's own consent banner when it is needed.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


def tracker_snippet(*, absolute: bool = False) -> str:
    """The ``<script>`` tag that loads the tracker (see :mod:`this module <.tracking_tags>`)."""
    if absolute:
        src = settings.BASE_URL + reverse("tracking:script")
        endpoint = settings.BASE_URL + reverse("tracking:collect")
    else:
        src, endpoint = static("tracking/lm.js"), reverse("tracking:collect")
    return format_html(
        '<script defer src="{}" data-lm-endpoint="{}" data-lm-require-consent="{}"></script>',
        src,
        endpoint,
        "1" if settings.LEADMILL_TRACKING_REQUIRE_CONSENT else "0",
    )


@register.simple_tag(takes_context=True)
def leadmill_consent_banner(context) -> str:
    """Leadmill's small consent banner, on its own pages, while the tracker needs consent
    (``LEADMILL_TRACKING_REQUIRE_CONSENT``) and ``LEADMILL_TRACKING_CONSENT_BANNER`` is on.
    Hidden by its script once the visitor answered (the ``lm_consent`` cookie)."""
    if not (
        settings.LEADMILL_TRACKING_REQUIRE_CONSENT and settings.LEADMILL_TRACKING_CONSENT_BANNER
    ):
        return ""
    from django.template.loader import render_to_string

    return render_to_string("tracking/consent_banner.html", request=context.get("request"))


@register.simple_tag
def leadmill_tracker(absolute: bool = False) -> str:
    return tracker_snippet(absolute=absolute)

"""Template helpers of the public capture pages: the landing page, the form, the embed.

They keep the templates free of logic that Django's template language cannot express
(a dynamic key into ``request.GET``, a block type lookup in a StreamField).
"""

from __future__ import annotations

from html import unescape

from django import template
from django.conf import settings
from django.utils.html import strip_tags

from leadmill.core.i18n import LANGUAGE_PARAMETER, language_url
from leadmill.tracking.sources import UTM_PARAMS

register = template.Library()

_MAX_VALUE_LENGTH = 500


@register.filter
def has_block(stream, block_type: str) -> bool:
    """True when a StreamField value holds at least one block of ``block_type``."""
    if not stream:
        return False
    return any(block.block_type == block_type for block in stream)


@register.filter
def count_blocks_except(stream, block_type: str) -> int:
    """How many blocks of a StreamField value are not of ``block_type`` (the landing page's
    two-column layout puts every block but the form in the first column)."""
    if not stream:
        return 0
    return sum(1 for block in stream if block.block_type != block_type)


@register.filter
def starts_with_block(stream, block_type: str) -> bool:
    """True when the first block of a StreamField value is of ``block_type``."""
    if not stream:
        return False
    return next(iter(stream)).block_type == block_type


@register.simple_tag(takes_context=True)
def lead_form_context_fields(context, lead_form) -> list[tuple[str, str]]:
    """Hidden ``(name, value)`` pairs that carry where the person came from into the post.

    On the first render they come from the page request: its full URL, the referrer of the
    visit and the ``utm_*`` parameters of its query string. On a re-render after an error
    (the request is then the form post) they are the values the browser posted, so the
    source of the visit survives a correction. An embedded form in an iframe takes its page
    from the Referer of the iframe request; the embed script fills them in itself.
    """
    request = context.get("request")
    posted = _posted_values(lead_form)
    if posted is not None:
        pairs = [(name, posted.get(name, "")) for name in ("_url", "_referrer", *UTM_PARAMS)]
        return [(name, str(value)[:_MAX_VALUE_LENGTH]) for name, value in pairs if value]
    if request is None:
        return []
    referrer = request.META.get("HTTP_REFERER", "")
    if context.get("embedded"):
        page_url, referrer = referrer, ""
    else:
        page_url = request.build_absolute_uri()
    pairs = [("_url", page_url), ("_referrer", referrer)]
    pairs += [(name, request.GET.get(name, "")) for name in UTM_PARAMS]
    return [(name, value[:_MAX_VALUE_LENGTH]) for name, value in pairs if value]


def _posted_values(lead_form):
    django_form = getattr(lead_form, "django_form", None)
    if django_form is None or not django_form.is_bound:
        return None
    return django_form.data


@register.simple_tag(takes_context=True)
def page_absolute_url(context, page) -> str:
    """The public URL of ``page`` on the host the visitor used (canonical link, og:url)."""
    request = context.get("request")
    if page is None:
        return ""
    relative_or_full = language_url(page, page.get_url(request=request) or "")
    if request is None:
        return relative_or_full
    return request.build_absolute_uri(relative_or_full)


@register.simple_tag(takes_context=True)
def page_translations(context, page) -> list[dict]:
    """The live translations of ``page`` (itself included), each with its language, its name
    in that language, its absolute URL and the language switcher's link to it; empty when the
    page has no other translation."""
    from django.utils.translation import get_language_info

    if page is None or not hasattr(page, "language"):
        return []
    request = context.get("request")
    pages = [page, *page.get_translations().live().specific().select_related("locale")]
    if len(pages) < 2:
        return []
    entries = []
    for translation in sorted(pages, key=lambda p: p.locale.language_code):
        language = translation.locale.language_code
        url = language_url(translation, translation.get_url(request=request) or "")
        # A switcher's link names its language even for the site's: the visitor's browser
        # may ask for another one.
        chosen = url if "?" in url else f"{url}?{LANGUAGE_PARAMETER}={language}"
        absolute = request.build_absolute_uri if request is not None else str
        entries.append(
            {
                "language": language,
                "hreflang": language.split("-")[0] + language[2:].upper(),
                "name": get_language_info(language)["name_local"],
                "url": absolute(url),
                "switch_url": absolute(chosen),
                "current": translation.pk == page.pk,
            }
        )
    return entries


@register.simple_tag(takes_context=True)
def absolute_url(context, url: str) -> str:
    """``url`` made absolute on the current host (for og:image and links in embeds)."""
    request = context.get("request")
    if not url or request is None:
        return url or ""
    return request.build_absolute_uri(url)


@register.simple_tag
def download_link_hours() -> int:
    """How long a download link works (LEADMILL_DOWNLOAD_LINK_HOURS), for the offer email."""
    return settings.LEADMILL_DOWNLOAD_LINK_HOURS


@register.filter
def plain_text(html: str) -> str:
    """Rich text as plain text for the text part of an email: tags and entities removed."""
    text = unescape(strip_tags(str(html or "")))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())

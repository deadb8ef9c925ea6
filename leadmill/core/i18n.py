"""Content in several languages (ADR 43), on Wagtail's own localisation.

Pages are translatable by nature; forms, offers and email templates mix in
:class:`Translatable`. A translation is a row of its own, in its own ``locale``, sharing its
source's ``translation_key``. These helpers answer the questions every app asks: which
translation of this object is in that language, and in what language is this row written.
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from django.conf import settings
from django.utils import translation
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Locale, TranslatableMixin

# ``?lang=pt-br`` on a page's URL asks for that translation: translations share their URL
# (the language switcher's links, canonical links, a thank-you redirect).
LANGUAGE_PARAMETER = "lang"


def language_supported(language: str) -> str | None:
    """The content language ``language`` maps to (``pt-BR`` → ``pt-br``), or None when
    content cannot be written in it."""
    if not language:
        return None
    try:
        return get_supported_content_language_variant(language)
    except LookupError:
        return None


def locale_default() -> Locale:
    """The locale of the site's language; created when the database lacks it (a database
    without Wagtail's initial rows, e.g. after a test flushed them)."""
    locale, _created = Locale.objects.get_or_create(
        language_code=get_supported_content_language_variant(settings.LANGUAGE_CODE)
    )
    return locale


def locale_for(language: str) -> Locale | None:
    """The locale content in ``language`` is written in, or None when there is none."""
    code = language_supported(language)
    if code is None:
        return None
    return Locale.objects.filter(language_code=code).first()


class Translatable(TranslatableMixin):
    """Wagtail's translatable mixin, whose new rows default to the site's language even in a
    database without its locale row yet."""

    class Meta(TranslatableMixin.Meta):
        abstract = True

    def get_default_locale(self):
        return locale_default()


T = TypeVar("T", bound=TranslatableMixin)


def translation_in(obj: T, language: str) -> T:
    """``obj``'s translation in ``language`` when one exists, else ``obj`` itself.

    No query when ``obj`` is written in ``language`` already (its locale's language is read
    once per process): the email sender asks this for every message, and most leads read
    the site's language."""
    wanted = language_supported(language)
    if wanted is None or wanted == language_of_locale(obj.locale_id):
        return obj
    locale = locale_for(wanted)
    if locale is None or locale.pk == obj.locale_id:
        return obj
    return obj.get_translation_or_none(locale) or obj


def active_language() -> str:
    """The language active in this thread, as content names it (``pt-br``)."""
    return language_supported(translation.get_language() or settings.LANGUAGE_CODE) or ""


_locale_languages: dict[int, str] = {}


def language_of_locale(locale_id: int | None) -> str:
    """The language code of a locale (``pt-br``), read once per process: a locale's language
    never changes."""
    if locale_id is None:
        return ""
    if (language := _locale_languages.get(locale_id)) is None:
        language = (
            Locale.objects.filter(pk=locale_id).values_list("language_code", flat=True).first()
            or ""
        )
        if language:
            _locale_languages[locale_id] = language
    return language


def locale_caches_clear() -> None:
    """Forget the locales read (in tests, after a flush gave their ids to others)."""
    _locale_languages.clear()


def language_url(page, url: str) -> str:
    """``url`` of ``page`` naming its language when it is not the site's (``?lang=pt-br``):
    translations share their URL, and such a link asks for this one (ADR 43)."""
    language = language_of_locale(getattr(page, "locale_id", None))
    if not url or not language or language == language_supported(settings.LANGUAGE_CODE):
        return url
    return f"{url}?{LANGUAGE_PARAMETER}={language}"


# Paths of this site a language does not apply to: email endpoints (they answer in the
# lead's language already), signed files, static and media files.
_LANGUAGE_NEUTRAL_PATHS = ("/e/", "/d/", "/static/", "/media/")


def url_in_language(url: str, language: str) -> str:
    """``url`` asking for ``language`` (``?lang=pt-br`` added) when it is one of this site's
    pages, ``language`` is a content language other than the site's, and the URL does not
    name a language already; any other URL as given. Emails to a lead link pages with it,
    so a Brazilian lead lands on the Brazilian page whatever their browser says (ADR 53)."""
    code = language_supported(language)
    base = settings.BASE_URL.rstrip("/")
    if (
        not code
        or code == language_supported(settings.LANGUAGE_CODE)
        or not (url == base or url.startswith(base + "/") or url.startswith(base + "?"))
    ):
        return url
    parts = urlsplit(url)
    if parts.path.startswith(_LANGUAGE_NEUTRAL_PATHS) or any(
        name == LANGUAGE_PARAMETER
        for name, _value in parse_qsl(parts.query, keep_blank_values=True)
    ):
        return url
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=f"{query}{LANGUAGE_PARAMETER}={code}"))

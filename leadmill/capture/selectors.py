"""Reads of the capture app."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import time
from collections.abc import Collection

from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.core.i18n import language_url, translation_in
from leadmill.core.registry import TimelineEntry

from . import tokens
from .models import Channel, Form, Offer, Submission


@dataclasses.dataclass(frozen=True)
class FormDefinition:
    """A form as the public endpoint needs it: the model with its fields and consents
    loaded, the Django form class built from them (for validating posts only, see
    :func:`.forms.validation_form_class`), each purpose's current text id, and the path of
    the form's own thank-you page."""

    form: Form
    form_class: type
    consent_text_ids: dict[int, int]
    thanks_path: str = ""


_definitions: dict[str, tuple[float, FormDefinition]] = {}
_definitions_lock = threading.Lock()


def form_definition(*, slug: str) -> FormDefinition | None:
    """The form for ``slug``, cached per process for LEADMILL_FORM_CACHE_SECONDS.

    The public endpoint reads the same few rows on every post; caching them makes a post
    cost one insert. An edit in the back office reaches every process within that time.
    """
    ttl = settings.LEADMILL_FORM_CACHE_SECONDS
    now = time.monotonic()
    cached = _definitions.get(slug)
    if cached is not None and cached[0] > now:
        return cached[1]
    from leadmill.consent.models import PurposeText

    from .forms import lead_form_class, validation_form_class

    form = (
        Form.objects.filter(slug=slug)
        .select_related("offer")
        .prefetch_related(
            "fields",
            "consents__purpose__translations",
            "consents__notice_page",
        )
        .first()
    )
    if form is None:
        return None
    purpose_ids = [consent.purpose_id for consent in form.consents.all()]
    # The version of each text the form shows: its translation in the form's language
    # when the purpose has one, else its own text (ADR 43).
    from leadmill.core.i18n import language_of_locale

    language = language_of_locale(form.locale_id)
    translated = {
        consent.purpose_id
        for consent in form.consents.all()
        if any(t.language == language for t in consent.purpose.translations.all())
    }
    text_ids: dict[int, int] = {}
    for purpose_id, text_id, text_language in (
        PurposeText.objects.filter(purpose_id__in=purpose_ids, language__in={"", language})
        .order_by("purpose_id", "-version")
        .values_list("purpose_id", "pk", "language")
    ):
        if text_language == (language if purpose_id in translated else ""):
            text_ids.setdefault(purpose_id, text_id)
    definition = FormDefinition(
        form=form,
        form_class=validation_form_class(lead_form_class(form)),
        consent_text_ids=text_ids,
        thanks_path=reverse("capture:form_thanks", kwargs={"slug": form.slug}),
    )
    if ttl > 0:
        with _definitions_lock:
            _definitions[slug] = (now + ttl, definition)
    return definition


_thanks_paths: dict[int, tuple[float, str | None]] = {}


def landing_page_thanks_path(*, page_id: int) -> str | None:
    """The path of a live landing page's thank-you view (with ``?lang=`` when the page is
    not in the site's language), or None when there is no such page; cached per process like
    the forms (a post from a page then costs no query)."""
    now = time.monotonic()
    cached = _thanks_paths.get(page_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    from .pages import LandingPage

    page = LandingPage.objects.live().filter(pk=page_id).first()
    path = page.url + page.reverse_subpage("thanks") if page is not None and page.url else None
    if path is not None:
        # Translations share their URL: the thank-you page is asked for in the page's language.
        path = language_url(page, path)
    ttl = settings.LEADMILL_FORM_CACHE_SECONDS
    if ttl > 0:
        with _definitions_lock:
            if len(_thanks_paths) > 10_000:  # bounded: page ids come from the post
                _thanks_paths.clear()
            _thanks_paths[page_id] = (now + ttl, path)
    return path


_page_languages: dict[int, str] = {}


def lead_language(*, page_id: int | None, form: Form | None) -> str:
    """The language a lead converted in (ADR 43): its landing page's, else its form's (an
    embedded form, an API lead naming a form); empty when neither is known. Pages' languages
    are read once per process (a page never changes locale)."""
    from leadmill.core.i18n import language_of_locale

    if page_id:
        language = _page_languages.get(page_id)
        if language is None:
            from wagtail.models import Page

            locale_id = Page.objects.filter(pk=page_id).values_list("locale_id", flat=True).first()
            language = language_of_locale(locale_id)
            with _definitions_lock:
                if len(_page_languages) > 10_000:  # bounded: page ids come from the post
                    _page_languages.clear()
                _page_languages[page_id] = language
        if language:
            return language
    return language_of_locale(form.locale_id) if form is not None else ""


def form_definitions_clear() -> None:
    """Forget cached forms and thank-you paths (after an edit in this process; in tests),
    and the pages' running A/B tests."""
    from .experiments import running_tests_clear

    with _definitions_lock:
        _definitions.clear()
        _thanks_paths.clear()
        _page_languages.clear()
    running_tests_clear()


def submissions_recent(
    *, window_s: int, at_most: int, form_id: int | None = None, ip_address: str | None = None
) -> int:
    """How many submissions arrived in the last ``window_s`` seconds for one form or from one
    IP address, counting no further than ``at_most`` (the scan stays bounded).

    Plain SQL: it runs on every form post, and building it with the ORM cost more than the
    query itself.
    """
    column, value = ("form_id", form_id) if form_id is not None else ("ip_address", ip_address)
    since = timezone.now() - dt.timedelta(seconds=window_s)
    table = Submission._meta.db_table
    sql = (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} "  # noqa: S608 (names are ours, values bound)
        f"WHERE {column} = %s AND created_at >= %s LIMIT %s) AS recent"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value, connection.ops.adapt_datetimefield_value(since), at_most])
        return cursor.fetchone()[0]


_form_counts: dict[int, list[float]] = {}  # form id -> [read at, count then + posts since]
_form_counts_lock = threading.Lock()
FORM_COUNT_FRESH_S = 1.0


def form_submissions_recent(*, form_id: int, window_s: int, at_most: int) -> int:
    """The form's submissions in the window, read from the database at most once a second
    per process and counted up locally in between (see :func:`form_submission_counted`).

    A per-request count would scan every post of the window on a busy form; this stays
    within a second's worth of posts of the truth, which is what a flood limit needs.
    """
    now = time.monotonic()
    with _form_counts_lock:
        entry = _form_counts.get(form_id)
        if entry is not None and now - entry[0] < FORM_COUNT_FRESH_S:
            return int(entry[1])
    count = submissions_recent(form_id=form_id, window_s=window_s, at_most=at_most)
    with _form_counts_lock:
        _form_counts[form_id] = [now, count]
    return count


def form_submission_counted(*, form_id: int) -> None:
    """Count one stored post in this process's view of the form's window."""
    with _form_counts_lock:
        entry = _form_counts.get(form_id)
        if entry is not None:
            entry[1] += 1


def form_counts_clear() -> None:
    with _form_counts_lock:
        _form_counts.clear()


@dataclasses.dataclass(frozen=True)
class ThankYou:
    """What the thank-you page and the offer email give the person."""

    offer: Offer | None
    download_url: str = ""
    discount_code: str = ""
    trial_url: str = ""
    message: str = ""
    # Whether the link named a valid submission: without it the page promises nothing.
    confirmed: bool = False
    # A webinar or event: its start in its own time zone, its join link, its calendar file.
    event_start: str = ""
    time_zone: str = ""
    join_url: str = ""
    calendar_url: str = ""


DELIVERABLE_STATUSES = (Submission.Status.RECEIVED, Submission.Status.ACCEPTED)


def event_full(offer: Offer | None) -> str:
    """Why a webinar or event takes no more registrations (its capacity is reached), or "".

    Its registrations are the posts received or accepted by the forms of the offer and of its
    translations (one count for every language; a person who registers twice counts twice).
    One query, and only for an event with a capacity."""
    if offer is None or offer.kind != Offer.Kind.EVENT or offer.capacity is None:
        return ""
    registered = Submission.objects.filter(
        form__offer__translation_key=offer.translation_key, status__in=DELIVERABLE_STATUSES
    )[: offer.capacity].count()
    if registered < offer.capacity:
        return ""
    return _(
        "Sorry, this event is full: all its places are taken. Your details were not registered."
    )


def offer_delivery(*, submission: Submission, absolute: bool = False) -> ThankYou:
    """The deliverable of a valid submission's offer (received or accepted); empty for spam,
    rejected or failed posts."""
    from django.conf import settings

    deliverable = submission.status in DELIVERABLE_STATUSES
    offer = submission.form.offer if deliverable and submission.form_id else None
    if offer is None:  # spam gets the same page as a person: the silent answer
        return ThankYou(offer=None, confirmed=True)
    # The offer in the language the lead converted in, when it is written in it (ADR 43).
    offer = translation_in(offer, lead_language(page_id=submission.page_id, form=submission.form))
    prefix = settings.BASE_URL if absolute else ""
    download_url = calendar_url = ""
    if offer.file or offer.starts_at:
        token = tokens.download_token_make(submission_id=submission.pk, offer_id=offer.pk)
        if offer.file:
            download_url = prefix + reverse("capture:offer_download", kwargs={"token": token})
        if offer.starts_at:
            calendar_url = prefix + reverse("capture:offer_calendar", kwargs={"token": token})
    return ThankYou(
        offer=offer,
        download_url=download_url,
        discount_code=offer.discount_code,
        trial_url=offer.trial_url,
        message=offer.delivery_message,
        confirmed=True,
        event_start=offer.start_text,
        time_zone=offer.time_zone,
        join_url=offer.join_url if offer.starts_at else "",
        calendar_url=calendar_url,
    )


def thank_you_for(*, token: str, page=None) -> ThankYou:
    """Resolve a thank-you link's signed token; a bad or old token shows a plain thanks."""
    submission_id = tokens.thanks_token_read(token) if token else None
    if submission_id is None:
        return ThankYou(offer=None)
    submission = Submission.objects.select_related("form__offer").filter(pk=submission_id).first()
    if submission is None:
        return ThankYou(offer=None)
    return offer_delivery(submission=submission)


def form_names(slugs: Collection[str]) -> dict[str, str]:
    """Names resolver "form" (:func:`leadmill.core.registry.names_resolve`): slug → name."""
    return dict(Form.objects.filter(slug__in=list(slugs)).values_list("slug", "name"))


_DOWNLOAD_PATH = re.compile(r"(?:^|/)d/([^/?#]+)/?(?:[?#].*)?$")


def download_names(links: Collection[str]) -> dict[str, str]:
    """Names resolver "download": an offer's download link (``/d/<token>/``, as the tracker
    records it) → the offer's name. Links of other files are not named."""
    offer_ids: dict[str, int] = {}
    for link in links:
        match = _DOWNLOAD_PATH.search(link)
        offer_id = tokens.download_token_offer(match[1]) if match else None
        if offer_id is not None:
            offer_ids[link] = offer_id
    names = dict(Offer.objects.filter(pk__in=set(offer_ids.values())).values_list("pk", "name"))
    return {link: names[pk] for link, pk in offer_ids.items() if pk in names}


def channel_names(codes: Collection[str]) -> dict[str, str]:
    """Names resolver "channel": a submission channel's code ("api") → its label."""
    return {code: str(Channel(code).label) for code in codes if code in Channel.values}


def submission_timeline(contact_id: int) -> list[TimelineEntry]:
    """Timeline entries: the contact's submissions and the consents they gave."""
    from leadmill.consent.models import Consent

    entries = [
        TimelineEntry(
            occurred_at=s.created_at,
            kind="submission",
            title=(
                _("Submitted the form “%(form)s”") % {"form": s.form.name}
                if s.form_id
                else _("Came in through %(channel)s") % {"channel": s.get_channel_display()}
            ),
            detail=" · ".join(
                part
                for part in (
                    s.page_url,
                    "/".join(p for p in (s.source, s.medium, s.campaign) if p)
                    or "/".join(p for p in (s.utm_source, s.utm_medium, s.utm_campaign) if p),
                )
                if part
            ),
        )
        for s in Submission.objects.filter(contact_id=contact_id).select_related("form")[:100]
    ]
    entries += [
        TimelineEntry(
            occurred_at=c.occurred_at,
            kind="consent",
            title=(
                _("Agreed to “%(purpose)s”") if c.granted else _("Did not agree to “%(purpose)s”")
            )
            % {"purpose": c.purpose.name},
            detail=_("text version %(version)s, %(method)s")
            % {
                "version": c.purpose_text.version if c.purpose_text else "?",
                "method": c.get_method_display(),
            },
        )
        for c in Consent.objects.filter(contact_id=contact_id).select_related(
            "purpose", "purpose_text"
        )[:100]
    ]
    return entries

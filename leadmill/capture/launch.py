"""A new offer live in one flow: its offer, a short form and a landing page, created together.

The back office's "New landing page" screen (:mod:`.admin_launch`) calls
:func:`landing_page_launch`; everything it writes is in one transaction, so a failure
leaves no offer without its form or a form without its page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from wagtail.models import Page, Site

from leadmill.consent.models import Purpose

from .models import FieldKind, Form, FormConsent, FormField, Offer
from .pages import LandingPage

SHORT = "short"  # a hero and the form: nothing to write but the offer
FULL = "full"  # a hero, the benefits, the offer and the form

# What the form asks by default: the email, plus at most two details (chapter 3 of the demo
# e-book: every field costs conversions).
DEFAULT_FIELDS = (FieldKind.FIRST_NAME, FieldKind.COMPANY)


@dataclasses.dataclass(frozen=True, kw_only=True)
class OfferDraft:
    """What the marketer filled in for the offer; only its kind's fields are used."""

    kind: str
    name: str
    file: object = None
    trial_url: str = ""
    discount_code: str = ""
    starts_at: dt.datetime | None = None
    time_zone: str = ""
    join_url: str = ""
    capacity: int | None = None


def landing_page_launch(
    *,
    offer: OfferDraft,
    headline: str,
    description: str,
    benefits: list[str],
    fields: list[str],
    purposes: list[Purpose],
    template: str,
    publish: bool,
    parent: Page | None = None,
) -> LandingPage:
    """Create the offer, its form (the email first, then ``fields``, one consent checkbox
    per purpose) and a landing page under ``parent`` (the default site's home page), live
    when ``publish``, else a draft revision. The form and the page take a slug from the
    offer's name, unique among forms and among the parent's children.

    Only what the marketer wrote goes on the page: a template's part left empty (no
    benefits, no description) is left out, never filled with a hint."""
    parent = parent or _home()
    with transaction.atomic():
        offer_row = _offer_create(offer)
        slug = _free_slug(slugify(offer.name)[:50] or "offer", parent=parent)
        form = Form(
            name=offer.name,
            slug=slug,
            offer=offer_row,
            submit_label=_submit_label(offer.kind),
        )
        form.fields = [
            FormField(kind=kind, required=kind == FieldKind.EMAIL, sort_order=index)
            for index, kind in enumerate([FieldKind.EMAIL, *[f for f in fields if f != "email"]])
        ]
        form.consents = [
            FormConsent(purpose=purpose, sort_order=index, notice_page=_notice_page(purpose))
            for index, purpose in enumerate(purposes)
        ]
        form.save()
        page = LandingPage(
            title=offer.name,
            slug=slug,
            intro=description,
            form=form,
            body=_body(
                template=template,
                headline=headline or offer.name,
                description=description,
                benefits=benefits,
                offer=offer_row,
            ),
            thank_you_title=_("Thank you!"),
            live=False,
        )
        parent.add_child(instance=page)
        revision = page.save_revision()
        if publish:
            revision.publish()
            page.refresh_from_db()
    return page


def _home() -> Page:
    site = Site.objects.select_related("root_page").filter(is_default_site=True).first()
    if site is not None:
        return site.root_page
    return Page.get_first_root_node()


def _offer_create(draft: OfferDraft) -> Offer:
    kind = Offer.Kind
    offer = Offer(
        name=draft.name,
        kind=draft.kind,
        is_intent_signal=draft.kind == kind.DEMO,
        trial_url=draft.trial_url if draft.kind == kind.TRIAL else "",
        discount_code=draft.discount_code if draft.kind == kind.DISCOUNT else "",
    )
    if draft.kind == kind.EVENT:
        offer.starts_at = draft.starts_at
        offer.time_zone = draft.time_zone
        offer.join_url = draft.join_url
        offer.capacity = draft.capacity
    if draft.kind == kind.DOWNLOAD and draft.file is not None:
        offer.file.save(draft.file.name, draft.file, save=False)
    offer.full_clean()
    offer.save()
    return offer


def _submit_label(kind: str) -> str:
    return {
        Offer.Kind.DOWNLOAD: _("Send me the download"),
        Offer.Kind.TRIAL: _("Start my free trial"),
        Offer.Kind.DISCOUNT: _("Send me the code"),
        Offer.Kind.DEMO: _("Request my demo"),
        Offer.Kind.EVENT: _("Save my seat"),
    }.get(kind, _("Send"))


def _free_slug(base: str, *, parent: Page) -> str:
    """``base``, or ``base-2``, ``base-3`` …: free among forms and the parent's children."""
    candidate, number = base, 1
    while (
        Form.objects.filter(slug=candidate).exists()
        or parent.get_children().filter(slug=candidate).exists()
    ):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _notice_page(purpose: Purpose) -> Page | None:
    """The notice page other forms link for this purpose, if any (the privacy notice)."""
    linked = (
        FormConsent.objects.filter(purpose=purpose, notice_page__isnull=False)
        .select_related("notice_page")
        .first()
    )
    return linked.notice_page if linked else None


def _body(
    *, template: str, headline: str, description: str, benefits: list[str], offer: Offer
) -> list[tuple[str, object]]:
    body: list[tuple[str, object]] = [
        ("hero", {"heading": headline[:120], "subheading": description, "image": None})
    ]
    if template == FULL:
        if benefits:
            body.append(("benefits", {"heading": _("What you get"), "items": benefits}))
        body.append(("offer", {"offer": offer, "heading": "", "description": ""}))
    body.append(("form", None))
    return body

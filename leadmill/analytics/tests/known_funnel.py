"""A funnel whose every number is known: visitors (one a bot), leads with their stage
history, forms, an outcome and spend. Dates are relative to today so the fill reaches them.

    D1 (60 days ago)                          D2 (59 days ago)
    visitors v1, v2 (google), v6 (facebook)   v3 (google; its D1 view was a bot's), v4 (bing)
    v5: a bot visitor, never counted          v1 again: not new
    leads c1, c2 (google), c4 (facebook)      c3 (bing)

    c1: MQL D1 +1 h, SQL D1 +3 d, customer D1 +10 d, won 1000.00; form F1 (offer O1)
    c2: MQL D2 (1 day after creation); form F2 (an earlier spam post on F1 does not count)
    c3: straight to SQL 2 days after creation (so MQL too)
    c4: MQL 40 days after creation (outside a 30-day window)
    spend: google 100 on D1, facebook 50 on D1, linkedin 30 on D2 (no leads)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from leadmill.capture.models import CallToAction, Form, Submission
from leadmill.capture.tests.factories import FormFactory, OfferFactory
from leadmill.contacts.models import Contact, StageChange
from leadmill.tracking.models import Event, EventType, Visitor

from ..models import Spend


@dataclass
class KnownFunnel:
    d1: dt.date
    d2: dt.date
    f1: Form
    f2: Form
    contacts: dict[str, Contact]


def at(day: dt.date, hour: int, minute: int = 0, *, days: int = 0) -> dt.datetime:
    moment = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_default_timezone())
    return moment + dt.timedelta(days=days)


def page_view(visitor: str, moment: dt.datetime, source: str, channel: str, *, bot=False):
    Visitor.objects.get_or_create(
        id=visitor, defaults={"first_seen": moment, "last_seen": moment, "is_bot": False}
    )
    Event.objects.create(
        visitor_id=visitor,
        occurred_at=moment,
        type=EventType.PAGE_VIEW,
        url=f"https://www.example.com/ebook/?utm_source={source}",
        source=source,
        channel=channel,
        is_bot=bot,
    )


def lead(
    name: str, created: dt.datetime, source: str, channel: str, *, country="BR", outcome=""
) -> Contact:
    contact = Contact.objects.create(
        email=f"{name}@example.com",
        first_source=source,
        first_channel=channel,
        first_landing_url=f"https://www.example.com/ebook/?utm_source={source}",
        country=country,
        outcome=outcome,
    )
    Contact.objects.filter(pk=contact.pk).update(created_at=created)
    StageChange.objects.create(contact=contact, to_stage="lead", changed_at=created, cause="test")
    return contact


def stage(contact: Contact, to_stage: str, moment: dt.datetime) -> StageChange:
    return StageChange.objects.create(
        contact=contact, to_stage=to_stage, changed_at=moment, cause="test"
    )


def known_funnel() -> KnownFunnel:
    d1 = timezone.localdate() - dt.timedelta(days=60)
    d2 = d1 + dt.timedelta(days=1)
    page_view("v1", at(d1, 8), "google", "paid_search")
    page_view("v1", at(d2, 8), "google", "paid_search")
    page_view("v2", at(d1, 8, 30), "google", "paid_search")
    page_view("v3", at(d1, 7), "google", "paid_search", bot=True)
    page_view("v3", at(d2, 9), "google", "paid_search")
    page_view("v4", at(d2, 10), "bing", "organic_search")
    page_view("v5", at(d1, 11), "google", "paid_search")
    Visitor.objects.filter(id="v5").update(is_bot=True)
    page_view("v6", at(d1, 12), "facebook", "paid_social")
    # A form view is no page view: not a visitor.
    Event.objects.create(visitor_id="v9", occurred_at=at(d1, 13), type=EventType.FORM_VIEW)

    f1 = FormFactory(slug="ebook", name="Ebook", offer=OfferFactory(name="Ebook offer"))
    f2 = FormFactory(slug="demo", name="Demo")
    c1 = lead("c1", at(d1, 9), "google", "paid_search", outcome="won")
    Contact.objects.filter(pk=c1.pk).update(
        outcome_value=Decimal("1000.00"), outcome_at=at(d1, 9, days=10)
    )
    stage(c1, "mql", at(d1, 10))
    stage(c1, "sql", at(d1, 9, 30, days=3))
    stage(c1, "customer", at(d1, 9, days=10))
    c2 = lead("c2", at(d1, 12), "google", "paid_search")
    stage(c2, "mql", at(d2, 13))
    c3 = lead("c3", at(d2, 8), "bing", "organic_search", country="PT")
    stage(c3, "sql", at(d2, 8, days=2))
    c4 = lead("c4", at(d1, 15), "facebook", "paid_social")
    stage(c4, "mql", at(d1, 15, days=40))
    for contact, form, status in (
        (c1, f1, Submission.Status.ACCEPTED),
        (c2, f1, Submission.Status.SPAM),
        (c2, f2, Submission.Status.ACCEPTED),
    ):
        Submission.objects.create(contact=contact, form=form, status=status, data={})

    Spend.objects.create(day=d1, channel="paid_search", source="google", amount=100, currency="USD")
    Spend.objects.create(
        day=d1, channel="paid_social", source="facebook", amount=50, currency="USD"
    )
    Spend.objects.create(
        day=d2, channel="paid_social", source="linkedin", amount=30, currency="USD"
    )
    return KnownFunnel(
        d1=d1, d2=d2, f1=f1, f2=f2, contacts={"c1": c1, "c2": c2, "c3": c3, "c4": c4}
    )


def cta_click(contact, name: str, moment: dt.datetime, *, visitor="", bot=False) -> None:
    Event.objects.create(
        contact=contact,
        visitor_id=visitor or None,
        occurred_at=moment,
        type=EventType.CTA_CLICK,
        name=name,
        is_bot=bot,
    )


def known_cta_clicks(data: KnownFunnel) -> None:
    """CTA clicks of the known funnel's leads (ADR 59), and two CTAs:

    c1: "/c/ebook-cta/" before it came in; a click on "/c/demo-cta/" after does not count
    c2: "/c/ebook-cta/", then the button named "hero-button" (the last one counts)
    c3: only a bot's click: no CTA
    c4: "/c/demo-cta/", then "/c/ebook-cta/" from the bot visitor v5 (not counted)
    """
    c1, c2, c3, c4 = (data.contacts[name] for name in ("c1", "c2", "c3", "c4"))
    CallToAction.objects.create(
        label="Get the ebook", slug="ebook-cta", target_url="https://x.example/"
    )
    CallToAction.objects.create(
        label="Book a demo", slug="demo-cta", target_url="https://x.example/"
    )
    cta_click(c1, "/c/ebook-cta/", at(data.d1, 8, 50), visitor="v1")
    cta_click(c1, "/c/demo-cta/", at(data.d1, 11), visitor="v1")
    cta_click(c2, "/c/ebook-cta/", at(data.d1, 11), visitor="v2")
    cta_click(c2, "hero-button", at(data.d1, 11, 30), visitor="v2")
    cta_click(c3, "/c/demo-cta/", at(data.d2, 7), bot=True)
    cta_click(c4, "/c/demo-cta/", at(data.d1, 14), visitor="v6")
    cta_click(c4, "/c/ebook-cta/", at(data.d1, 14, 45), visitor="v5")

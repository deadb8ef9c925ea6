"""A lead's timeline and stage history name capture's forms, offers and channels, where
tracking and contacts recorded them by code (``ebook``, ``/d/<token>/``, ``form:ebook``)."""

import pytest
from django.utils import timezone

from leadmill.contacts.admin_leads import stage_history_named
from leadmill.contacts.models import StageChange
from leadmill.contacts.selectors import contact_stage_history
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.registry import contact_timeline
from leadmill.tracking.tests.factories import EventFactory

from ..tokens import download_token_make
from .factories import FormFactory, OfferFactory

pytestmark = pytest.mark.django_db


def test_form_events_and_an_offer_download_are_named_on_the_timeline():
    # Given a lead who saw and sent the e-book form, then downloaded the e-book by its link
    contact = ContactFactory()
    offer = OfferFactory(name="The Lead Generation Playbook")
    FormFactory(slug="ebook", name="E-book: The Lead Generation Playbook", offer=offer)
    link = f"/d/{download_token_make(submission_id=7, offer_id=offer.pk)}/"
    EventFactory(contact=contact, type="form_view", name="ebook")
    EventFactory(contact=contact, type="form_submit", name="ebook")
    EventFactory(contact=contact, type="download", name=link, properties={"href": link})
    # and a file download that is no offer, and a forged offer link
    EventFactory(contact=contact, type="download", name="price-list.pdf")
    EventFactory(contact=contact, type="download", name="/d/eyJvIjoxfQ:forged:sig/")

    # When the timeline is read
    titles = {entry.title for entry in contact_timeline(contact.pk)}

    # Then forms and the offer show by their names, never by slug or signed link
    assert "Saw the form E-book: The Lead Generation Playbook" in titles
    assert "Sent the form E-book: The Lead Generation Playbook" in titles
    assert "Downloaded The Lead Generation Playbook" in titles
    assert "Downloaded price-list.pdf" in titles
    assert "Downloaded /d/eyJvIjoxfQ:forged:sig/" in titles
    assert not any(link in title for title in titles)


def test_stage_causes_kept_as_codes_are_named():
    # Given a lead created by the e-book form, then moved by the API, then by a person
    contact = ContactFactory(stage_history=False)
    FormFactory(slug="ebook", name="E-book: The Lead Generation Playbook")
    for cause in ("form:ebook", "api", "form:gone", "qualified on the call (ana)"):
        StageChange.objects.create(
            contact=contact, from_stage="", to_stage="lead", cause=cause, changed_at=timezone.now()
        )

    # When its stage history is named
    labels = [
        change.cause_label
        for change in stage_history_named(contact_stage_history(contact_id=contact.pk))
    ]

    # Then codes read as names; a form since removed keeps its slug; sentences stay
    assert sorted(labels) == sorted(
        [
            "the form “E-book: The Lead Generation Playbook”",
            "API",
            "the form “gone”",
            "qualified on the call (ana)",
        ]
    )

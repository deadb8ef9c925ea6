"""The one intake (capture.intake.lead_intake) and the channel of a web form post."""

import json
import time

import pytest

from leadmill.consent.models import Consent
from leadmill.contacts.models import Contact
from leadmill.core import events
from leadmill.core.models import OutboxEvent

from .. import tokens
from ..events import LeadCaptured
from ..intake import IntakeLead, StatedConsent, lead_intake
from ..models import Channel, Submission
from ..selectors import submission_timeline
from ..services import RequestMeta, submissions_process
from .factories import form_with_fields

pytestmark = pytest.mark.django_db


def post_form(client, form, **headers):
    body = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "email": "ana@example.com",
    }
    response = client.post(
        f"/f/{form.slug}/", json.dumps(body), content_type="application/json", **headers
    )
    submissions_process()
    return response


def test_a_post_from_a_site_the_form_is_embedded_on_is_an_embed_and_from_leadmill_a_web_form(
    client, settings
):
    form = form_with_fields(allowed_origins="https://partner.example")

    embedded = post_form(client, form, HTTP_ORIGIN="https://partner.example")
    own = post_form(client, form, HTTP_ORIGIN=settings.BASE_URL)

    assert (embedded.status_code, own.status_code) == (201, 201)
    assert list(Submission.objects.order_by("pk").values_list("channel", flat=True)) == [
        Channel.EMBED,
        Channel.WEB_FORM,
    ]


def test_a_web_form_lead_keeps_its_source_classified_and_its_raw_tags_beside_it(client):
    form = form_with_fields()
    body = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "email": "ana@example.com",
        "utm_source": "IG",
        "utm_medium": "paid_social",
        "utm_campaign": "Launch",
    }

    client.post(f"/f/{form.slug}/", json.dumps(body), content_type="application/json")
    submissions_process()

    submission = Submission.objects.get()
    assert (
        submission.source_channel,
        submission.source,
        submission.medium,
        submission.campaign,
    ) == ("paid_social", "instagram", "paid_social", "Launch")
    contact = Contact.objects.get()
    assert (
        contact.first_channel,
        contact.first_source,
        contact.first_medium,
        contact.first_campaign,
    ) == ("paid_social", "instagram", "paid_social", "Launch")
    assert (contact.first_utm_source, contact.first_utm_medium, contact.last_utm_source) == (
        "IG",
        "paid_social",
        "IG",
    )


def test_a_lead_handed_in_without_processing_now_waits_for_the_worker_and_publishes_its_channel_and_source(
    django_capture_on_commit_callbacks,
):
    captured = []
    form_with_fields()  # the email-marketing purpose, text version 1

    with (
        events.subscribed(LeadCaptured, captured.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        outcome = lead_intake(
            lead=IntakeLead(
                channel=Channel.META_LEAD_ADS,
                external_id="lead-991",
                values={"email": "ana@example.com"},
                consents=[StatedConsent(purpose="email-marketing", text_version=1, granted=True)],
                meta=RequestMeta(utm={"utm_source": "fb", "utm_medium": "paid"}),
            )
        )
        assert (
            Submission.objects.get().status == Submission.Status.RECEIVED
        )  # written first, processed after
    submissions_process()

    submission = Submission.objects.get()
    assert (outcome.duplicate, outcome.upsert, submission.status) == (
        False,
        None,
        Submission.Status.ACCEPTED,
    )
    assert [(e.channel, e.source_channel, e.source, e.medium, e.form_id) for e in captured] == [
        ("meta_lead_ads", "paid_social", "facebook", "paid", None)
    ]
    consent = Consent.objects.get()
    assert (consent.method, consent.granted, consent.submission_id) == ("form", True, submission.pk)


def test_an_external_id_is_unique_per_channel_not_across_channels():
    first = lead_intake(
        lead=IntakeLead(
            channel=Channel.IMPORT, external_id="17", values={"email": "ana@example.com"}
        )
    )
    again = lead_intake(
        lead=IntakeLead(
            channel=Channel.IMPORT, external_id="17", values={"email": "ana@example.com"}
        )
    )
    other = lead_intake(
        lead=IntakeLead(
            channel=Channel.INBOUND_WEBHOOK, external_id="17", values={"email": "ana@example.com"}
        )
    )

    assert (first.duplicate, again.duplicate, other.duplicate) == (False, True, False)
    assert again.submission.pk == first.submission.pk
    assert Submission.objects.count() == 2


def test_a_lead_without_a_form_shows_its_channel_on_the_leads_timeline():
    outcome = lead_intake(
        lead=IntakeLead(
            channel=Channel.API,
            values={"email": "ana@example.com"},
            meta=RequestMeta(utm={"utm_source": "ig", "utm_medium": "social"}),
        ),
        process_now=True,
    )

    entries = submission_timeline(outcome.upsert.contact.pk)

    assert [(e.title, e.detail) for e in entries] == [("Came in through API", "instagram/social")]


def test_leads_processed_at_once_by_concurrent_requests_share_one_set_based_processing(
    monkeypatch,
):
    # Given the leads of two requests queued together (the API's group commit): a new lead,
    # a lead with an external id, that id again, and an address that cannot be known
    from django.utils import timezone

    from .. import services
    from ..intake import _LeadNow, _leads_process_now

    calls = []
    upsert = services.contacts_upsert
    monkeypatch.setattr(
        services,
        "contacts_upsert",
        lambda *, details: calls.append(len(details)) or upsert(details=details),
    )

    def lead(email: str, external_id: str = "") -> _LeadNow:
        raw = {"email": email}
        return _LeadNow(
            submission=Submission(
                channel=Channel.API, external_id=external_id, data=raw, values=raw
            ),
            purpose_keys={},
        )

    # When the group is written
    first, second = _leads_process_now(
        [
            [lead("ana@example.com"), lead("bia@example.com", "crm-1")],
            [lead("bia.again@example.com", "crm-1"), lead("not-an-address")],
        ]
    )

    # Then one contact upsert took every lead that was not a repeat, each got its own
    # outcome, the repeat answers with the first row, and the refusal only its own lead
    assert calls == [3]
    assert first[0].upsert.created and first[0].upsert.contact.email == "ana@example.com"
    assert first[1].upsert.created and first[1].submission.external_id == "crm-1"
    assert second[0].duplicate and second[0].submission.pk == first[1].submission.pk
    assert second[0].upsert is None and second[0].rejection is None
    assert second[1].rejection.code == "email_invalid"
    assert sorted(Submission.objects.values_list("status", flat=True)) == [
        Submission.Status.ACCEPTED,
        Submission.Status.ACCEPTED,
        Submission.Status.REJECTED,
    ]
    # And their LeadCaptured wait, due now, for the worker's drain (no task was queued)
    captured = OutboxEvent.objects.filter(name="LeadCaptured")
    assert captured.count() == 2
    assert all(row.next_attempt_at <= timezone.now() for row in captured)


def test_a_lead_written_by_another_requests_thread_is_refused_in_its_own_language():
    # Given two requests' leads in one group: an English one, and a Brazilian one whose
    # address cannot be known, written by the English request's thread
    from django.utils import translation

    from ..intake import _lead_now, _leads_process_now

    with translation.override("pt-br"):
        brazilian = _lead_now(IntakeLead(channel=Channel.API, values={"email": "não é endereço"}))
        expected = services_identity_message("não é endereço")
    with translation.override("en"):
        english = _lead_now(IntakeLead(channel=Channel.API, values={"email": "ana@example.com"}))
        # When the English thread writes the group
        (answers,) = _leads_process_now([[english, brazilian]])

    # Then the refusal is the Brazilian lead's own language's
    assert answers[0].upsert.created
    assert answers[1].rejection.code == "email_invalid"
    assert answers[1].rejection.message == expected
    assert expected != _english_message("não é endereço")


def services_identity_message(email: str) -> str:
    from leadmill.contacts.identity import email_normalise
    from leadmill.core.errors import ValidationFailed

    try:
        email_normalise(email)
    except ValidationFailed as refusal:
        return refusal.message
    raise AssertionError("the address was accepted")


def _english_message(email: str) -> str:
    from django.utils import translation

    with translation.override("en"):
        return services_identity_message(email)

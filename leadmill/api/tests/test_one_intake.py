"""An API lead goes through capture's one intake, as a form's lead does (issue 13, item 1).

Through Django's test client with a real API key, on SQLite and PostgreSQL; events are
delivered by the real bus (outbox → task → handlers) when each request's transaction commits.
"""

import json
import time

import pytest

from leadmill.capture import tokens
from leadmill.capture.models import Channel, FieldKind, FormField, Submission
from leadmill.capture.services import submissions_process
from leadmill.capture.tests.factories import form_with_fields
from leadmill.consent.models import Consent, Purpose
from leadmill.contacts.models import Contact, LifecycleStage
from leadmill.core.models import OutboxEvent
from leadmill.nurture.models import Enrollment, Sequence
from leadmill.nurture.tests.factories import SequenceFactory
from leadmill.sales.tests.factories import AssignmentRuleFactory, SalesRepFactory
from leadmill.scoring.models import ContactScore, EngagementRule, FitRule

from ..services import api_key_create

pytestmark = pytest.mark.django_db


def bearer(secret, **headers):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}", **headers}


def post_api(client, secret, body, **headers):
    return client.post(
        "/api/v1/leads/",
        json.dumps(body),
        content_type="application/json",
        **bearer(secret, **headers),
    )


def post_form(client, form, **values):
    body = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "website": "",
        **values,
    }
    response = client.post(f"/f/{form.slug}/", json.dumps(body), content_type="application/json")
    submissions_process()
    return response


def proof_of(submission: Submission) -> tuple:
    """The consent proof of a lead, as the facts every channel records alike."""
    consent = Consent.objects.get(contact_id=submission.contact_id)
    return (
        consent.purpose.key,
        consent.purpose_text.version,
        consent.granted,
        consent.submission_id == submission.pk,
        consent.occurred_at == submission.created_at,
        consent.awaiting_confirmation,
    )


@pytest.fixture
def machine():
    """A form asking email, first name and role with a marketing checkbox; a fit rule and a
    capture rule that make a CEO an MQL; a sequence every capture enrols in; a sales rule
    that routes Instagram leads to one rep (another rep takes the rest)."""
    form = form_with_fields()
    FormField.objects.create(form=form, kind=FieldKind.ROLE, sort_order=2)
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=30)
    EngagementRule.objects.create(name="captured", event_type="lead_captured", points=25)
    sequence = SequenceFactory(trigger=Sequence.Trigger.CAPTURE)
    instagram_rep, other_rep = SalesRepFactory(), SalesRepFactory()
    AssignmentRuleFactory(sources="instagram", reps=[instagram_rep])
    return {
        "form": form,
        "sequence": sequence,
        "instagram_rep": instagram_rep,
        "other_rep": other_rep,
    }


def test_an_api_lead_and_a_form_lead_go_through_the_same_processing(
    client, machine, django_capture_on_commit_callbacks
):
    key, secret = api_key_create(name="crm", scopes=["leads:write"])
    version = Purpose.objects.get(key="email-marketing").current_text.version

    with django_capture_on_commit_callbacks(execute=True):
        form_answer = post_form(
            client,
            machine["form"],
            email="ana@example.com",
            first_name="Ana",
            role="CEO",
            **{"consent_email-marketing": True, "utm_source": "ig", "utm_medium": "social"},
        )
    with django_capture_on_commit_callbacks(execute=True):
        api_answer = post_api(
            client,
            secret,
            {
                "email": "bruno@example.com",
                "first_name": "Bruno",
                "role": "CEO",
                "utm_source": "IG",
                "utm_medium": "social",
                "consents": [
                    {"purpose": "email-marketing", "text_version": version, "granted": True}
                ],
            },
        )

    assert (form_answer.status_code, api_answer.status_code) == (201, 201)
    form_sub = Submission.objects.get(channel=Channel.WEB_FORM)
    api_sub = Submission.objects.get(channel=Channel.API)
    assert api_answer.json()["lead"]["id"] == api_sub.contact_id
    assert api_answer.json()["submission_id"] == api_sub.pk
    for submission in (form_sub, api_sub):
        assert submission.status == Submission.Status.ACCEPTED
        # The source, classified once by tracking's vocabulary, with the raw tags beside it.
        assert (submission.source_channel, submission.source, submission.medium) == (
            "social",
            "instagram",
            "social",
        )
        contact = Contact.objects.get(pk=submission.contact_id)
        assert (contact.first_channel, contact.first_source, contact.first_medium) == (
            "social",
            "instagram",
            "social",
        )
        assert contact.first_utm_source == submission.utm_source
        # Scored, MQL, enrolled in the sequence every capture triggers, owned by the rule's rep.
        score = ContactScore.objects.get(contact=contact)
        assert (score.fit_score, round(score.engagement_score)) == (30, 25)
        assert contact.lifecycle_stage == LifecycleStage.MQL
        assert Enrollment.objects.filter(contact=contact, sequence=machine["sequence"]).count() == 1
        assert contact.owner_id == machine["instagram_rep"].user_id
    assert (form_sub.utm_source, api_sub.utm_source) == ("ig", "IG")
    # The same consent proof: purpose, the text version shown, the answer, its submission and time.
    assert (
        proof_of(form_sub)
        == proof_of(api_sub)
        == ("email-marketing", version, True, True, True, False)
    )
    form_consent = Consent.objects.get(contact_id=form_sub.contact_id)
    api_consent = Consent.objects.get(contact_id=api_sub.contact_id)
    assert (form_consent.method, form_consent.author, form_consent.form_id) == (
        "form",
        "",
        machine["form"].pk,
    )
    assert (api_consent.method, api_consent.author, api_consent.form_id) == (
        "api",
        f"api_key:{key.pk}",
        None,
    )
    assert api_sub.author == f"api_key:{key.pk}"
    # Every subscriber of every event took both leads (none failed on a lead without a form).
    assert (
        list(
            OutboxEvent.objects.exclude(delivered_at__isnull=False, last_error="").values_list(
                "name", "last_error"
            )
        )
        == []
    )


def test_a_retried_delivery_with_the_same_external_id_is_written_once(
    client, django_capture_on_commit_callbacks
):
    _key, secret = api_key_create(name="crm", scopes=["leads:write"])

    with django_capture_on_commit_callbacks(execute=True):
        first = post_api(client, secret, {"email": "ana@example.com", "external_id": "crm-17"})
        again = post_api(
            client,
            secret,
            {"email": "ana@example.com", "first_name": "Ana", "external_id": "crm-17"},
        )
        by_header = post_api(
            client, secret, {"email": "bia@example.com"}, HTTP_IDEMPOTENCY_KEY="req-1"
        )
        header_again = post_api(
            client, secret, {"email": "bia@example.com"}, HTTP_IDEMPOTENCY_KEY="req-1"
        )

    assert (
        first.status_code,
        again.status_code,
        by_header.status_code,
        header_again.status_code,
    ) == (201, 200, 201, 201)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    # the same Idempotency-Key and body: the first answer again (ADR 33)
    assert header_again.json() == by_header.json()
    assert header_again["Idempotent-Replayed"] == "true"
    assert again.json()["lead"]["id"] == first.json()["lead"]["id"]
    assert again.json()["submission_id"] == first.json()["submission_id"]
    assert sorted(Submission.objects.values_list("external_id", flat=True)) == ["crm-17", "req-1"]
    assert (
        Contact.objects.get(email="ana@example.com").first_name == ""
    )  # the retry changed nothing


def test_an_api_lead_without_consent_is_a_lead_with_no_consent_recorded(
    client, django_capture_on_commit_callbacks
):
    key, secret = api_key_create(name="crm", scopes=["leads:write"])

    with django_capture_on_commit_callbacks(execute=True):
        response = post_api(client, secret, {"email": "ana@example.com"})

    assert response.status_code == 201
    submission = Submission.objects.get()
    assert (submission.channel, submission.status, submission.author) == (
        "api",
        "accepted",
        f"api_key:{key.pk}",
    )
    assert "_consent_texts" not in submission.values
    assert not Consent.objects.exists()


def test_a_consent_naming_an_unknown_purpose_or_version_is_refused_and_nothing_is_stored(client):
    _key, secret = api_key_create(name="crm", scopes=["leads:write"])
    form_with_fields()  # creates the email-marketing purpose, text version 1

    response = post_api(
        client,
        secret,
        {
            "email": "ana@example.com",
            "consents": [
                {"purpose": "email-marketing", "text_version": 1, "granted": True},
                {"purpose": "email-marketing", "text_version": 9, "granted": True},
                {"purpose": "nope", "text_version": 1, "granted": False},
            ],
        },
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "consent_unknown"
    assert sorted(body["errors"]) == ["consents.1", "consents.2"]
    assert not Submission.objects.exists()
    assert not Contact.objects.exists()


def test_an_api_lead_that_cannot_be_known_is_kept_as_rejected_and_answered_400(client):
    _key, secret = api_key_create(name="crm", scopes=["leads:write"])

    response = post_api(client, secret, {"email": "not-an-address", "external_id": "x1"})
    again = post_api(client, secret, {"email": "not-an-address", "external_id": "x1"})

    assert response.status_code == 400
    assert response.json()["code"] == "email_invalid"
    assert again.status_code == 409
    assert again.json()["code"] == "external_id_used"
    assert Submission.objects.get().status == Submission.Status.REJECTED
    assert not Contact.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_api_leads_events_go_to_the_drain_and_are_delivered_with_a_form_batch(
    client, machine, monkeypatch
):
    # Given the worker's drain not running yet (nothing nudges it), two API leads answered
    # 201 and one form post received
    from leadmill.capture import intake, services, tasks
    from leadmill.capture.events import LeadCaptured
    from leadmill.core import events
    from leadmill.core import tasks as core_tasks

    monkeypatch.setattr(services, "processing_schedule", lambda: None)
    monkeypatch.setattr(intake, "processing_schedule", lambda: None)
    queued = []
    monkeypatch.setattr(core_tasks, "outbox_deliver", queued.append)
    _key, secret = api_key_create(name="crm", scopes=["leads:write"])
    answers = [
        post_api(client, secret, {"email": f"api{n}@example.com", "role": "CEO"}) for n in (1, 2)
    ]
    token = tokens.render_token_make(form_id=machine["form"].pk, at=time.time() - 10)
    form_body = {"_rt": token, "website": "", "email": "form@example.com", "role": "CEO"}
    answers.append(
        client.post(
            f"/f/{machine['form'].slug}/", json.dumps(form_body), content_type="application/json"
        )
    )
    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert Submission.objects.get(channel=Channel.WEB_FORM).status == Submission.Status.RECEIVED
    # Then no delivery task was queued for the API leads' events, and no lead is scored yet
    assert queued == []
    assert not ContactScore.objects.exists()

    # When the drain runs, with a batch subscriber of LeadCaptured watching
    calls = []
    with events.subscribed(LeadCaptured, lambda batch: calls.append(batch), batch=True):
        tasks.submissions_process_task.call_local()

    # Then the three leads' LeadCaptured reached the subscriber in one call, every lead is
    # scored, enrolled and owned, and still no task was queued
    assert len(calls) == 1
    assert sorted(evt.channel for evt in calls[0]) == ["api", "api", "web_form"]
    for contact in Contact.objects.all():
        assert ContactScore.objects.filter(contact=contact).exists()
        assert Enrollment.objects.filter(contact=contact, sequence=machine["sequence"]).exists()
        assert contact.owner_id is not None
    assert Contact.objects.count() == 3
    assert queued == []
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()

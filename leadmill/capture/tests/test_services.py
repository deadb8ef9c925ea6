"""The submission pipeline without HTTP: receive (in the request), then process (worker)."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.consent.models import Consent
from leadmill.contacts.models import Contact
from leadmill.core import events
from leadmill.core.models import OutboxEvent

from .. import tokens
from ..events import LeadCaptured
from ..models import Submission
from ..selectors import form_definition
from ..services import RequestMeta, submission_receive, submissions_process
from .factories import form_with_fields

pytestmark = pytest.mark.django_db

META = RequestMeta(
    ip_address="203.0.113.7",
    user_agent="Mozilla/5.0 test",
    page_url="https://lp.example/ebook/",
    utm={"utm_source": "instagram", "utm_medium": "social"},
)


def post_data(form, **values):
    data = {"_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10), "website": ""}
    data.update(values)
    return data


def receive(form, data, meta=META):
    return submission_receive(definition=form_definition(slug=form.slug), data=data, meta=meta)


def receive_and_process(form, data, meta=META):
    """Given a post, when it is received and then processed by the worker."""
    outcome = receive(form, data, meta)
    submissions_process()
    outcome.submission.refresh_from_db()
    return outcome


def test_a_valid_post_is_stored_as_received_with_one_insert_and_no_contact_yet(
    django_assert_num_queries,
):
    form = form_with_fields()
    data = post_data(
        form, email="Ana@Example.com", first_name="Ana", **{"consent_email-marketing": "on"}
    )
    form_definition(slug=form.slug)  # warm the per-process form cache, as on a busy server

    # One statement: the insert, which counts the render token's posts itself (ADR 27).
    with django_assert_num_queries(1) as queries:
        outcome = receive(form, data)

    sql = queries.captured_queries[0]["sql"]
    assert sql.startswith('INSERT INTO "capture_submission"')
    assert "render_token_id = " in sql

    assert outcome.status == Submission.Status.RECEIVED
    assert outcome.accepted_like is True
    submission = Submission.objects.get()
    assert submission.values["email"] == "ana@example.com"
    assert submission.data["email"] == "Ana@Example.com"
    assert not Contact.objects.exists()


def test_processing_creates_the_contact_with_consent_and_source():
    form = form_with_fields()

    receive_and_process(
        form,
        post_data(
            form, email="Ana@Example.com", first_name="Ana", **{"consent_email-marketing": "on"}
        ),
    )

    contact = Contact.objects.get()
    assert (contact.email, contact.first_name) == ("ana@example.com", "Ana")
    assert (contact.first_source, contact.first_medium) == ("instagram", "social")
    assert contact.first_landing_url == "https://lp.example/ebook/"
    consent = Consent.objects.get()
    assert consent.granted is True
    assert consent.purpose.key == "email-marketing"
    assert consent.purpose_text.version == 1
    assert len(consent.purpose_text.text_hash) == 64
    assert (consent.ip_address, consent.user_agent, consent.form_id) == (
        "203.0.113.7",
        "Mozilla/5.0 test",
        form.pk,
    )
    submission = Submission.objects.get()
    assert consent.submission_id == submission.pk
    assert (submission.status, submission.contact) == ("accepted", contact)
    assert "_rt" not in submission.data


def test_the_consent_keeps_the_text_version_shown_when_the_text_changed_before_processing():
    form = form_with_fields()
    outcome = receive(
        form, post_data(form, email="ana@example.com", **{"consent_email-marketing": "on"})
    )
    purpose = form.consents.get().purpose
    purpose.text = "A newer text"
    purpose.save()

    submissions_process()

    assert Consent.objects.get().purpose_text.version == 1
    assert outcome.submission.pk == Consent.objects.get().submission_id


def test_an_unticked_consent_box_is_recorded_as_not_given():
    form = form_with_fields()

    receive_and_process(form, post_data(form, email="bo@example.com"))

    assert list(Consent.objects.values_list("granted", flat=True)) == [False]


def test_resubmission_with_same_email_in_other_case_and_spaces_updates_the_same_contact():
    form = form_with_fields()
    receive_and_process(
        form,
        post_data(
            form, email="ana@example.com", first_name="Ana", **{"consent_email-marketing": "on"}
        ),
    )

    receive_and_process(
        form,
        post_data(
            form,
            email="  ANA@Example.COM ",
            first_name="Ana Maria",
            **{"consent_email-marketing": "on"},
        ),
        RequestMeta(utm={"utm_source": "newsletter", "utm_medium": "email"}),
    )

    contact = Contact.objects.get()
    assert contact.first_name == "Ana Maria"
    assert (contact.first_source, contact.last_source) == ("instagram", "newsletter")
    assert Submission.objects.filter(contact=contact, status="accepted").count() == 2
    assert Consent.objects.filter(contact=contact, granted=True).count() == 2


def test_an_invalid_email_is_rejected_at_once_with_a_clear_message_and_the_values_kept():
    form = form_with_fields()

    outcome = receive(form, post_data(form, email="not-an-email", first_name="Ana"))

    assert outcome.status == Submission.Status.REJECTED
    assert outcome.errors == {"email": ["Enter a valid email address, like name@example.com."]}
    submission = Submission.objects.get()
    assert submission.data["first_name"] == "Ana"
    assert submission.errors == outcome.errors
    assert submissions_process() == 0
    assert not Contact.objects.exists()


def test_a_filled_honeypot_is_stored_as_spam_and_creates_no_contact():
    form = form_with_fields()

    outcome = receive_and_process(
        form, post_data(form, email="bot@example.com", website="http://spam")
    )

    assert outcome.status == Submission.Status.SPAM
    assert outcome.accepted_like is True
    assert Submission.objects.get().spam_reason == "honeypot"
    assert not Contact.objects.exists()
    assert not Consent.objects.exists()


def test_a_submission_faster_than_the_minimum_time_is_spam(settings):
    settings.LEADMILL_FORM_MIN_SECONDS = 3
    form = form_with_fields()
    data = post_data(form, email="fast@example.com")
    data["_rt"] = tokens.render_token_make(form_id=form.pk, at=time.time() - 1)

    outcome = receive_and_process(form, data)

    assert outcome.status == Submission.Status.SPAM
    assert Submission.objects.get().spam_reason == "too_fast"
    assert not Contact.objects.exists()


def test_a_missing_or_forged_render_token_is_spam():
    form = form_with_fields()
    other = form_with_fields(slug="other")

    forged = receive_and_process(form, {"email": "x@example.com", "_rt": "abc:def"})
    wrong_form = receive_and_process(
        form,
        {
            "email": "y@example.com",
            "_rt": tokens.render_token_make(form_id=other.pk, at=time.time() - 10),
        },
    )

    assert (forged.status, wrong_form.status) == ("spam", "spam")
    assert set(Submission.objects.values_list("spam_reason", flat=True)) == {"render_token_invalid"}
    assert not Contact.objects.exists()


def test_a_form_left_open_too_long_is_rejected_not_lost(settings):
    settings.LEADMILL_FORM_MAX_SECONDS = 60
    form = form_with_fields()
    data = post_data(form, email="slow@example.com")
    data["_rt"] = tokens.render_token_make(form_id=form.pk, at=time.time() - 120)

    outcome = receive(form, data)

    assert outcome.status == Submission.Status.REJECTED
    assert "open for too long" in outcome.errors["__all__"][0]
    assert Submission.objects.get().data["email"] == "slow@example.com"


def test_lead_captured_is_published_after_the_processing_commits(
    django_capture_on_commit_callbacks,
):
    form = form_with_fields()
    received = []

    with (
        events.subscribed(LeadCaptured, received.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        outcome = receive_and_process(form, post_data(form, email="ana@example.com"))

    assert len(received) == 1
    assert received[0].submission_id == outcome.submission.pk
    assert received[0].contact_id == Contact.objects.get().pk
    assert received[0].created is True


def test_spam_publishes_no_lead_captured(django_capture_on_commit_callbacks):
    form = form_with_fields()
    received = []

    with (
        events.subscribed(LeadCaptured, received.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        receive_and_process(form, post_data(form, email="bot@example.com", website="x"))

    assert received == []


def test_a_processing_failure_keeps_the_submission_with_status_error_and_the_batch_goes_on(
    monkeypatch,
):
    form = form_with_fields()
    receive(form, post_data(form, email="ana@example.com"))
    receive(form, post_data(form, email="bo@example.com"))
    from leadmill.contacts import services as contact_services

    real_upsert = contact_services.contacts_upsert

    def fail_for_ana(*, details):
        if any(item.email == "ana@example.com" for item in details):
            raise RuntimeError("bug")
        return real_upsert(details=details)

    monkeypatch.setattr("leadmill.capture.services.contacts_upsert", fail_for_ana)

    assert submissions_process() == 2

    statuses = dict(Submission.objects.values_list("values__email", "status"))
    assert statuses == {"ana@example.com": "error", "bo@example.com": "accepted"}
    assert list(Contact.objects.values_list("email", flat=True)) == ["bo@example.com"]


def test_a_processing_batch_costs_the_same_statements_for_ten_leads_as_for_two():
    # given a form whose leads come from three companies (known from a first batch on)
    form = form_with_fields()

    def processed(prefix: str, n: int) -> int:
        for i in range(n):
            receive(
                form,
                post_data(
                    form,
                    email=f"{prefix}{i}@corp{i % 3}.example.com",
                    **{"consent_email-marketing": "on"},
                ),
            )
        with CaptureQueriesContext(connection) as queries:
            assert submissions_process() == n
        return len(queries)

    processed("warm", 3)

    # when ten leads are processed in one batch, and then two
    ten, two = processed("ten", 10), processed("two", 2)

    # then the batch is set-based: as many statements either way, and every lead is there
    # with its consent and its LeadCaptured fact
    assert ten == two
    assert Submission.objects.filter(status=Submission.Status.ACCEPTED).count() == 15
    assert Consent.objects.filter(contact__email__startswith="ten").count() == 10
    captured = OutboxEvent.objects.filter(name="LeadCaptured").values_list("payload", flat=True)
    assert (
        sorted(
            Submission.objects.get(pk=payload["submission_id"]).contact_id == payload["contact_id"]
            for payload in captured
        )
        == [True] * 15
    )


def test_ip_is_truncated_in_proofs_when_asked(settings):
    settings.LEADMILL_TRUNCATE_IP = True
    form = form_with_fields()

    receive_and_process(form, post_data(form, email="ana@example.com"))

    assert Consent.objects.get().ip_address == "203.0.113.0"
    assert Submission.objects.get().ip_address == "203.0.113.0"

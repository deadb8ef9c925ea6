"""The submission pipeline (capture.services.submission_receive), without HTTP."""

import time

import pytest

from leadmill.consent.models import Consent
from leadmill.contacts.models import Contact
from leadmill.core import events

from .. import tokens
from ..events import LeadCaptured
from ..models import Submission
from ..services import RequestMeta, submission_receive
from .factories import form_with_fields

pytestmark = pytest.mark.django_db


def post_data(form, **values):
    data = {"_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10), "website": ""}
    data.update(values)
    return data


META = RequestMeta(ip_address="203.0.113.7", user_agent="Mozilla/5.0 test", page_url="https://lp.example/ebook/",
                   utm={"utm_source": "instagram", "utm_medium": "social"})


def test_an_accepted_submission_creates_the_contact_with_consent_and_source():
    form = form_with_fields()

    outcome = submission_receive(
        form=form, data=post_data(form, email="Ana@Example.com", first_name="Ana", **{"consent_email-marketing": "on"}),
        meta=META,
    )

    assert outcome.status == Submission.Status.ACCEPTED
    contact = Contact.objects.get()
    assert (contact.email, contact.first_name) == ("ana@example.com", "Ana")
    assert (contact.first_source, contact.first_medium) == ("instagram", "social")
    assert contact.first_landing_url == "https://lp.example/ebook/"
    consent = Consent.objects.get()
    assert consent.granted is True
    assert consent.purpose.key == "email-marketing"
    assert consent.purpose_text.version == 1
    assert len(consent.purpose_text.text_hash) == 64
    assert (consent.ip_address, consent.user_agent, consent.form_id) == ("203.0.113.7", "Mozilla/5.0 test", form.pk)
    assert consent.submission_id == outcome.submission.pk
    submission = Submission.objects.get()
    assert submission.contact == contact
    assert submission.data["email"] == "Ana@Example.com"
    assert "_rt" not in submission.data


def test_an_unticked_consent_box_is_recorded_as_not_given():
    form = form_with_fields()

    submission_receive(form=form, data=post_data(form, email="bo@example.com"), meta=META)

    assert list(Consent.objects.values_list("granted", flat=True)) == [False]


def test_resubmission_with_same_email_in_other_case_and_spaces_updates_the_same_contact():
    form = form_with_fields()
    submission_receive(form=form, data=post_data(form, email="ana@example.com", first_name="Ana",
                                                 **{"consent_email-marketing": "on"}), meta=META)

    outcome = submission_receive(
        form=form, data=post_data(form, email="  ANA@Example.COM ", first_name="Ana Maria",
                                  **{"consent_email-marketing": "on"}),
        meta=RequestMeta(utm={"utm_source": "newsletter", "utm_medium": "email"}),
    )

    assert outcome.status == Submission.Status.ACCEPTED
    assert outcome.created is False
    contact = Contact.objects.get()
    assert contact.first_name == "Ana Maria"
    assert (contact.first_source, contact.last_source) == ("instagram", "newsletter")
    assert Submission.objects.filter(contact=contact, status="accepted").count() == 2
    assert Consent.objects.filter(contact=contact, granted=True).count() == 2


def test_an_invalid_email_is_rejected_with_a_clear_message_and_the_values_kept():
    form = form_with_fields()

    outcome = submission_receive(form=form, data=post_data(form, email="not-an-email", first_name="Ana"), meta=META)

    assert outcome.status == Submission.Status.REJECTED
    assert outcome.errors == {"email": ["Enter a valid email address, like name@example.com."]}
    submission = Submission.objects.get()
    assert submission.data["first_name"] == "Ana"
    assert submission.errors == outcome.errors
    assert not Contact.objects.exists()


def test_a_filled_honeypot_is_stored_as_spam_and_creates_no_contact():
    form = form_with_fields()

    outcome = submission_receive(form=form, data=post_data(form, email="bot@example.com", website="http://spam"), meta=META)

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

    outcome = submission_receive(form=form, data=data, meta=META)

    assert outcome.status == Submission.Status.SPAM
    assert Submission.objects.get().spam_reason == "too_fast"
    assert not Contact.objects.exists()


def test_a_missing_or_forged_render_token_is_spam():
    form = form_with_fields()
    other = form_with_fields(slug="other")

    forged = submission_receive(form=form, data={"email": "x@example.com", "_rt": "abc:def"}, meta=META)
    wrong_form = submission_receive(
        form=form, data={"email": "y@example.com", "_rt": tokens.render_token_make(form_id=other.pk, at=time.time() - 10)},
        meta=META,
    )

    assert (forged.status, wrong_form.status) == ("spam", "spam")
    assert set(Submission.objects.values_list("spam_reason", flat=True)) == {"render_token_invalid"}
    assert not Contact.objects.exists()


def test_a_form_left_open_too_long_is_rejected_not_lost(settings):
    settings.LEADMILL_FORM_MAX_SECONDS = 60
    form = form_with_fields()
    data = post_data(form, email="slow@example.com")
    data["_rt"] = tokens.render_token_make(form_id=form.pk, at=time.time() - 120)

    outcome = submission_receive(form=form, data=data, meta=META)

    assert outcome.status == Submission.Status.REJECTED
    assert "open for too long" in outcome.errors["__all__"][0]
    assert Submission.objects.get().data["email"] == "slow@example.com"


def test_lead_captured_is_published_after_commit(django_capture_on_commit_callbacks):
    form = form_with_fields()
    received = []

    with events.subscribed(LeadCaptured, received.append), django_capture_on_commit_callbacks(execute=True):
        outcome = submission_receive(form=form, data=post_data(form, email="ana@example.com"), meta=META)

    assert len(received) == 1
    assert received[0].submission_id == outcome.submission.pk
    assert received[0].contact_id == outcome.contact_id
    assert received[0].created is True


def test_spam_publishes_no_lead_captured(django_capture_on_commit_callbacks):
    form = form_with_fields()
    received = []

    with events.subscribed(LeadCaptured, received.append), django_capture_on_commit_callbacks(execute=True):
        submission_receive(form=form, data=post_data(form, email="bot@example.com", website="x"), meta=META)

    assert received == []


def test_a_processing_failure_keeps_the_submission_with_status_error(monkeypatch):
    form = form_with_fields()

    def explode(**kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("leadmill.capture.services.contact_upsert", explode)

    outcome = submission_receive(form=form, data=post_data(form, email="ana@example.com"), meta=META)

    assert outcome.status == Submission.Status.ERROR
    submission = Submission.objects.get()
    assert (submission.status, submission.data["email"]) == ("error", "ana@example.com")
    assert not Contact.objects.exists()


def test_ip_is_truncated_in_proofs_when_asked(settings):
    settings.LEADMILL_TRUNCATE_IP = True
    form = form_with_fields()

    submission_receive(form=form, data=post_data(form, email="ana@example.com"), meta=META)

    assert Consent.objects.get().ip_address == "203.0.113.0"
    assert Submission.objects.get().ip_address == "203.0.113.0"

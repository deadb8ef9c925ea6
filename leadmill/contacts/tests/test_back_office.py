"""The rest of the back office, screen by screen: the Capture menu (offers, forms, CTAs,
submissions), the email outbox and lead custom fields.

(These screens are declared in capture/ and messaging/ ``wagtail_hooks.py``; their tests
live here with the leads screens they were built with.)
"""

import csv
import datetime as dt
import io

import pytest
from django.core import mail
from django.urls import reverse

from leadmill.capture.models import CallToAction, Form, Offer, Submission
from leadmill.capture.tests.factories import FormFactory, OfferFactory
from leadmill.messaging.models import Message, OutboxMessage

from ..models import CustomFieldDefinition
from .factories import ContactFactory

pytestmark = pytest.mark.django_db

SUBMISSIONS = "/admin/submissions/"


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


def test_the_main_menu_offers_leads_duplicates_capture_and_the_email_log(staff):
    response = staff.get(reverse("wagtailadmin_home"))

    assert response.status_code == 200
    html = response.content.decode()
    for label in (
        "Leads",
        "Possible duplicates",
        "Capture",
        "Offers",
        "Forms",
        "Calls to action",
        "Submissions",
        "Email log",
        "Consent purposes",
        "Lead custom fields",
    ):
        assert label in html, label


@pytest.mark.parametrize("model", [Offer, Form, CallToAction])
def test_offers_forms_and_ctas_have_their_listings_and_stay_choosable_as_snippets(staff, model):
    viewset = model.snippet_viewset

    listing = staff.get(reverse(viewset.get_url_name("list")))
    chooser = staff.get(reverse(viewset.chooser_viewset.get_url_name("choose")))

    assert listing.status_code == 200
    assert chooser.status_code == 200


def test_a_form_can_be_created_in_the_back_office(staff):
    offer = OfferFactory(name="Pricing guide")

    response = staff.post(
        reverse(Form.snippet_viewset.get_url_name("add")),
        {
            "name": "Pricing",
            "slug": "pricing",
            "offer": offer.pk,
            "submit_label": "Send",
            "success_message": "Thanks",
            "is_active": "on",
            "allowed_origins": "",
            "fields-TOTAL_FORMS": "1",
            "fields-INITIAL_FORMS": "0",
            "fields-MIN_NUM_FORMS": "0",
            "fields-MAX_NUM_FORMS": "1000",
            "fields-0-kind": "email",
            "fields-0-custom_key": "",
            "fields-0-label": "",
            "fields-0-required": "on",
            "fields-0-help_text": "",
            "fields-0-ORDER": "1",
            "fields-0-id": "",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
            "consents-MIN_NUM_FORMS": "0",
            "consents-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 302, (
        response.context["form"].errors if response.context else response
    )
    form = Form.objects.get(slug="pricing")
    assert [f.kind for f in form.fields.all()] == ["email"]


def submissions_fixture():
    ebook, webinar = FormFactory(name="Ebook"), FormFactory(name="Webinar")
    lead = ContactFactory(email="ana@example.com")
    accepted = Submission.objects.create(
        form=ebook,
        data={"email": "Ana@Example.com", "first_name": "Ana"},
        contact=lead,
        status=Submission.Status.ACCEPTED,
        utm_source="instagram",
        page_url="https://lp.example/ebook/",
    )
    spam = Submission.objects.create(
        form=ebook,
        data={"email": "bot@spam.example"},
        status=Submission.Status.SPAM,
        spam_reason="honeypot",
    )
    rejected = Submission.objects.create(
        form=webinar,
        data={"email": "not-an-email"},
        status=Submission.Status.REJECTED,
        errors={"email": ["Enter a valid email address, like name@example.com."]},
    )
    return ebook, accepted, spam, rejected


def test_the_submissions_listing_filters_spam_by_status(staff):
    _ebook, _accepted, spam, _rejected = submissions_fixture()

    response = staff.get(SUBMISSIONS, {"status": "spam"})

    assert response.status_code == 200
    assert list(response.context["object_list"]) == [spam]


def test_the_submissions_listing_filters_by_form_and_date(staff):
    ebook, accepted, spam, _rejected = submissions_fixture()
    Submission.objects.filter(pk=spam.pk).update(created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    today = accepted.created_at.date().isoformat()

    response = staff.get(
        SUBMISSIONS, {"form": ebook.pk, "created_at_from": today, "created_at_to": today}
    )

    assert list(response.context["object_list"]) == [accepted]


def test_submissions_are_found_by_the_email_that_was_typed(staff):
    _ebook, accepted, _spam, _rejected = submissions_fixture()

    response = staff.get(SUBMISSIONS, {"q": "ana@example"})

    assert list(response.context["object_list"]) == [accepted]


def test_the_submissions_csv_export_has_the_submitted_values_and_the_lead(staff):
    submissions_fixture()

    response = staff.get(SUBMISSIONS, {"status": "accepted", "export": "csv"})

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["Form"], r["Status"], r["Lead email"], r["utm_source"]) for r in rows] == [
        ("Ebook", "Accepted", "ana@example.com", "instagram")
    ]
    assert '"first_name": "Ana"' in rows[0]["Submitted values"]


def test_a_submission_page_shows_what_was_sent_and_why_it_was_rejected(staff):
    _ebook, accepted, _spam, rejected = submissions_fixture()

    accepted_page = staff.get(reverse("submission:inspect", args=[accepted.pk]))
    rejected_page = staff.get(reverse("submission:inspect", args=[rejected.pk]))

    assert accepted_page.status_code == 200
    assert "Ana@Example.com" in accepted_page.content.decode()
    assert reverse("leads:inspect", args=[accepted.contact_id]) in accepted_page.content.decode()
    assert "Enter a valid email address" in rejected_page.content.decode()


def test_submissions_are_read_only(staff):
    _ebook, accepted, _spam, _rejected = submissions_fixture()

    edit = staff.post(reverse("submission:edit", args=[accepted.pk]), {})
    delete = staff.post(reverse("submission:delete", args=[accepted.pk]))

    assert edit.status_code == delete.status_code == 302
    assert Submission.objects.count() == 3
    page = staff.get(reverse("submission:inspect", args=[accepted.pk])).content.decode()
    assert reverse("submission:edit", args=[accepted.pk]) not in page
    assert reverse("submission:delete", args=[accepted.pk]) not in page


def test_the_email_log_lists_what_the_outbox_kept_and_shows_the_html_in_a_sandbox(staff, settings):
    settings.EMAIL_BACKEND = "leadmill.messaging.backends.OutboxEmailBackend"
    message = mail.EmailMultiAlternatives(
        "Your guide", "Here it is.", "leads@localhost", ["ana@example.com"]
    )
    message.attach_alternative("<p>Here it is.</p><script>alert(1)</script>", "text/html")
    message.send()
    kept = OutboxMessage.objects.get()
    logged = Message.objects.get()  # sent around the log: the outbox gives it a row

    listing = staff.get("/admin/emails/")
    page = staff.get(reverse("message:inspect", args=[logged.pk]))

    assert f"<{logged.message_id}>" == kept.message_id
    assert (logged.to_email, logged.status) == ("ana@example.com", Message.Status.SENT)
    assert listing.status_code == 200
    assert "Your guide" in listing.content.decode()
    html = page.content.decode()
    assert "<iframe sandbox srcdoc=" in html
    assert "<script>alert(1)</script>" not in html  # escaped into the sandboxed frame's srcdoc
    assert staff.post(reverse("message:delete", args=[logged.pk])).status_code == 302
    assert Message.objects.count() == 1


def test_custom_fields_are_defined_in_settings(staff):
    response = staff.post(
        "/admin/lead-custom-fields/new/",
        {"label": "Plan", "key": "plan", "field_type": "choice", "choices": "Free\nPro"},
    )

    assert response.status_code == 302
    assert CustomFieldDefinition.objects.get().choice_list == ["Free", "Pro"]

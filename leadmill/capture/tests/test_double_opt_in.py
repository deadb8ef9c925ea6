"""Double opt-in forms: marketing consent waits for the emailed link; the offer does not."""

import json
import re
import time

import pytest
from django.core import mail
from django.core.files.base import ContentFile

from leadmill.consent.models import Consent
from leadmill.consent.selectors import may_receive_marketing_email
from leadmill.consent.services import suppression_add
from leadmill.contacts.models import Contact

from .. import tokens
from ..models import Offer, Submission
from ..opt_in import opt_in_request_send, opt_in_url
from ..services import submissions_process
from .factories import OfferFactory, form_with_fields

pytestmark = pytest.mark.django_db

CONFIRM_LINK = re.compile(r"https?://\S+/f/confirm/[^/\s]+/")


@pytest.fixture
def locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def submit(client, form, **values):
    """A person posts the form; the worker processes it and delivers its events (inline)."""
    payload = {"_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10), "website": ""}
    payload.update(values)
    response = client.post(
        f"/f/{form.slug}/", data=json.dumps(payload), content_type="application/json"
    )
    submissions_process()
    return response


def double_opt_in_form(**kwargs):
    form = form_with_fields(**kwargs)
    form.double_opt_in = True
    form.save()
    return form


def confirm_path(settings, message) -> str:
    return CONFIRM_LINK.search(message.body).group(0).removeprefix(settings.BASE_URL)


@pytest.mark.django_db(transaction=True)
def test_the_whole_double_opt_in_journey(client, settings, locmem_email):
    # Given a double opt-in form with a download offer
    offer = OfferFactory(kind=Offer.Kind.DOWNLOAD, email_subject="Your playbook")
    offer.file.save("guide.pdf", ContentFile(b"%PDF-1.4 test"))
    form = double_opt_in_form(offer=offer)

    # When a person submits it with the marketing box ticked
    response = submit(client, form, email="ana@example.com", **{"consent_email-marketing": "on"})

    # Then the offer arrives at once, with a confirmation request, and no marketing permission yet
    assert response.status_code == 201
    contact = Contact.objects.get()
    assert sorted(m.subject for m in mail.outbox) == [
        "Please confirm your subscription",
        "Your playbook",
    ]
    assert may_receive_marketing_email(contact_id=contact.pk) is False
    (awaiting,) = Consent.objects.filter(contact=contact)
    assert (awaiting.granted, awaiting.awaiting_confirmation, awaiting.method) == (
        True,
        True,
        "form",
    )
    request = next(m for m in mail.outbox if m.subject == "Please confirm your subscription")
    assert request.to == ["ana@example.com"]
    path = confirm_path(settings, request)

    # When a mail scanner (or the person) opens the link: a page with a button, nothing confirmed
    opened = client.get(path, HTTP_USER_AGENT="Scanner/1.0")
    assert opened.status_code == 200
    assert 'method="post"' in opened.content.decode()
    assert Consent.objects.filter(contact=contact).count() == 1
    assert may_receive_marketing_email(contact_id=contact.pk) is False

    # When the person presses the button
    confirmed = client.post(path, REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="Firefox")
    assert confirmed.status_code == 200
    assert "you are subscribed" in confirmed.content.decode()
    assert may_receive_marketing_email(contact_id=contact.pk) is True
    rows = list(
        Consent.objects.filter(contact=contact)
        .order_by("id")
        .values_list("method", "granted", "awaiting_confirmation", "purpose_text_id", "ip_address")
    )
    assert rows == [
        ("form", True, True, awaiting.purpose_text_id, "127.0.0.1"),
        ("double_opt_in", True, False, awaiting.purpose_text_id, "198.51.100.4"),
    ]

    # When the link is used a second time: "already confirmed", nothing written
    again = client.post(path)
    reopened = client.get(path)
    assert "Already confirmed" in again.content.decode()
    assert "Already confirmed" in reopened.content.decode()
    assert Consent.objects.filter(contact=contact).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_form_without_double_opt_in_grants_at_once_and_sends_no_confirmation(
    client, locmem_email
):
    form = form_with_fields()

    submit(client, form, email="ana@example.com", **{"consent_email-marketing": "on"})

    assert may_receive_marketing_email(contact_id=Contact.objects.get().pk) is True
    assert [m.subject for m in mail.outbox] == []
    assert Consent.objects.get().awaiting_confirmation is False


@pytest.mark.django_db(transaction=True)
def test_no_confirmation_is_sent_when_the_marketing_box_was_not_ticked(client, locmem_email):
    form = double_opt_in_form()

    submit(client, form, email="ana@example.com")

    assert mail.outbox == []
    assert list(Consent.objects.values_list("granted", "awaiting_confirmation")) == [(False, False)]


def test_the_confirmation_request_is_sent_once_however_often_the_event_arrives(
    locmem_email, settings
):
    form = double_opt_in_form()
    submission, awaiting = _processed_submission(form)

    first = opt_in_request_send(submission_id=submission.pk)
    second = opt_in_request_send(submission_id=submission.pk)

    assert (first, second) == (True, False)
    assert len(mail.outbox) == 1
    token = confirm_path(settings, mail.outbox[0]).split("/")[3]
    assert tokens.opt_in_token_read(token) == (submission.contact_id, [awaiting.pk])


def test_no_confirmation_request_goes_to_a_suppressed_address(locmem_email):
    form = double_opt_in_form()
    submission, _awaiting = _processed_submission(form)
    suppression_add(email="ana@example.com", reason="complaint")

    assert opt_in_request_send(submission_id=submission.pk) is False
    assert mail.outbox == []
    assert Submission.objects.get().opt_in_emailed_at is None


def test_a_forged_or_altered_confirmation_link_gets_a_400_page_and_confirms_nothing(client):
    form = double_opt_in_form()
    submission, awaiting = _processed_submission(form)
    forged = (
        tokens.opt_in_token_make(contact_id=submission.contact_id, consent_ids=[awaiting.pk])[:-3]
        + "xyz"
    )

    get = client.get(f"/f/confirm/{forged}/")
    post = client.post(f"/f/confirm/{forged}/")
    garbage = client.post("/f/confirm/not-a-token/")

    assert (get.status_code, post.status_code, garbage.status_code) == (400, 400, 400)
    assert "does not work" in post.content.decode()
    assert Consent.objects.count() == 1
    assert may_receive_marketing_email(contact_id=submission.contact_id) is False


def test_an_expired_confirmation_link_confirms_nothing(client, settings):
    form = double_opt_in_form()
    submission, awaiting = _processed_submission(form)
    path = opt_in_url(contact_id=submission.contact_id, consent_ids=[awaiting.pk]).removeprefix(
        settings.BASE_URL
    )
    settings.LEADMILL_DOUBLE_OPT_IN_DAYS = 0
    time.sleep(1.1)

    response = client.post(path)

    assert response.status_code == 400
    assert Consent.objects.count() == 1


def test_a_link_cannot_confirm_another_contacts_consents(client, settings):
    form = double_opt_in_form()
    submission, awaiting = _processed_submission(form)
    other = Contact.objects.create(email="mallory@example.com")
    path = opt_in_url(contact_id=other.pk, consent_ids=[awaiting.pk]).removeprefix(
        settings.BASE_URL
    )

    response = client.post(path)

    assert "Already confirmed" in response.content.decode()  # nothing of this contact waits
    assert Consent.objects.count() == 1
    assert may_receive_marketing_email(contact_id=submission.contact_id) is False


def test_the_confirm_page_keeps_the_token_out_of_referrers_and_search_engines(client, settings):
    form = double_opt_in_form()
    submission, awaiting = _processed_submission(form)
    path = opt_in_url(contact_id=submission.contact_id, consent_ids=[awaiting.pk]).removeprefix(
        settings.BASE_URL
    )

    response = client.get(path)

    assert (response["Referrer-Policy"], response["X-Robots-Tag"]) == (
        "no-referrer",
        "noindex, nofollow",
    )
    assert "no-cache" in response["Cache-Control"]


def _processed_submission(form):
    """Given a double opt-in submission processed by the worker (events not delivered)."""
    from ..selectors import form_definition
    from ..services import RequestMeta, submission_receive

    payload = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "website": "",
        "email": "ana@example.com",
        "consent_email-marketing": "on",
    }
    outcome = submission_receive(
        definition=form_definition(slug=form.slug),
        data=payload,
        meta=RequestMeta(ip_address="203.0.113.7"),
    )
    submissions_process()
    submission = Submission.objects.select_related("contact").get(pk=outcome.submission.pk)
    return submission, Consent.objects.get(submission_id=submission.pk)


def test_the_form_editor_offers_the_double_opt_in_switch(client, django_user_model):
    from django.urls import reverse

    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    form = form_with_fields()

    response = client.get(reverse(form.snippet_viewset.get_url_name("edit"), args=[form.pk]))

    assert response.status_code == 200
    assert 'name="double_opt_in"' in response.content.decode()

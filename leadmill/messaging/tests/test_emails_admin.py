"""Email templates and the marketing email log in the back office."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from leadmill.consent.tests.factories import SuppressionFactory
from leadmill.contacts.tests.factories import ContactFactory

from ..models import EmailTemplate, Message
from .factories import EmailTemplateFactory, MessageFactory

pytestmark = pytest.mark.django_db

TEMPLATES = "/admin/snippets/messaging/emailtemplate/"


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def form_data(**overrides):
    return {
        "name": "Welcome",
        "subject": "Hi {{ first_name }}",
        "preheader": "",
        "body": "<p>Hello</p>",
        "from_name": "",
        "from_email": "",
        "reply_to": "",
        "purpose": "",
        **overrides,
    }


def test_a_template_with_a_personalisation_error_is_refused_with_a_clear_message(staff):
    response = staff.post(f"{TEMPLATES}add/", form_data(body="<p>{% if %}x{% endif %}</p>"))

    assert response.status_code == 200
    assert EmailTemplate.objects.count() == 0
    errors = response.context["form"].errors
    assert list(errors) == ["body"]
    assert errors["body"][0].startswith("Personalisation error: ")


def test_a_valid_template_is_saved(staff):
    response = staff.post(f"{TEMPLATES}add/", form_data())

    assert response.status_code == 302
    assert EmailTemplate.objects.get().subject == "Hi {{ first_name }}"


def test_the_preview_renders_for_a_chosen_lead_in_a_sandboxed_frame(staff):
    template = EmailTemplateFactory(
        subject='Hi {{ first_name|default:"there" }}', body="<p>Dear {{ first_name }}</p>"
    )
    ContactFactory(first_name="Beatriz", email="bea@example.com")

    response = staff.get(
        reverse("wagtailsnippets_messaging_emailtemplate:preview", args=[template.pk]),
        {"lead": "bea@example.com"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<iframe sandbox srcdoc=" in html
    assert (
        "&lt;p&gt;Dear Beatriz&lt;/p&gt;" in html
    )  # escaped inside srcdoc, never live in the admin page
    assert response.context["rendered"].subject == "Hi Beatriz"


def test_the_preview_falls_back_to_the_sample_lead(staff):
    template = EmailTemplateFactory(subject="Hi {{ first_name }}")

    response = staff.get(
        reverse("wagtailsnippets_messaging_emailtemplate:preview", args=[template.pk]),
        {"lead": "nobody@example.com"},
    )

    assert response.context["rendered"].subject == "Hi Ana"
    assert response.context["lead_error"] != ""


def test_send_test_goes_through_the_backend_with_a_test_subject(staff):
    template = EmailTemplateFactory(subject="Hi {{ first_name }}")

    response = staff.post(
        reverse("wagtailsnippets_messaging_emailtemplate:send_test", args=[template.pk]),
        {"to": "me@example.com"},
    )

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert (sent.subject, sent.to) == ("[Test] Hi Ana", ["me@example.com"])
    assert sent.alternatives[0][1] == "text/html"
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert Message.objects.count() == 0


def test_send_test_refuses_a_suppressed_address(staff):
    template = EmailTemplateFactory()
    SuppressionFactory(email="bounced@example.com")

    staff.post(
        reverse("wagtailsnippets_messaging_emailtemplate:send_test", args=[template.pk]),
        {"to": "bounced@example.com"},
    )

    assert mail.outbox == []


def test_the_message_log_lists_messages_and_is_read_only(staff):
    MessageFactory(
        contact=ContactFactory(first_name="Carla", last_name="Moura"),
        template=EmailTemplateFactory(name="Welcome"),
        status=Message.Status.SENT,
    )

    listing = staff.get("/admin/emails/")
    add = staff.get("/admin/emails/new/")

    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Carla Moura" in html
    assert "Welcome" in html
    assert add.status_code == 302  # Wagtail redirects a refused permission to the dashboard


def test_the_message_log_is_searchable_by_address_and_filterable_by_status(staff):
    MessageFactory(
        contact=ContactFactory(first_name="Carla", email="carla@example.com"),
        status=Message.Status.SENT,
    )
    MessageFactory(
        contact=ContactFactory(first_name="Duarte", email="duarte@example.com"),
        status=Message.Status.SUPPRESSED,
    )

    found = staff.get("/admin/emails/", {"q": "carla@"})
    suppressed = staff.get("/admin/emails/", {"status": "suppressed"})

    assert [m.contact.first_name for m in found.context["object_list"]] == ["Carla"]
    assert [m.contact.first_name for m in suppressed.context["object_list"]] == ["Duarte"]


def test_the_listing_and_the_edit_page_link_to_the_preview(staff):
    template = EmailTemplateFactory(name="Welcome")
    preview = reverse("wagtailsnippets_messaging_emailtemplate:preview", args=[template.pk])

    listing = staff.get(TEMPLATES)
    edit = staff.get(f"{TEMPLATES}edit/{template.pk}/")

    assert (listing.status_code, edit.status_code) == (200, 200)
    assert preview in listing.content.decode()
    assert preview in edit.content.decode()


def test_a_marketing_email_in_the_log_shows_its_address_and_subject_in_the_readers_language(
    staff, django_user_model
):
    # Given a sent marketing email, the copy the outbox kept of it, and a reader of Portuguese
    from django.utils import timezone
    from wagtail.users.models import UserProfile

    from ..models import OutboxMessage

    message = MessageFactory(
        contact=ContactFactory(first_name="Carla", last_name="Moura", email="carla@example.com"),
        template=EmailTemplateFactory(name="Welcome"),
        status=Message.Status.SENT,
        sent_at=timezone.now(),
    )
    OutboxMessage.objects.create(
        message_id=f"<{message.message_id}>",
        from_email="leads@example.com",
        to="carla@example.com",
        subject="Carla, start with chapter 2",
        text_body="Hi Carla",
    )
    profile = UserProfile.get_for_user(django_user_model.objects.get(username="boss"))
    profile.preferred_language = "pt-br"
    profile.save()

    # When they open it in the email log
    response = staff.get(f"/admin/emails/inspect/{message.pk}/")

    # Then its fields are named in Portuguese, with the address and subject it went out with,
    # a dash for what did not happen, and the page is titled by its subject and recipient
    assert response.status_code == 200
    html = response.content.decode()
    shown = {
        label.strip(): value.strip()
        for label, value in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, re.DOTALL)
    }
    assert shown["Lead"] == "Carla Moura"
    assert shown["Para"] == "carla@example.com"
    assert shown["Modelo de e-mail"] == "Welcome"
    assert shown["Assunto"] == "Carla, start with chapter 2"
    assert shown["Aberto"] == "—"
    assert shown["Disparo"] == "—"
    assert not {"Contact", "Template", "Opened at", "Broadcast id"} & set(shown)
    assert "Welcome → Carla Moura" in html

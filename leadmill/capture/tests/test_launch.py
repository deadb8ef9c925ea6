"""A new offer live in one flow (capture.launch and its back-office screen)."""

import datetime as dt
import re
import time
import zoneinfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from leadmill.consent.models import Purpose

from .. import tokens
from ..calendar import offer_calendar
from ..demo import demo_seed
from ..launch import FULL, SHORT, OfferDraft, landing_page_launch
from ..models import Form, Offer, Submission
from ..models import FormConsent as FormConsentModel
from ..pages import LandingPage
from ..services import submissions_process

pytestmark = pytest.mark.django_db

SAO_PAULO = zoneinfo.ZoneInfo("America/Sao_Paulo")


def webinar_draft(**overrides) -> OfferDraft:
    values = {
        "kind": Offer.Kind.EVENT,
        "name": "Spring webinar: lead scoring",
        "starts_at": dt.datetime(2027, 3, 10, 15, 0, tzinfo=SAO_PAULO),
        "time_zone": "America/Sao_Paulo",
        "join_url": "https://meet.example.com/spring",
        "capacity": 100,
    }
    return OfferDraft(**{**values, **overrides})


def launch(**overrides) -> LandingPage:
    values = {
        "offer": webinar_draft(),
        "headline": "",
        "description": "",
        "benefits": [],
        "fields": ["first_name"],
        "purposes": list(Purpose.objects.order_by("pk")),
        "template": FULL,
        "publish": True,
    }
    return landing_page_launch(**{**values, **overrides})


def test_a_webinar_is_live_with_its_offer_form_and_page_in_one_call(client):
    # Given the demo (a home page and the consent purposes, the privacy one with its notice)
    demo_seed()

    # When a marketer launches a webinar page
    page = launch(benefits=["See scoring live", "Ask your questions"])

    # Then the offer, the form and the live page exist, each linked to the next
    offer = Offer.objects.get(name="Spring webinar: lead scoring")
    form = Form.objects.get(offer=offer)
    assert (offer.kind, offer.join_url, offer.capacity) == (
        "event",
        "https://meet.example.com/spring",
        100,
    )
    assert offer.starts_at == dt.datetime(2027, 3, 10, 18, 0, tzinfo=dt.UTC)
    assert form.slug == page.slug == "spring-webinar-lead-scoring"
    assert [(f.kind, f.required) for f in form.fields.all()] == [
        ("email", True),
        ("first_name", False),
    ]
    assert [(c.purpose.key, c.notice_page_id is not None) for c in form.consents.all()] == [
        ("email-marketing", False),
        ("privacy", True),
    ]
    assert form.submit_label == "Save my seat"
    assert (page.live, page.form_id) == (True, form.pk)
    assert [block.block_type for block in page.body] == ["hero", "benefits", "offer", "form"]
    html = client.get("/spring-webinar-lead-scoring/").content.decode()
    assert "Starts March 10, 2027, 3 p.m. (America/Sao_Paulo)." in html
    assert 'action="/f/spring-webinar-lead-scoring/"' in html


def test_the_page_holds_only_what_the_marketer_wrote_never_a_hint():
    demo_seed()

    page = launch(template=SHORT, publish=False)

    assert [block.block_type for block in page.body] == ["hero", "form"]
    assert page.body[0].value["heading"] == "Spring webinar: lead scoring"
    assert page.live is False and page.get_latest_revision() is not None
    text = str(page.body.raw_data)
    for hint in ("What exactly the visitor receives", "What you get", "A concrete benefit"):
        assert hint not in text


def test_a_second_page_with_the_same_name_gets_a_free_slug():
    demo_seed()
    launch()

    second = launch()

    assert second.slug == "spring-webinar-lead-scoring-2"
    assert second.form.slug == "spring-webinar-lead-scoring-2"


def test_a_download_without_a_file_is_refused_and_nothing_is_written():
    demo_seed()
    before = (Offer.objects.count(), Form.objects.count(), LandingPage.objects.count())

    with pytest.raises(ValidationError) as error:
        Offer(name="Checklist", kind=Offer.Kind.DOWNLOAD).full_clean()

    assert error.value.message_dict == {"file": ["Upload the file that people download."]}
    assert (Offer.objects.count(), Form.objects.count(), LandingPage.objects.count()) == before


def test_a_download_launch_keeps_its_file():
    demo_seed()

    page = launch(
        offer=OfferDraft(
            kind=Offer.Kind.DOWNLOAD,
            name="Checklist",
            file=SimpleUploadedFile("checklist.pdf", b"%PDF-1.4 checklist"),
        )
    )

    offer = page.form.offer
    assert offer.file.name.startswith("offers/checklist")
    assert offer.file.read() == b"%PDF-1.4 checklist"


@pytest.mark.django_db(transaction=True)
def test_a_registration_gets_the_time_the_join_link_and_a_calendar_file(client, settings):
    # Given a live webinar page
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    demo_seed()
    page = launch()
    form = page.form

    # When a person registers on it
    response = client.post(
        f"/f/{form.slug}/",
        data={
            "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
            "_page": str(page.pk),
            "website": "",
            "email": "ana@example.com",
            "consent_privacy": "on",
        },
    )
    submissions_process()  # the worker, inline
    thanks = client.get(response["Location"]).content.decode()

    # Then the thank-you page and the email give the time, the join link and the .ics file
    assert response.status_code == 303, response.content
    assert "Starts March 10, 2027, 3 p.m. (America/Sao_Paulo)." in thanks
    assert '<a class="lm-button" href="https://meet.example.com/spring">Join link</a>' in thanks
    calendar_path = re.search(r'href="(/d/[^"]+/event\.ics)"', thanks).group(1)
    calendar = client.get(calendar_path)
    assert calendar["Content-Type"] == "text/calendar; charset=utf-8"
    body = calendar.content.decode()
    assert "DTSTART:20270310T180000Z\r\n" in body
    assert "DTEND:20270310T190000Z\r\n" in body
    assert "LOCATION:https://meet.example.com/spring\r\n" in body
    [email] = [m for m in mail.outbox if m.to == ["ana@example.com"]]
    assert "Starts March 10, 2027, 3 p.m. (America/Sao_Paulo)." in email.body
    assert f"{settings.BASE_URL}/d/" in email.body and "/event.ics" in email.body
    assert Submission.objects.get(form=form).status == "accepted"


def test_a_forged_calendar_link_is_not_found(client):
    assert client.get("/d/forged/event.ics").status_code == 404


def test_the_calendar_escapes_its_text_and_folds_long_lines():
    offer = Offer(
        pk=7,
        name="Q&A; leads, scores and a very long title that goes past seventy-five octets",
        starts_at=dt.datetime(2027, 1, 2, 3, 4, tzinfo=dt.UTC),
        created_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )

    text = offer_calendar(offer=offer)

    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert "SUMMARY:Q&A\\; leads\\, scores" in text.replace("\r\n ", "")
    assert offer_calendar(offer=Offer(name="No date")) == ""


def test_the_form_editor_offers_the_consent_purpose_as_a_plain_labelled_choice(
    client, django_user_model
):
    from django.urls import reverse
    from django.utils import translation

    demo_seed()
    admin = django_user_model.objects.create_superuser("m", "m@leadmill.test", "pw-41-long-enough")
    client.force_login(admin)

    html = client.get(reverse(Form.snippet_viewset.get_url_name("add"))).content.decode()

    assert re.search(r'<select name="consents-__prefix__-purpose"', html)
    with translation.override("pt-br"):
        assert str(FormConsentModel._meta.get_field("purpose").verbose_name) == "finalidade"

"""The public endpoints over HTTP: /f/<slug>/, /c/<slug>/, /d/<token>/."""

import json
import time

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper

from leadmill.contacts.models import Contact
from leadmill.core.models import OutboxEvent
from leadmill.tracking.models import BotRule
from leadmill.tracking.selectors import config_cache_clear

from .. import tokens, views
from ..models import CallToAction, Offer, Submission
from ..selectors import form_definition
from ..services import submissions_process
from .factories import OfferFactory, form_with_fields

pytestmark = pytest.mark.django_db


def fields(form, **values):
    data = {"_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10), "website": ""}
    data.update(values)
    return data


def post_json(client, form, payload, **headers):
    """POST JSON; then the worker processes what was received (it runs inline where
    on-commit callbacks fire, i.e. in transactional tests)."""
    response = client.post(
        f"/f/{form.slug}/", data=json.dumps(payload), content_type="application/json", **headers
    )
    submissions_process()
    return response


def test_a_json_post_is_accepted_with_201_and_a_thank_you_url(client, settings):
    form = form_with_fields()

    response = post_json(client, form, fields(form, email="ana@example.com"))

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "accepted"
    assert body["thank_you_url"].startswith(settings.BASE_URL + "/f/ebook/thanks/?s=")
    assert (
        "no-store" in response["Cache-Control"]
    )  # an answer about one person: never kept by a cache
    assert Contact.objects.filter(email="ana@example.com").exists()


def test_a_plain_html_post_redirects_to_the_thank_you_page(client):
    form = form_with_fields()

    response = client.post("/f/ebook/", data=fields(form, email="ana@example.com"))
    submissions_process()

    assert response.status_code == 303
    assert response["Location"].startswith("/f/ebook/thanks/?s=")
    assert Submission.objects.get().status == "accepted"


def test_invalid_json_input_gets_400_with_errors_per_field(client):
    form = form_with_fields()

    response = post_json(client, form, fields(form, email="nope", first_name="Ana"))

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "email": ["Enter a valid email address, like name@example.com."]
    }
    assert Submission.objects.get().status == "rejected"


def test_spam_is_answered_like_a_success(client):
    form = form_with_fields()

    response = post_json(
        client, form, fields(form, email="bot@example.com", website="http://spam.example")
    )

    assert response.status_code == 201
    assert Submission.objects.get().status == "spam"
    assert not Contact.objects.exists()


def test_the_rate_limit_per_ip_answers_429_with_retry_after(client, settings):
    settings.LEADMILL_RATE_LIMIT_PER_IP = 2
    form = form_with_fields()

    statuses = [
        post_json(client, form, fields(form, email=f"p{i}@example.com")).status_code
        for i in range(3)
    ]
    response = post_json(client, form, fields(form, email="late@example.com"))

    assert statuses == [201, 201, 429]
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= settings.LEADMILL_RATE_LIMIT_WINDOW + 1
    assert Submission.objects.count() == 2


def test_the_rate_limit_per_ip_holds_back_only_that_address(client, settings):
    settings.LEADMILL_RATE_LIMIT_PER_IP = 1
    form = form_with_fields()

    first = post_json(client, form, fields(form, email="a@example.com"), REMOTE_ADDR="198.51.100.1")
    again = post_json(client, form, fields(form, email="b@example.com"), REMOTE_ADDR="198.51.100.1")
    other = post_json(client, form, fields(form, email="c@example.com"), REMOTE_ADDR="198.51.100.2")

    assert (first.status_code, again.status_code, other.status_code) == (201, 429, 201)
    assert sorted(Submission.objects.values_list("ip_address", flat=True)) == [
        "198.51.100.1",
        "198.51.100.2",
    ]


def test_the_rate_limit_per_form_counts_all_addresses(client, settings):
    settings.LEADMILL_RATE_LIMIT_PER_FORM = 1
    form = form_with_fields()

    first = post_json(client, form, fields(form, email="a@example.com"), REMOTE_ADDR="198.51.100.1")
    second = post_json(
        client, form, fields(form, email="b@example.com"), REMOTE_ADDR="198.51.100.2"
    )

    assert (first.status_code, second.status_code) == (201, 429)


def test_an_embed_post_from_an_origin_the_form_does_not_allow_is_refused(client):
    form = form_with_fields(allowed_origins="https://partner.example")

    response = post_json(
        client, form, fields(form, email="ana@example.com"), HTTP_ORIGIN="https://evil.example"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "origin_not_allowed"
    assert not Submission.objects.exists()


def test_an_embed_post_from_an_allowed_origin_gets_cors_headers(client):
    form = form_with_fields(allowed_origins="https://partner.example/\nhttps://other.example")

    response = post_json(
        client, form, fields(form, email="ana@example.com"), HTTP_ORIGIN="https://partner.example"
    )
    preflight = client.options("/f/ebook/", HTTP_ORIGIN="https://partner.example")

    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == "https://partner.example"
    assert preflight.status_code == 204
    assert "POST" in preflight["Access-Control-Allow-Methods"]


def test_an_embed_post_works_out_its_origin_once_for_access_channel_and_cors(client, monkeypatch):
    form = form_with_fields(allowed_origins="https://partner.example")
    asked = []
    real = views.request_origin

    def request_origin(meta):
        asked.append(meta.get("HTTP_REFERER"))
        return real(meta)

    monkeypatch.setattr(views, "request_origin", request_origin)

    response = post_json(
        client,
        form,
        fields(form, email="ana@example.com"),
        HTTP_REFERER="https://partner.example/pricing",  # no Origin: the Referer's is used
    )

    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == "https://partner.example"
    assert Submission.objects.get().channel == "embed"
    assert asked == ["https://partner.example/pricing"]


def test_a_referer_from_another_site_is_refused_when_no_origin_is_sent(client):
    form = form_with_fields()

    response = client.post(
        "/f/ebook/",
        data=fields(form, email="ana@example.com"),
        HTTP_REFERER="https://evil.example/page",
    )

    assert response.status_code == 403


def test_malformed_json_gets_400_and_stores_nothing(client):
    form_with_fields()

    response = client.post("/f/ebook/", data="{not json", content_type="application/json")
    array = client.post("/f/ebook/", data="[1, 2]", content_type="application/json")

    assert (response.status_code, array.status_code) == (400, 400)
    assert response.json()["code"] == "malformed"
    assert not Submission.objects.exists()


def test_an_oversized_body_gets_413(client, settings):
    settings.LEADMILL_MAX_SUBMISSION_BYTES = 1000
    form = form_with_fields()

    response = post_json(client, form, fields(form, email="ana@example.com", first_name="x" * 2000))

    assert response.status_code == 413
    assert not Submission.objects.exists()


def test_a_wrong_content_type_gets_415(client):
    form_with_fields()

    response = client.post("/f/ebook/", data="email=a@example.com", content_type="text/plain")

    assert response.status_code == 415


def test_get_on_the_post_endpoint_gets_405_and_an_unknown_form_404(client):
    form_with_fields()

    assert client.get("/f/ebook/").status_code == 405
    assert client.post("/f/nope/", data={"email": "a@example.com"}).status_code == 404


def test_database_down_after_the_form_was_read_answers_503_and_never_a_thank_you(
    client, monkeypatch
):
    form = form_with_fields()
    data = fields(form, email="ana@example.com")
    assert form_definition(slug="ebook") is not None  # cached: the post reads no form row

    def refuse(self, sql, params=None):
        raise OperationalError("could not connect to server: Connection refused")

    with (
        monkeypatch.context() as patched
    ):  # the server goes away between the form read and the post
        patched.setattr(CursorWrapper, "execute", refuse)
        response = client.post("/f/ebook/", data=data)

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert not Submission.objects.exists()
    assert not Contact.objects.exists()


def test_database_unreachable_from_the_first_query_answers_503(client, monkeypatch):
    form = form_with_fields()
    data = fields(form, email="ana@example.com")
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)

    response = client.post("/f/ebook/", data=data)

    assert response.status_code == 503


SAFARI_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1"
)


def test_a_cta_short_link_counts_the_click_and_redirects(client):
    cta = CallToAction.objects.create(
        label="Get it", slug="get-it", target_url="https://lp.example/ebook/"
    )

    response = client.get("/c/get-it/?utm_source=instagram", HTTP_USER_AGENT=SAFARI_IOS)

    assert response.status_code == 302
    assert response["Location"] == "https://lp.example/ebook/?utm_source=instagram"
    cta.refresh_from_db()
    assert cta.clicks == 1
    assert OutboxEvent.objects.filter(name="CallToActionClicked").count() == 1


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "curl/8.5.0",
        "",
    ],
)
def test_a_bots_cta_click_is_redirected_but_not_counted_nor_published(client, user_agent):
    cta = CallToAction.objects.create(
        label="Get it", slug="get-it", target_url="https://lp.example/ebook/"
    )

    response = client.get("/c/get-it/", HTTP_USER_AGENT=user_agent)

    assert (response.status_code, response["Location"]) == (302, "https://lp.example/ebook/")
    cta.refresh_from_db()
    assert cta.clicks == 0
    assert not OutboxEvent.objects.filter(name="CallToActionClicked").exists()


def test_an_allow_rule_makes_a_tools_cta_click_count(client):
    BotRule.objects.create(pattern="AcmeKiosk", action=BotRule.Action.ALLOW)
    config_cache_clear()
    cta = CallToAction.objects.create(
        label="Get it", slug="get-it", target_url="https://lp.example/ebook/"
    )

    client.get("/c/get-it/", HTTP_USER_AGENT="AcmeKiosk/2.0 okhttp/4.12.0")

    cta.refresh_from_db()
    assert cta.clicks == 1


def test_the_download_link_serves_the_private_file_and_expires(client, settings):
    offer = OfferFactory(kind=Offer.Kind.DOWNLOAD)
    offer.file.save("guide.pdf", ContentFile(b"%PDF-1.4 test"))
    form = form_with_fields(offer=offer)
    body = post_json(client, form, fields(form, email="ana@example.com")).json()

    response = client.get(body["download_url"].removeprefix(settings.BASE_URL))
    settings.LEADMILL_DOWNLOAD_LINK_HOURS = 0
    time.sleep(1.1)
    expired = client.get(body["download_url"].removeprefix(settings.BASE_URL))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 test"
    assert "attachment" in response["Content-Disposition"]
    assert expired.status_code == 410
    assert not offer.file.path.startswith(settings.MEDIA_ROOT)  # never at a public URL


def test_a_forged_download_token_is_refused(client):
    assert client.get("/d/forged:token/").status_code == 410


@pytest.mark.django_db(transaction=True)
def test_the_offer_email_is_sent_once_with_the_download_link(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    offer = OfferFactory(kind=Offer.Kind.DOWNLOAD, email_subject="Your playbook")
    offer.file.save("guide.pdf", ContentFile(b"%PDF-1.4 test"))
    form = form_with_fields(offer=offer)

    post_json(client, form, fields(form, email="ana@example.com"))
    from leadmill.core import events
    from leadmill.core.models import OutboxEvent

    for row in OutboxEvent.objects.all():  # a second delivery (at least once) sends nothing more
        OutboxEvent.objects.filter(pk=row.pk).update(delivered_at=None)
        events.deliver(row.pk)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert (message.to, message.subject) == (["ana@example.com"], "Your playbook")
    assert f"{settings.BASE_URL}/d/" in message.body
    assert Submission.objects.get().offer_emailed_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_submission_attaches_the_visitors_earlier_anonymous_events_to_the_contact(client):
    from django.utils import timezone

    from leadmill.tracking.models import Event, Visitor

    form = form_with_fields()
    visitor_id = "v" * 22
    now = timezone.now()
    Visitor.objects.create(id=visitor_id, first_seen=now, last_seen=now)
    Event.objects.create(
        visitor_id=visitor_id, type="page_view", url="https://lp.example/ebook/", occurred_at=now
    )
    client.cookies["lm_vid"] = visitor_id

    post_json(client, form, fields(form, email="ana@example.com"))

    contact = Contact.objects.get()
    assert Submission.objects.get().visitor_id == visitor_id
    assert list(Event.objects.values_list("contact_id", flat=True)) == [contact.pk]
    assert "_lm_vid" not in Submission.objects.get().data


def test_overlong_utm_values_are_cut_to_fit_and_the_submission_is_kept(client):
    form = form_with_fields()

    response = post_json(
        client,
        form,
        fields(form, email="ana@example.com", utm_source="s" * 150, utm_medium="m" * 150),
    )

    assert response.status_code == 201
    submission = Submission.objects.get()
    assert (submission.utm_source, submission.utm_medium) == ("s" * 100, "m" * 100)


def test_behind_a_proxy_the_client_ip_is_the_address_the_proxy_added(client, settings):
    settings.LEADMILL_TRUST_X_FORWARDED_FOR = True
    form = form_with_fields()

    post_json(
        client,
        form,
        fields(form, email="ana@example.com"),
        HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.9",
    )

    assert Submission.objects.get().ip_address == "198.51.100.9"


def test_database_down_answers_json_503_to_a_json_client(client, monkeypatch):
    form = form_with_fields()

    data = fields(form, email="ana@example.com")

    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(CursorWrapper, "execute", refuse)
        response = client.post(
            f"/f/{form.slug}/", data=json.dumps(data), content_type="application/json"
        )

    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"


def test_a_post_for_a_host_not_in_allowed_hosts_is_refused_without_an_origin(client):
    form = form_with_fields()

    response = client.post(
        "/f/ebook/", data=fields(form, email="ana@example.com"), HTTP_HOST="evil.example"
    )

    assert response.status_code == 400
    assert not Submission.objects.exists()

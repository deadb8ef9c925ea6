"""The public endpoints over HTTP: POST /t/collect, GET /t/p.gif, GET /t/lm.js."""

import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.core.tests.wsgi_client import WsgiClient

from ..models import Event, Visitor
from ..services import visitors_sync
from .factories import SiteFactory, VisitorFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
VID = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
OWN = "http://testserver"


@pytest.fixture(params=["django", "wsgi"])
def client(request, client):
    """Every collect test runs twice: through Django's handler (the view), and through the
    production WSGI application, where the fast path takes what it can (tracking/wsgi.py)."""
    if request.param == "django":
        return client
    return WsgiClient(client, paths=("/t/collect",))


def post(
    client, payload, *, origin=OWN, content_type="application/json", user_agent=BROWSER, **headers
):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    if origin:
        headers["HTTP_ORIGIN"] = origin
    return client.post(
        "/t/collect", data=body, content_type=content_type, HTTP_USER_AGENT=user_agent, **headers
    )


def page_view(**fields):
    return {"type": "page_view", "url": "http://testserver/offer", "visitor_id": VID, **fields}


def test_a_batch_is_stored_and_answered_204(client):
    ts = int(time.time() * 1000) - 5000
    payload = [
        page_view(
            url="http://testserver/offer?utm_source=ig&utm_medium=paid&utm_campaign=june&fbclid=F1",
            referrer="https://l.instagram.com/",
            ts=ts,
            properties={"title": "The offer"},
        ),
        {
            "type": "cta_click",
            "name": "demo",
            "url": "http://testserver/offer",
            "visitor_id": VID,
            "ts": ts + 1000,
            "properties": {"href": "/c/demo/"},
        },
        {
            "type": "custom",
            "name": "video_played",
            "visitor_id": VID,
            "properties": {"seconds": 30},
        },
    ]

    response = post(client, payload)

    assert response.status_code == 204
    view, click, custom = Event.objects.order_by("id")
    assert (view.type, view.channel, view.source, view.medium, view.campaign) == (
        "page_view",
        "paid_social",
        "instagram",
        "paid",
        "june",
    )
    assert view.properties == {"title": "The offer", "fbclid": "F1"}
    assert view.visitor_id == VID and view.contact_id is None and view.is_bot is False
    assert int(view.occurred_at.timestamp() * 1000) == ts
    assert (click.type, click.name, click.channel, click.properties) == (
        "cta_click",
        "demo",
        "",
        {"href": "/c/demo/"},
    )
    assert (custom.type, custom.name, custom.properties) == (
        "custom",
        "video_played",
        {"seconds": 30},
    )
    assert not Visitor.objects.exists()  # written off the request path, by the periodic sync
    visitors_sync()
    visitors_sync()
    visitor = Visitor.objects.get()
    assert (visitor.id, visitor.is_bot, visitor.contact_id) == (VID, False, None)


def test_a_batch_costs_one_statement(client):
    post(client, [page_view()])  # warm the bot-rule and site caches
    payload = [
        page_view(url=f"http://testserver/p{i}", ts=int(time.time() * 1000) - 10_000 + i * 1000)
        for i in range(10)
    ]

    with CaptureQueriesContext(connection) as queries:
        response = post(client, payload)

    assert response.status_code == 204
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN"))
    ]
    assert (
        len(statements) == 1
    )  # no rate counter, no visitor upsert: the events, joined with their visitor
    assert statements[0].startswith("INSERT INTO tracking_event")
    assert Event.objects.count() == 11


def test_a_batch_of_an_identified_visitor_also_writes_its_announcement(client):
    from leadmill.contacts.tests.factories import ContactFactory

    VisitorFactory(id=VID, contact=ContactFactory())
    post(client, [page_view()])  # warm the caches

    with CaptureQueriesContext(connection) as queries:
        post(client, [page_view(), page_view()])

    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert [sql.split()[2] for sql in writes] == ["tracking_event", '"core_outboxevent"']


def test_text_plain_from_send_beacon_is_accepted(client):
    response = post(client, [page_view()], content_type="text/plain;charset=UTF-8")

    assert response.status_code == 204
    assert Event.objects.count() == 1


def test_a_listed_site_may_send_and_gets_cors_headers(client):
    SiteFactory(origin="https://www.example.com")

    response = post(
        client,
        [page_view(url="https://www.example.com/pricing", referrer="https://www.example.com/")],
        origin="https://www.example.com",
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://www.example.com"
    assert Event.objects.get().channel == "internal"


def test_a_preflight_from_a_listed_site_is_allowed_and_from_others_refused(client):
    SiteFactory(origin="https://www.example.com")

    allowed = client.options("/t/collect", HTTP_ORIGIN="https://www.example.com")
    refused = client.options("/t/collect", HTTP_ORIGIN="https://evil.example")

    assert allowed.status_code == 204
    assert allowed["Access-Control-Allow-Headers"] == "Content-Type"
    assert refused.status_code == 403
    assert not refused.has_header("Access-Control-Allow-Origin")


@pytest.mark.parametrize("origin", ["https://evil.example", ""])
def test_an_unlisted_or_missing_origin_gets_403_and_nothing_is_stored(client, origin):
    SiteFactory(origin="https://www.example.com")

    response = post(client, [page_view()], origin=origin)

    assert response.status_code == 403
    assert response.json()["code"] == "origin_not_allowed"
    assert not Event.objects.exists()
    assert not Visitor.objects.exists()


def test_an_inactive_site_may_not_send(client):
    SiteFactory(origin="https://www.example.com", is_active=False)

    assert post(client, [page_view()], origin="https://www.example.com").status_code == 403


def test_the_referer_stands_in_for_a_missing_origin(client):
    response = post(client, [page_view()], origin="", HTTP_REFERER="http://testserver/offer")

    assert response.status_code == 204


def test_a_wrong_content_type_gets_415(client):
    response = post(client, "type=page_view", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not Event.objects.exists()


def test_a_body_over_the_limit_gets_413(client, settings):
    settings.LEADMILL_TRACKING_MAX_BODY_BYTES = 1000

    response = post(client, [page_view(properties={"x": "y" * 1000})])

    assert response.status_code == 413
    assert response.json() == {
        "status": "error",
        "code": "too_large",
        "message": "The batch is larger than 1000 bytes.",
    }
    assert not Event.objects.exists()


def test_more_events_than_allowed_gets_400(client, settings):
    settings.LEADMILL_TRACKING_MAX_EVENTS = 2

    response = post(client, [page_view()] * 3)

    assert response.status_code == 400
    assert response.json()["message"] == "Send at most 2 events per request."
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "body", ["{not json", " ", "[1, 2", "\xff\xfe", "[" * 10_000 + "]" * 10_000]
)
def test_malformed_json_gets_400_and_nothing_is_stored(client, settings, body):
    settings.LEADMILL_TRACKING_MAX_BODY_BYTES = 100_000

    response = post(client, body)

    assert response.status_code == 400
    assert response.json()["code"] in {"malformed", "invalid"}
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"type": "page_view"}, "Send a JSON array of events."),
        ([], "The batch holds no events."),
    ],
)
def test_a_batch_that_is_not_a_list_of_events_gets_400(client, payload, message):
    response = post(client, payload)

    assert response.status_code == 400
    assert response.json()["message"] == message


def test_every_invalid_event_is_reported_and_nothing_of_the_batch_is_stored(client):
    payload = [
        page_view(),
        "page_view",
        {"type": "email_open", "visitor_id": VID},
        {"type": "page_view", "url": "javascript:alert(1)"},
        {"type": "custom", "name": ""},
        page_view(visitor_id="short"),
        page_view(
            ts="yesterday", properties=[1], utm={"utm_source": 3}, consent="yes", colour="red"
        ),
        page_view(name=12, referrer="x" * 2001),
    ]

    response = post(client, payload)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["message"] == "Some events are invalid; nothing was stored."
    assert [(error["index"], error["field"]) for error in body["errors"]] == [
        (1, ""),
        (2, "type"),
        (3, "url"),
        (4, "name"),
        (5, "visitor_id"),
        (6, "colour"),
        (6, "ts"),
        (6, "properties"),
        (6, "utm"),
        (6, "consent"),
        (7, "name"),
        (7, "referrer"),
    ]
    assert body["errors"][1]["message"].startswith("The type must be one of: page_view, cta_click")
    assert not Event.objects.exists()
    assert not Visitor.objects.exists()


@pytest.mark.parametrize("kind", [["page_view"], {"page_view": 1}, 3, None])
def test_a_type_that_is_not_a_string_gets_400_not_500(client, kind):
    response = post(client, [page_view(type=kind)])

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["type"]
    assert not Event.objects.exists()


def test_get_is_not_allowed_on_collect(client):
    response = client.get("/t/collect")

    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"


def test_the_rate_limit_per_ip_answers_429_with_retry_after(client, settings):
    settings.LEADMILL_TRACKING_RATE_LIMIT_PER_IP = 2

    statuses = [post(client, [page_view()]).status_code for _ in range(3)]

    assert statuses == [204, 204, 429]
    assert int(post(client, [page_view()])["Retry-After"]) >= 1
    assert Event.objects.count() == 2


def test_without_redis_the_rate_limit_is_counted_in_memory_not_in_the_database(client, settings):
    from leadmill.core.models import RateCounter

    settings.REDIS_URL = ""
    settings.LEADMILL_TRACKING_RATE_LIMIT_PER_IP = 1

    statuses = [post(client, [page_view()]).status_code, post(client, [page_view()]).status_code]
    pixel = client.get("/t/p.gif", {"u": "http://testserver/offer"}, HTTP_USER_AGENT=BROWSER)

    assert statuses == [204, 429]
    assert pixel.status_code == 429
    assert not RateCounter.objects.exists()
    assert Event.objects.count() == 1


def test_another_client_ip_has_its_own_in_memory_count(client, settings):
    settings.LEADMILL_TRACKING_RATE_LIMIT_PER_IP = 1

    first = post(client, [page_view()], REMOTE_ADDR="192.0.2.1").status_code
    second = post(client, [page_view()], REMOTE_ADDR="192.0.2.2").status_code
    again = post(client, [page_view()], REMOTE_ADDR="192.0.2.1").status_code

    assert (first, second, again) == (204, 204, 429)


def test_a_bot_user_agent_is_stored_flagged_as_bot(client):
    post(
        client, [page_view()], user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)"
    )  # its visitor is flagged at once

    assert Event.objects.get().is_bot is True
    assert Visitor.objects.get().is_bot is True


def test_a_visitor_once_a_bot_stays_a_bot(client):
    VisitorFactory(id=VID, is_bot=True)

    post(client, [page_view()])

    assert Event.objects.get().is_bot is True
    assert Visitor.objects.get().is_bot is True


def test_inhuman_page_view_bursts_are_flagged(client, settings):
    settings.LEADMILL_TRACKING_MAX_PAGE_VIEWS_PER_SECOND = 2
    ts = int(time.time() * 1000) - 1000

    post(client, [page_view(url=f"http://testserver/p{i}", ts=ts + i * 10) for i in range(3)])

    assert list(Event.objects.values_list("is_bot", flat=True)) == [True, True, True]
    assert Visitor.objects.get().is_bot is True


def test_the_lm_vid_cookie_names_the_visitor_when_events_carry_none(client):
    client.cookies["lm_vid"] = VID

    post(client, [{"type": "page_view", "url": "http://testserver/offer"}])

    assert Event.objects.get().visitor_id == VID


def test_events_of_an_identified_visitor_are_attached_to_its_contact(client):
    from leadmill.contacts.tests.factories import ContactFactory

    contact = ContactFactory()
    VisitorFactory(id=VID, contact=contact)

    post(client, [page_view()])

    assert Event.objects.get().contact_id == contact.pk


def test_with_consent_required_events_without_consent_keep_no_visitor(client, settings):
    settings.LEADMILL_TRACKING_REQUIRE_CONSENT = True

    post(client, [page_view(consent=False), page_view(consent=True, url="http://testserver/after")])

    assert list(Event.objects.order_by("id").values_list("visitor_id", flat=True)) == [None, VID]


def test_the_pixel_records_a_page_view_and_returns_a_gif(client):
    response = client.get(
        "/t/p.gif",
        {
            "u": "http://testserver/offer",
            "r": "https://www.google.com/",
            "v": VID,
            "utm_campaign": "june",
        },
        HTTP_USER_AGENT=BROWSER,
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    event = Event.objects.get()
    assert (
        event.type,
        event.url,
        event.visitor_id,
        event.channel,
        event.source,
        event.campaign,
    ) == ("page_view", "http://testserver/offer", VID, "organic_search", "google", "june")


@pytest.mark.parametrize(
    "params", [{}, {"u": "https://elsewhere.example/"}, {"u": "javascript:alert(1)"}]
)
def test_the_pixel_stores_nothing_for_a_page_that_is_not_ours(client, params):
    response = client.get("/t/p.gif", params, HTTP_USER_AGENT=BROWSER)

    assert response.status_code == 400
    assert response["Content-Type"] == "image/gif"
    assert not Event.objects.exists()


def test_the_script_is_served_at_a_stable_address(client):
    response = client.get("/t/lm.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert b"lm_vid" in response.content
    assert response["Cache-Control"] == "public, max-age=3600"


def test_behind_a_proxy_a_made_up_forwarded_address_does_not_dodge_the_limit(client, settings):
    settings.LEADMILL_TRUST_X_FORWARDED_FOR = True
    settings.LEADMILL_TRACKING_RATE_LIMIT_PER_IP = 1

    first = post(
        client, [page_view()], HTTP_X_FORWARDED_FOR="203.0.113.1, 198.51.100.9"
    ).status_code
    forged = post(
        client, [page_view()], HTTP_X_FORWARDED_FOR="203.0.113.2, 198.51.100.9"
    ).status_code

    assert (first, forged) == (204, 429)  # the proxy's entry (the last) is the client


@pytest.mark.parametrize(
    "event",
    [
        page_view(url="http://testserver/offer\u0000"),
        page_view(utm={"utm_source": "news\u0000"}),
        {"type": "custom", "name": "played", "properties": {"nested": ["\u0000"]}},
    ],
)
def test_a_nul_character_gets_400_not_500_and_nothing_is_stored(client, event):
    response = post(client, [event])

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Event.objects.exists()


def test_a_backslash_before_u0000_is_plain_text_and_stored(client):
    response = post(
        client, [{"type": "custom", "name": "path", "properties": {"path": "C:\\u0000"}}]
    )

    assert response.status_code == 204
    assert Event.objects.get().properties == {"path": "C:\\u0000"}

"""The nurture performance and uplift report: cost per SQL of nurtured and held-out leads,
``GET /api/v1/analytics/sequences/{id}`` and the screen reachable from the sequence."""

from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmill.analytics.models import Spend
from leadmill.api.services import api_key_create

from ..admin_nurture import SEQUENCE_URL_NAME
from ..nurture_report import sequence_report
from .known_nurture import DAY0, known_held_out_sequence

pytestmark = pytest.mark.django_db


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def held_out_sequence():
    return known_held_out_sequence()


def test_cost_per_sql_of_both_groups_comes_from_the_period_cost_per_lead(held_out_sequence):
    report = sequence_report(sequence=held_out_sequence, window_days=30)

    assert report.cost_per_lead == Decimal("10.00")  # 200.00 for 20 leads
    assert (report.nurtured_cost.leads, report.nurtured_cost.sqls) == (10, 4)
    assert report.nurtured_cost.cost_per_sql == Decimal("25.00")
    assert (report.held_out_cost.leads, report.held_out_cost.sqls) == (10, 1)
    assert report.held_out_cost.cost_per_sql == Decimal("100.00")
    sql = next(row for row in report.uplift if row.stage == "sql")
    assert sql.uplift.absolute == pytest.approx(0.3)
    assert sql.uplift.relative == pytest.approx(3.0)


def test_without_spend_the_cost_per_sql_is_unknown_not_zero(held_out_sequence):
    Spend.objects.all().delete()

    report = sequence_report(sequence=held_out_sequence, window_days=30)

    assert report.cost_per_lead is None
    assert report.nurtured_cost.cost_per_sql is None is report.held_out_cost.cost_per_sql


def test_the_api_answers_the_same_numbers_as_the_report(client, held_out_sequence):
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])

    response = client.get(
        f"/api/v1/analytics/sequences/{held_out_sequence.pk}",
        {"window_days": 30},
        **bearer(secret),
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["window_days"], body["held_out"]) == ("Onboarding", 30, 10)
    assert body["performance"] == {
        "enrolled": 10,
        "sent": 10,
        "delivered": 10,
        "bounced": 0,
        "opened": 7,
        "clicked": 0,
        "unsubscribed": 0,
        "complained": 0,
        "conversions": {"mql": 6, "sql": 4, "customer": 1},
        "captured": {
            "leads": 0,
            "new_leads": 0,
            "conversions": {"mql": 0, "sql": 0, "customer": 0},
        },
    }
    assert [s["label"] for s in body["steps"]] == ["Welcome"]
    uplift = {row["stage"]: row for row in body["uplift"]}
    assert uplift["mql"]["nurtured"] == {"leads": 10, "converted": 6, "rate": 0.6}
    assert uplift["mql"]["held_out"] == {"leads": 10, "converted": 3, "rate": 0.3}
    assert uplift["mql"]["absolute"] == pytest.approx(0.3)
    assert uplift["mql"]["absolute_low"] < 0.3 < uplift["mql"]["absolute_high"]
    assert uplift["customer"]["relative"] is None  # no held-out customer: no ratio
    assert body["cost"] == {
        "enrolled_since": "2026-03-02",
        "enrolled_until": "2026-03-02",
        "cost_per_lead": "10.00",
        "nurtured_cost_per_sql": "25.00",
        "held_out_cost_per_sql": "100.00",
    }


def test_the_api_needs_the_analytics_scope_and_an_existing_sequence(client, held_out_sequence):
    _key, other = api_key_create(name="crm", scopes=["leads:read"])
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])

    refused = client.get(f"/api/v1/analytics/sequences/{held_out_sequence.pk}", **bearer(other))
    missing = client.get("/api/v1/analytics/sequences/999999", **bearer(secret))

    assert refused.status_code == 403
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    sequence_id=st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(max_size=20).filter(lambda s: "/" not in s and "?" not in s and "#" not in s),
    ),
    window=st.one_of(st.text(max_size=20), st.integers(-(2**40), 2**40).map(str)),
)
def test_hostile_ids_and_windows_get_4xx_never_5xx(client, sequence_id, window):
    _key, secret = api_key_create(name="fuzz", scopes=["analytics:read"])
    response = client.get(
        f"/api/v1/analytics/sequences/{sequence_id}", {"window_days": window}, **bearer(secret)
    )
    assert response.status_code < 500, response.content


def test_the_screen_shows_the_uplift_and_costs_in_portuguese(
    client, django_user_model, held_out_sequence
):
    admin = django_user_model.objects.create_superuser("m", "m@leadmill.test", "pw-41-long-enough")
    client.force_login(admin)

    response = client.get(
        reverse(SEQUENCE_URL_NAME, args=[held_out_sequence.pk]),
        {"window_days": 30},
        HTTP_ACCEPT_LANGUAGE="pt-br",
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Desempenho de “Onboarding”" in html
    assert "6 / 10" in html and "3 / 10" in html  # MQL: nurtured, held out
    assert "25,00" in html and "100,00" in html  # cost per SQL, in the reader's number format
    listing = client.get(reverse("wagtailsnippets_nurture_sequence:list")).content.decode()
    assert reverse(SEQUENCE_URL_NAME, args=[held_out_sequence.pk]) in listing


def test_the_broadcasts_screen_is_in_the_menu_and_shows_each_sent_broadcast(
    client, django_user_model
):
    from leadmill.contacts.tests.factories import ContactFactory
    from leadmill.messaging.models import Message
    from leadmill.nurture.models import Broadcast
    from leadmill.nurture.tests.factories import EmailTemplateFactory
    from leadmill.segments.tests.factories import StaticSegmentFactory

    from ..admin_nurture import BROADCASTS_URL_NAME

    lead = ContactFactory()
    broadcast = Broadcast.objects.create(
        name="Spring launch",
        template=EmailTemplateFactory(),
        segment=StaticSegmentFactory(members=[lead]),
        status=Broadcast.Status.SENT,
    )
    Message.objects.create(
        contact=lead, broadcast_id=broadcast.pk, status=Message.Status.SENT, sent_at=DAY0
    )
    client.force_login(
        django_user_model.objects.create_superuser("m", "m@leadmill.test", "pw-41-long-enough")
    )

    home = client.get("/admin/").content.decode()
    screen = client.get(reverse(BROADCASTS_URL_NAME)).content.decode()

    assert reverse(BROADCASTS_URL_NAME) in home
    assert '<th scope="row">Spring launch</th><td>1</td>' in screen.replace("\n", "")


BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def sent_broadcast(name: str, recipient):
    """A broadcast sent an hour ago to ``recipient``, and the link to the e-book page in its
    email, as the email carries it (through the click redirect)."""
    import datetime as dt

    from django.utils import timezone

    from leadmill.messaging.emails import links_track
    from leadmill.messaging.models import Message
    from leadmill.nurture.models import Broadcast
    from leadmill.nurture.tests.factories import BroadcastFactory

    broadcast = BroadcastFactory(
        name=name, segment__members=[recipient], status=Broadcast.Status.SENT
    )
    message = Message.objects.create(
        contact=recipient,
        broadcast_id=broadcast.pk,
        kind=Message.Kind.MARKETING,
        status=Message.Status.SENT,
        sent_at=timezone.now() - dt.timedelta(hours=1),
    )
    html = links_track('<a href="http://testserver/ebook/">Get it</a>', message_pk=message.pk)
    return broadcast, html.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")


def ebook_post(client, *, email: str):
    import time

    from leadmill.capture import tokens
    from leadmill.capture.models import Form
    from leadmill.capture.pages import LandingPage

    form = Form.objects.get(slug="ebook")
    page = LandingPage.objects.get(slug="ebook", locale__language_code="en")
    return client.post(
        "/f/ebook/",
        data={
            "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
            "_page": str(page.pk),
            "website": "",
            "email": email,
            "first_name": "Bea",
            "consent_email-marketing": "on",
        },
        HTTP_USER_AGENT=BROWSER,
    )


def test_a_friend_who_clicks_a_forwarded_broadcast_and_asks_for_the_ebook_is_its_new_lead(
    client, django_user_model, django_capture_on_commit_callbacks, settings
):
    from leadmill.capture.demo import demo_seed
    from leadmill.capture.services import submissions_process
    from leadmill.contacts.tests.factories import ContactFactory

    from ..admin_nurture import BROADCASTS_URL_NAME

    # Given a broadcast sent to Ana, who forwards it to Bea, and one sent to Carl, unclicked
    settings.BASE_URL = "http://testserver"
    demo_seed()
    spring, link = sent_broadcast("Spring launch", ContactFactory(email="ana@example.com"))
    summer, _unclicked = sent_broadcast("Summer sale", ContactFactory(email="carl@example.com"))

    # When Bea clicks the link in her browser, reads the page and asks for the e-book
    clicked = client.get(link, HTTP_USER_AGENT=BROWSER)
    page = client.get("/ebook/", HTTP_USER_AGENT=BROWSER)
    posted = ebook_post(client, email="bea@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        submissions_process()

    # Then Bea is Spring's lead, a new one, in the API, on the screen and in its CSV
    assert (clicked.status_code, clicked["Location"]) == (302, "http://testserver/ebook/")
    assert (page.status_code, posted.status_code) == (200, 303)
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])
    spring_body = client.get(f"/api/v1/analytics/broadcasts/{spring.pk}", **bearer(secret)).json()
    summer_body = client.get(f"/api/v1/analytics/broadcasts/{summer.pk}", **bearer(secret)).json()
    assert (spring_body["recipients"], spring_body["clicked"]) == (1, 1)
    assert spring_body["captured"] == {
        "leads": 1,
        "new_leads": 1,
        "conversions": {"mql": 0, "sql": 0, "customer": 0},
    }
    assert summer_body["captured"]["leads"] == 0
    client.force_login(
        django_user_model.objects.create_superuser("m", "m@leadmill.test", "pw-41-long-enough")
    )
    screen = client.get(reverse(BROADCASTS_URL_NAME)).content.decode().replace("\n", "")
    assert (
        '<th scope="row">Spring launch</th><td>1</td><td>1</td><td>0</td><td>0</td><td>0</td>'
        in screen
    )
    csv_rows = [
        line.split(",")
        for line in client.get(reverse(BROADCASTS_URL_NAME), {"export": "performance"})
        .content.decode()
        .splitlines()
    ]
    assert csv_rows[0][0] == "Broadcast" and csv_rows[0][-5:] == [
        "Leads captured through its links",
        "New leads",
        "Captured leads: MQL",
        "Captured leads: SQL",
        "Captured leads: customers",
    ]
    assert sorted(row[:2] + row[-5:] for row in csv_rows[1:]) == [
        ["Spring launch", "1", "1", "1", "0", "0", "0"],
        ["Summer sale", "1", "0", "0", "0", "0", "0"],
    ]

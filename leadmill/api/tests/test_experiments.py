"""GET /api/v1/analytics/experiments/{id}: an A/B test's figures, the same as its results
screen; scoped; hostile ids answered with 4xx. GET /api/v1/analytics/broadcasts/{id}: a
broadcast's performance, the same as its screen."""

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmill.analytics.nurture_report import broadcasts_report
from leadmill.api.services import api_key_create
from leadmill.capture.demo import demo_seed
from leadmill.capture.experiments import experiment_start
from leadmill.capture.models import Experiment, Exposure, Variant
from leadmill.capture.pages import LandingPage
from leadmill.contacts.models import StageChange
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.messaging.models import Message
from leadmill.nurture.models import Broadcast
from leadmill.nurture.tests.factories import BroadcastFactory

pytestmark = pytest.mark.django_db


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def running_test():
    """The ebook page tested: A shown 200 times with 21 conversions, B 200 with 31."""
    demo_seed()
    page = LandingPage.objects.get(slug="ebook", locale__language_code="en")
    experiment = Experiment.objects.create(name="Headline", page=page)
    for order, (label, shown, converted) in enumerate((("A", 200, 21), ("B", 200, 31))):
        variant = Variant.objects.create(
            experiment=experiment,
            label=label,
            weight=50,
            sort_order=order,
            headline="" if label == "A" else "Free today",
        )
        now = timezone.now()
        Exposure.objects.bulk_create(
            Exposure(
                experiment=experiment,
                variant=variant,
                visitor_key=f"{label}{n:08d}",
                exposed_at=now,
                converted_at=now if n < converted else None,
            )
            for n in range(shown)
        )
    return experiment_start(experiment=experiment)


def test_an_ab_test_answers_its_figures(client, running_test):
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])

    response = client.get(f"/api/v1/analytics/experiments/{running_test.pk}", **bearer(secret))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["status"], body["winner_variant_id"]) == (
        "Headline",
        "running",
        None,
    )
    a, b = body["variants"]
    assert (a["label"], a["exposures"], a["conversions"], a["rate"]) == ("A", 200, 21, 0.105)
    assert (b["label"], b["exposures"], b["conversions"], b["rate"]) == ("B", 200, 31, 0.155)
    assert abs(b["probability_best"] - 0.9300619) < 0.001
    assert a["expected_loss"] > b["expected_loss"] > 0
    assert body["srm"]["mismatch"] is False and body["srm"]["p_value"] == 1.0
    assert body["stop_rule"]["may_stop"] is False  # started just now: minimum 7 days
    assert body["stop_rule"]["risk_threshold"] == 0.0025
    assert "7 more days" in body["stop_rule"]["verdict"]


def test_the_scope_is_needed_and_an_unknown_test_is_404(client, running_test):
    _key, other = api_key_create(name="crm", scopes=["leads:read"])
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])

    refused = client.get(f"/api/v1/analytics/experiments/{running_test.pk}", **bearer(other))
    missing = client.get("/api/v1/analytics/experiments/999999", **bearer(secret))

    assert refused.status_code == 403
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    experiment_id=st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(max_size=20).filter(lambda s: not set(s) & set("/?#%")),
    )
)
def test_hostile_ids_get_4xx_never_5xx(client, experiment_id):
    _key, secret = api_key_create(name="fuzz", scopes=["analytics:read"])
    response = client.get(f"/api/v1/analytics/experiments/{experiment_id}", **bearer(secret))
    assert response.status_code < 500, response.content


SENT_AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def spring_launch():
    """A broadcast queued for four leads: one email opened and clicked by a lead who became
    an SQL three days later, one bounced, one opened by a lead who unsubscribed (an MQL
    already before the send), one suppressed (never sent)."""
    leads = [ContactFactory() for _ in range(4)]
    broadcast = BroadcastFactory(
        name="Spring launch", segment__members=leads, status=Broadcast.Status.SENT
    )

    def email(contact, status=Message.Status.SENT, **fields):
        Message.objects.create(
            contact=contact,
            broadcast_id=broadcast.pk,
            kind=Message.Kind.MARKETING,
            status=status,
            sent_at=SENT_AT if status == Message.Status.SENT else None,
            **fields,
        )

    email(leads[0], opened_at=SENT_AT + DAY, clicked_at=SENT_AT + DAY)
    email(leads[1], bounced_at=SENT_AT)
    email(leads[2], opened_at=SENT_AT + DAY, unsubscribed_at=SENT_AT + DAY)
    email(leads[3], status=Message.Status.SUPPRESSED)
    for contact, to_stage, at in (
        (leads[0], "sql", SENT_AT + 3 * DAY),
        (leads[2], "mql", SENT_AT - DAY),
    ):
        StageChange.objects.create(contact=contact, to_stage=to_stage, changed_at=at, cause="test")
    return broadcast


def test_a_broadcast_answers_the_numbers_of_its_performance_screen(client, spring_launch):
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])

    month = client.get(f"/api/v1/analytics/broadcasts/{spring_launch.pk}", **bearer(secret))
    two_days = client.get(
        f"/api/v1/analytics/broadcasts/{spring_launch.pk}", {"window_days": 2}, **bearer(secret)
    )

    assert month.status_code == 200, month.content
    assert month.json() == {
        "id": spring_launch.pk,
        "name": "Spring launch",
        "status": "sent",
        "window_days": 30,
        "recipients": 4,
        "sent": 3,
        "delivered": 2,
        "bounced": 1,
        "opened": 2,
        "clicked": 1,
        "unsubscribed": 1,
        "complained": 0,
        "conversions": {"mql": 1, "sql": 1, "customer": 0},  # the MQL before the send is not its
        "captured": {  # its click left no form (the credit: analytics/tests)
            "leads": 0,
            "new_leads": 0,
            "conversions": {"mql": 0, "sql": 0, "customer": 0},
        },
    }
    screen = broadcasts_report(window_days=30)[0]
    assert (screen.enrolled, vars(screen.emails), screen.conversions) == (
        4,
        {k: month.json()[k] for k in vars(screen.emails)},
        month.json()["conversions"],
    )
    # The SQL came three days after the send: outside a two-day window
    assert two_days.json()["conversions"] == {"mql": 0, "sql": 0, "customer": 0}
    assert two_days.json()["window_days"] == 2


def test_a_broadcast_needs_the_scope_and_an_unknown_one_is_404(client, spring_launch):
    _key, other = api_key_create(name="crm", scopes=["leads:read"])
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])

    refused = client.get(f"/api/v1/analytics/broadcasts/{spring_launch.pk}", **bearer(other))
    missing = client.get("/api/v1/analytics/broadcasts/999999", **bearer(secret))
    too_wide = client.get(
        f"/api/v1/analytics/broadcasts/{spring_launch.pk}", {"window_days": 0}, **bearer(secret)
    )

    assert refused.status_code == 403
    assert "sent" not in refused.json()
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert too_wide.status_code == 422

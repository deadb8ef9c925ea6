"""The dead-letter screen: what failed every attempt is listed, and a retry requeues it."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from leadmill.core import events
from leadmill.core.models import EventDelivery, OutboxEvent
from leadmill.core.setup import groups_ensure

from .test_events import RECORDER, ProbeSent, Recorder, a_probe

LISTING = "/admin/dead-letters/"


def admin_user(username: str = "boss", group: str = "Admin"):
    groups_ensure()
    user = get_user_model().objects.create_user(username=username, password="x")
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def dead_letter(django_capture_on_commit_callbacks, settings):
    """A ProbeSent whose one subscriber of two failed its only attempt."""
    settings.LEADMILL_EVENT_MAX_ATTEMPTS = 1
    working, failing = Recorder(), Recorder(failing=True)
    with events.subscribed(ProbeSent, working), events.subscribed(ProbeSent, failing):
        with django_capture_on_commit_callbacks(execute=True):
            outbox_id = events.publish(a_probe(41))
        yield (
            EventDelivery.objects.get(event_id=outbox_id, state=EventDelivery.State.DEAD),
            working,
            failing,
        )


@pytest.mark.django_db
def test_an_admin_sees_the_dead_letter_with_its_event_handler_error_and_attempts(
    client, dead_letter
):
    delivery, _working, _failing = dead_letter
    client.force_login(admin_user())

    response = client.get(LISTING)

    assert response.status_code == 200
    page = response.content.decode()
    assert f"ProbeSent #{delivery.event_id}" in page
    assert f"{RECORDER}#2" in page
    assert "RuntimeError: the CRM is down" in page
    assert f"/admin/dead-letters/retry/{delivery.pk}/" in page
    assert f"{RECORDER}</" not in page  # the delivered handler is not a dead letter


@pytest.mark.django_db
def test_the_retry_action_redelivers_the_dead_letter_to_its_handler_only(
    client, dead_letter, django_capture_on_commit_callbacks
):
    delivery, working, failing = dead_letter
    client.force_login(admin_user())
    failing.failing = False

    confirm = client.get(f"/admin/dead-letters/retry/{delivery.pk}/")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/dead-letters/retry/{delivery.pk}/")

    assert confirm.status_code == 200
    assert response.status_code == 302
    assert [p.probe_id for p in failing.received] == [41]
    assert [p.probe_id for p in working.received] == [41]  # once, at the first dispatch
    delivery.refresh_from_db()
    assert delivery.state == EventDelivery.State.DELIVERED
    assert OutboxEvent.objects.get(pk=delivery.event_id).delivered_at is not None
    assert "ProbeSent #" not in client.get(LISTING).content.decode()


@pytest.mark.django_db
def test_retry_all_requeues_every_dead_letter(
    client, dead_letter, django_capture_on_commit_callbacks
):
    delivery, _working, failing = dead_letter
    other = OutboxEvent.objects.create(name="Gone", payload={}, attempts=12)
    stale = EventDelivery.objects.create(
        event=other, handler=events.UNKNOWN_EVENT_TYPE, state=EventDelivery.State.DEAD, attempts=12
    )
    client.force_login(admin_user())
    failing.failing = False

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/dead-letters/retry/")

    assert response.status_code == 302
    delivery.refresh_from_db()
    stale.refresh_from_db()
    assert delivery.state == EventDelivery.State.DELIVERED
    # The handler that no longer exists fails again at once (past its last attempt): still listed
    assert (stale.state, stale.attempts) == (EventDelivery.State.DEAD, 13)
    assert stale.last_error == "UnknownEventType: this version declares no event Gone"


@pytest.mark.django_db
def test_a_marketer_may_neither_see_nor_retry_dead_letters(client, dead_letter):
    delivery, _working, _failing = dead_letter
    client.force_login(admin_user(username="mia", group="Marketing"))

    listing = client.get(LISTING)
    retry = client.post(f"/admin/dead-letters/retry/{delivery.pk}/")

    # Wagtail sends those without permission to the dashboard with a message
    assert (listing.status_code, listing["Location"]) == (302, "/admin/")
    assert (retry.status_code, retry["Location"]) == (302, "/admin/")
    assert EventDelivery.objects.get(pk=delivery.pk).state == EventDelivery.State.DEAD

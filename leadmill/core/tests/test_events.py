"""The domain event bus: publish into the outbox, deliver after commit, at least once."""

import dataclasses
import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from leadmill.core import events
from leadmill.core.models import OutboxEvent


@events.event
class ProbeSent:
    """An event that exists only for these tests."""

    probe_id: int
    occurred_at: dt.datetime


@dataclasses.dataclass(frozen=True, kw_only=True)
class NotDeclared:
    probe_id: int


class Recorder:
    """A subscriber that remembers what it received and can be told to fail."""

    def __init__(self, *, failing: bool = False):
        self.received: list[ProbeSent] = []
        self.failing = failing

    def __call__(self, event: ProbeSent) -> None:
        if self.failing:
            raise RuntimeError("the CRM is down")
        self.received.append(event)


def a_probe(probe_id: int = 7) -> ProbeSent:
    return ProbeSent(probe_id=probe_id, occurred_at=timezone.now())


@pytest.fixture(autouse=True)
def _no_pending_deliveries_from_earlier_tests():
    """Tests wrapped in a transaction that never commits leave their outbox ids pending in
    the bus; start each test of the bus without them."""
    events._pending_ids().clear()
    yield
    events._pending_ids().clear()


@pytest.fixture
def queued_deliveries(monkeypatch):
    """The id lists handed to the delivery task, which still runs (Huey is immediate)."""
    from leadmill.core import tasks

    calls: list[list[int]] = []
    deliver = tasks.outbox_deliver

    def recording(outbox_ids):
        calls.append(list(outbox_ids))
        return deliver(outbox_ids)

    monkeypatch.setattr(tasks, "outbox_deliver", recording)
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_published_event_reaches_its_subscriber_only_after_commit():
    recorder = Recorder()
    probe = a_probe()

    with events.subscribed(ProbeSent, recorder):
        with transaction.atomic():
            outbox_id = events.publish(probe)
            assert recorder.received == []

        assert recorder.received == [probe]
    row = OutboxEvent.objects.get(pk=outbox_id)
    assert row.name == "ProbeSent"
    assert row.delivered_at is not None
    assert row.attempts == 1
    assert row.last_error == ""


@pytest.mark.django_db(transaction=True)
def test_nothing_is_written_or_delivered_when_the_transaction_rolls_back():
    recorder = Recorder()

    with (
        events.subscribed(ProbeSent, recorder),
        pytest.raises(RuntimeError, match="the form failed"),
        transaction.atomic(),
    ):
        events.publish(a_probe())
        raise RuntimeError("the form failed")

    assert recorder.received == []
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_a_failing_handler_leaves_the_event_undelivered_until_the_sweep_redelivers_it(
    django_capture_on_commit_callbacks,
):
    recorder = Recorder(failing=True)
    probe = a_probe()

    with events.subscribed(ProbeSent, recorder):
        with django_capture_on_commit_callbacks(execute=True):
            outbox_id = events.publish(probe)

        row = OutboxEvent.objects.get(pk=outbox_id)
        assert row.delivered_at is None
        assert row.attempts == 1
        assert "Recorder" in row.last_error
        assert "the CRM is down" in row.last_error
        assert recorder.received == []

        recorder.failing = False
        redelivered = events.sweep(older_than=dt.timedelta(0))

    assert redelivered == 1
    assert recorder.received == [probe]
    row.refresh_from_db()
    assert row.delivered_at is not None
    assert row.attempts == 2
    assert row.last_error == ""


@pytest.mark.django_db
def test_delivering_an_event_twice_calls_its_handlers_once(django_capture_on_commit_callbacks):
    recorder = Recorder()

    with events.subscribed(ProbeSent, recorder):
        with django_capture_on_commit_callbacks(execute=True):
            outbox_id = events.publish(a_probe())
        assert len(recorder.received) == 1

        again = events.deliver(outbox_id)
        swept = events.sweep(older_than=dt.timedelta(0))

    assert again is True
    assert swept == 0
    assert len(recorder.received) == 1
    assert OutboxEvent.objects.get(pk=outbox_id).attempts == 1


@pytest.mark.django_db
def test_an_event_is_not_delivered_while_its_transaction_is_open(
    django_capture_on_commit_callbacks,
):
    recorder = Recorder()

    with (
        events.subscribed(ProbeSent, recorder),
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        outbox_id = events.publish(a_probe())

    assert len(callbacks) == 1
    assert recorder.received == []
    assert OutboxEvent.objects.get(pk=outbox_id).delivered_at is None


@pytest.mark.django_db
def test_publishing_an_undeclared_class_raises_type_error_and_writes_nothing():
    with pytest.raises(TypeError, match=r"NotDeclared is not a declared event"):
        events.publish(NotDeclared(probe_id=1))

    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_one_committed_transaction_queues_one_delivery_with_all_its_events(queued_deliveries):
    recorder = Recorder()

    with events.subscribed(ProbeSent, recorder), transaction.atomic():
        first = events.publish(a_probe(1))
        second = events.publish(a_probe(2))

    assert queued_deliveries == [[first, second]]
    assert [probe.probe_id for probe in recorder.received] == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_an_event_of_a_rolled_back_transaction_never_reaches_a_handler():
    recorder = Recorder()

    with events.subscribed(ProbeSent, recorder):
        with pytest.raises(RuntimeError), transaction.atomic():
            events.publish(a_probe(1))
            raise RuntimeError("the form failed")
        with transaction.atomic():
            committed = events.publish(a_probe(2))

    assert [probe.probe_id for probe in recorder.received] == [2]
    assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [committed]


@pytest.mark.django_db
def test_the_outbox_retention_deletes_delivered_events_past_the_setting_and_keeps_the_rest(settings):
    # Given delivered events of 10 and 2 days ago, and an undelivered one of 30 days ago
    from leadmill.core.tasks import outbox_retention

    settings.LEADMILL_OUTBOX_RETENTION_DAYS = 7
    now = timezone.now()
    old = [OutboxEvent.objects.create(name="old", payload={}, delivered_at=now - dt.timedelta(days=10, minutes=n))
           for n in range(3)]
    recent = OutboxEvent.objects.create(name="recent", payload={}, delivered_at=now - dt.timedelta(days=2))
    undelivered = OutboxEvent.objects.create(name="undelivered", payload={})
    OutboxEvent.objects.filter(pk=undelivered.pk).update(created_at=now - dt.timedelta(days=30))

    # When the hourly retention runs
    outbox_retention.call_local()

    # Then only the old delivered ones went
    assert len(old) == 3
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {recent.pk, undelivered.pk}


@pytest.mark.django_db
def test_an_outbox_retention_of_zero_keeps_every_event(settings):
    from leadmill.core.tasks import outbox_retention

    settings.LEADMILL_OUTBOX_RETENTION_DAYS = 0
    OutboxEvent.objects.create(name="old", payload={}, delivered_at=timezone.now() - dt.timedelta(days=3000))

    outbox_retention.call_local()

    assert OutboxEvent.objects.count() == 1

"""The domain event bus: publish into the outbox, deliver after commit, at least once."""

import dataclasses
import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from leadmill.core import events
from leadmill.core.models import EventDelivery, OutboxEvent

RECORDER = f"{__name__}.Recorder"


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
def test_a_failing_handler_is_retried_alone_with_backoff_and_the_other_runs_once(
    django_capture_on_commit_callbacks, settings
):
    # Given two subscribers of one event, the second failing
    settings.LEADMILL_EVENT_RETRY_SECONDS = 60
    settings.LEADMILL_EVENT_MAX_ATTEMPTS = 5
    working, failing = Recorder(), Recorder(failing=True)
    probe = a_probe()

    with events.subscribed(ProbeSent, working), events.subscribed(ProbeSent, failing):
        # When it is published and committed
        before = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            outbox_id = events.publish(probe)
        after = timezone.now()

        # Then the first ran once and is delivered; the second waits a minute for its retry
        row = OutboxEvent.objects.get(pk=outbox_id)
        assert row.delivered_at is None
        assert working.received == [probe]
        deliveries = {d.handler: d for d in EventDelivery.objects.filter(event_id=outbox_id)}
        assert sorted(deliveries) == [RECORDER, f"{RECORDER}#2"]
        assert deliveries[RECORDER].state == EventDelivery.State.DELIVERED
        retried = deliveries[f"{RECORDER}#2"]
        assert (retried.state, retried.attempts) == (EventDelivery.State.PENDING, 1)
        assert retried.last_error == "RuntimeError: the CRM is down"
        assert row.next_attempt_at == retried.next_attempt_at
        minute = dt.timedelta(seconds=60)
        assert before + minute <= retried.next_attempt_at <= after + minute

        # When the sweep runs before the retry is due, nothing runs
        assert events.sweep(now=retried.next_attempt_at - dt.timedelta(seconds=1)) == 0
        assert EventDelivery.objects.get(pk=retried.pk).attempts == 1

        # When it fails again at its time, the wait doubles (60 s, then 120 s)
        events.sweep(now=retried.next_attempt_at)
        second = EventDelivery.objects.get(pk=retried.pk)
        assert second.attempts == 2
        assert second.next_attempt_at - retried.next_attempt_at == dt.timedelta(seconds=120)

        # When the CRM is back, the retry delivers it and the event is done
        failing.failing = False
        assert events.sweep(now=second.next_attempt_at) == 1

    assert working.received == [probe]  # never run again
    assert failing.received == [probe]
    row.refresh_from_db()
    assert row.delivered_at is not None
    assert row.next_attempt_at is None
    assert EventDelivery.objects.get(pk=retried.pk).state == EventDelivery.State.DELIVERED


@pytest.mark.django_db
def test_after_its_last_attempt_a_delivery_is_a_dead_letter_the_sweep_leaves_alone(
    django_capture_on_commit_callbacks, settings
):
    settings.LEADMILL_EVENT_MAX_ATTEMPTS = 3
    failing = Recorder(failing=True)
    later = timezone.now() + dt.timedelta(days=2)

    with events.subscribed(ProbeSent, failing):
        with django_capture_on_commit_callbacks(execute=True):
            outbox_id = events.publish(a_probe())
        events.sweep(now=later)
        events.sweep(now=later + dt.timedelta(days=1))
        delivery = EventDelivery.objects.get(event_id=outbox_id)
        assert (delivery.state, delivery.attempts) == (EventDelivery.State.DEAD, 3)
        assert delivery.next_attempt_at is None

        # When the sweep runs again much later, the dead letter is not tried again
        assert events.sweep(now=later + dt.timedelta(days=30)) == 0

    assert EventDelivery.objects.get(pk=delivery.pk).attempts == 3
    row = OutboxEvent.objects.get(pk=outbox_id)
    assert (row.delivered_at, row.next_attempt_at) == (None, None)


@pytest.mark.django_db
def test_retrying_a_dead_letter_delivers_it_and_runs_only_its_handler(
    django_capture_on_commit_callbacks, settings
):
    settings.LEADMILL_EVENT_MAX_ATTEMPTS = 1
    working, failing = Recorder(), Recorder(failing=True)
    probe = a_probe()

    with events.subscribed(ProbeSent, working), events.subscribed(ProbeSent, failing):
        with django_capture_on_commit_callbacks(execute=True):
            outbox_id = events.publish(probe)
        dead = EventDelivery.objects.get(event_id=outbox_id, state=EventDelivery.State.DEAD)

        failing.failing = False
        with django_capture_on_commit_callbacks(execute=True):
            requeued = events.event_deliveries_retry(delivery_ids=[dead.pk])

    assert requeued == 1
    assert failing.received == [probe]
    assert working.received == [probe]
    dead.refresh_from_db()
    assert (dead.state, dead.attempts) == (EventDelivery.State.DELIVERED, 2)
    assert OutboxEvent.objects.get(pk=outbox_id).delivered_at is not None


@pytest.mark.django_db
def test_an_event_left_undelivered_by_the_old_bus_is_delivered_by_the_sweep():
    # Given an event the bus before per-handler deliveries gave up on (20 attempts, no rows)
    recorder = Recorder()
    row = OutboxEvent.objects.create(
        name="ProbeSent",
        payload={"probe_id": 3, "occurred_at": {"__dt__": "2026-11-01T10:00:00+00:00"}},
        attempts=20,
        last_error="old",
        next_attempt_at=timezone.now(),
    )

    with events.subscribed(ProbeSent, recorder):
        assert events.sweep() == 1

    assert [probe.probe_id for probe in recorder.received] == [3]
    row.refresh_from_db()
    assert row.delivered_at is not None
    assert not EventDelivery.objects.exists()


@pytest.mark.django_db
def test_delivering_an_event_twice_calls_its_handlers_once(django_capture_on_commit_callbacks):
    recorder = Recorder()

    with events.subscribed(ProbeSent, recorder):
        with django_capture_on_commit_callbacks(execute=True):
            outbox_id = events.publish(a_probe())
        assert len(recorder.received) == 1

        again = events.deliver(outbox_id)
        swept = events.sweep(now=timezone.now() + dt.timedelta(days=1))

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
def test_the_outbox_retention_deletes_only_fully_delivered_events_past_the_setting(settings):
    # Given delivered events of 10 and 2 days ago (one of the old ones after a retry), an
    # undelivered one and one with a dead letter, both of 30 days ago
    from leadmill.core.tasks import outbox_retention

    settings.LEADMILL_OUTBOX_RETENTION_DAYS = 7
    now = timezone.now()
    old = [
        OutboxEvent.objects.create(
            name="old", payload={}, delivered_at=now - dt.timedelta(days=10, minutes=n)
        )
        for n in range(3)
    ]
    EventDelivery.objects.create(
        event=old[0], handler="a.retried", state=EventDelivery.State.DELIVERED, attempts=2
    )
    recent = OutboxEvent.objects.create(
        name="recent", payload={}, delivered_at=now - dt.timedelta(days=2)
    )
    undelivered = OutboxEvent.objects.create(name="undelivered", payload={})
    dead_letter = OutboxEvent.objects.create(name="dead", payload={})
    EventDelivery.objects.create(
        event=dead_letter,
        handler="a.done",
        state=EventDelivery.State.DELIVERED,
        attempts=1,
        delivered_at=now - dt.timedelta(days=30),
    )
    dead = EventDelivery.objects.create(
        event=dead_letter, handler="a.broken", state=EventDelivery.State.DEAD, attempts=12
    )
    OutboxEvent.objects.filter(pk__in=[undelivered.pk, dead_letter.pk]).update(
        created_at=now - dt.timedelta(days=30)
    )

    # When the hourly retention runs
    outbox_retention.call_local()

    # Then only the old delivered ones went, with their delivery rows
    assert len(old) == 3
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {
        recent.pk,
        undelivered.pk,
        dead_letter.pk,
    }
    assert set(EventDelivery.objects.values_list("event_id", flat=True)) == {dead_letter.pk}
    assert EventDelivery.objects.filter(pk=dead.pk).exists()


@pytest.mark.django_db
def test_an_outbox_retention_of_zero_keeps_every_event(settings):
    from leadmill.core.tasks import outbox_retention

    settings.LEADMILL_OUTBOX_RETENTION_DAYS = 0
    OutboxEvent.objects.create(
        name="old", payload={}, delivered_at=timezone.now() - dt.timedelta(days=3000)
    )

    outbox_retention.call_local()

    assert OutboxEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_publish_many_writes_every_event_and_delivers_them_after_commit(queued_deliveries):
    recorder = Recorder()

    with events.subscribed(ProbeSent, recorder), transaction.atomic():
        ids = events.publish_many([a_probe(1), a_probe(2), a_probe(3)])
        assert recorder.received == []

    assert queued_deliveries == [ids]
    assert [probe.probe_id for probe in recorder.received] == [1, 2, 3]
    assert OutboxEvent.objects.filter(pk__in=ids, delivered_at__isnull=False).count() == 3


@events.event
class ProbeNobodyHears:
    """An event no handler subscribes to."""

    probe_id: int


@pytest.mark.django_db(transaction=True)
def test_events_nobody_subscribes_to_are_written_delivered_and_queue_no_delivery(
    queued_deliveries,
):
    recorder = Recorder()

    with events.subscribed(ProbeSent, recorder), transaction.atomic():
        unheard = events.publish_many([ProbeNobodyHears(probe_id=n) for n in range(3)])
        # Written delivered, inside the transaction: nothing left for a dispatch
        assert (
            OutboxEvent.objects.filter(
                pk__in=unheard, delivered_at__isnull=False, next_attempt_at__isnull=True
            ).count()
            == 3
        )
        heard = events.publish(a_probe(9))

    assert queued_deliveries == [[heard]]
    assert [probe.probe_id for probe in recorder.received] == [9]
    assert OutboxEvent.objects.filter(pk__in=unheard, attempts=0).count() == 3
    assert OutboxEvent.objects.filter(
        pk=heard, delivered_at__isnull=False, next_attempt_at__isnull=True, attempts=1
    ).exists()
    # Neither a claim nor the sweep finds anything to do
    later = timezone.now() + dt.timedelta(hours=1)
    assert events.outbox_due_claim(now=later) == []
    assert events.sweep(now=later) == 0


@pytest.mark.django_db(transaction=True)
def test_a_transaction_publishing_only_unheard_events_queues_no_delivery(queued_deliveries):
    with transaction.atomic():
        events.publish(ProbeNobodyHears(probe_id=1))

    assert queued_deliveries == []


class BatchRecorder:
    """A batch subscriber: remembers each call's list and fails any call holding a probe
    whose id is in ``failing_ids``."""

    def __init__(self, *, failing_ids: frozenset[int] = frozenset()):
        self.calls: list[list[int]] = []
        self.failing_ids = failing_ids

    def __call__(self, batch: list[ProbeSent]) -> None:
        ids = [probe.probe_id for probe in batch]
        if self.failing_ids.intersection(ids):
            raise RuntimeError(f"cannot take {sorted(self.failing_ids.intersection(ids))}")
        self.calls.append(ids)


@pytest.mark.django_db(transaction=True)
def test_a_batch_handler_gets_the_events_of_one_transaction_in_one_call():
    batch, single = BatchRecorder(), Recorder()

    with (
        events.subscribed(ProbeSent, batch, batch=True),
        events.subscribed(ProbeSent, single),
        transaction.atomic(),
    ):
        ids = events.publish_many([a_probe(1), a_probe(2), a_probe(3)])

    assert batch.calls == [[1, 2, 3]]
    assert [probe.probe_id for probe in single.received] == [1, 2, 3]
    assert (
        OutboxEvent.objects.filter(pk__in=ids, delivered_at__isnull=False, attempts=1).count() == 3
    )
    assert not EventDelivery.objects.exists()


@pytest.mark.django_db
def test_a_batch_handler_failing_on_one_event_delivers_the_others_and_retries_it_alone(
    django_capture_on_commit_callbacks, settings
):
    # Given a batch handler that fails on probe 2, and a per-event handler that works
    settings.LEADMILL_EVENT_MAX_ATTEMPTS = 2
    batch, single = BatchRecorder(failing_ids=frozenset({2})), Recorder()
    later = timezone.now() + dt.timedelta(days=1)

    with events.subscribed(ProbeSent, batch, batch=True), events.subscribed(ProbeSent, single):
        # When one transaction publishes probes 1, 2 and 3
        with django_capture_on_commit_callbacks(execute=True):
            first, second, third = events.publish_many([a_probe(1), a_probe(2), a_probe(3)])

        # Then the batch call failed and it was called per event: 1 and 3 are delivered
        assert batch.calls == [[1], [3]]
        assert [probe.probe_id for probe in single.received] == [1, 2, 3]
        delivered = OutboxEvent.objects.filter(delivered_at__isnull=False)
        assert sorted(delivered.values_list("pk", flat=True)) == [first, third]
        assert not EventDelivery.objects.filter(event_id__in=[first, third]).exists()
        # and only probe 2's batch delivery waits for a retry
        deliveries = {d.handler: d for d in EventDelivery.objects.filter(event_id=second)}
        failed = deliveries[f"{__name__}.BatchRecorder"]
        assert (failed.state, failed.attempts) == (EventDelivery.State.PENDING, 1)
        assert failed.last_error == "RuntimeError: cannot take [2]"
        assert deliveries[RECORDER].state == EventDelivery.State.DELIVERED

        # When its retry fails too (the last attempt), it is a dead letter; nothing else ran
        assert events.sweep(now=later) == 0

    assert batch.calls == [[1], [3]]
    assert [probe.probe_id for probe in single.received] == [1, 2, 3]
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (EventDelivery.State.DEAD, 2)
    assert OutboxEvent.objects.get(pk=second).delivered_at is None


@pytest.mark.django_db
def test_a_retried_batch_delivery_gets_a_list_of_its_one_event(
    django_capture_on_commit_callbacks,
):
    batch = BatchRecorder(failing_ids=frozenset({5}))

    with events.subscribed(ProbeSent, batch, batch=True):
        with django_capture_on_commit_callbacks(execute=True):
            outbox_id = events.publish(a_probe(5))
        batch.failing_ids = frozenset()
        assert events.sweep(now=timezone.now() + dt.timedelta(days=1)) == 1

    assert batch.calls == [[5]]
    assert OutboxEvent.objects.get(pk=outbox_id).delivered_at is not None


@events.event
class ProbeEchoed:
    """What a subscriber of ProbeSent publishes in turn (for the chain tests)."""

    probe_id: int


@pytest.mark.django_db(transaction=True)
def test_events_a_handler_publishes_are_delivered_in_the_same_delivery_task(queued_deliveries):
    # Given a handler of ProbeSent that publishes a ProbeEchoed per probe in its transaction
    echoes = BatchRecorder()

    def echo(batch: list[ProbeSent]) -> None:
        with transaction.atomic():
            events.publish_many([ProbeEchoed(probe_id=p.probe_id) for p in batch])

    with (
        events.subscribed(ProbeSent, echo, batch=True),
        events.subscribed(ProbeEchoed, echoes, batch=True),
        transaction.atomic(),  # when a transaction publishes two probes
    ):
        events.publish_many([a_probe(1), a_probe(2)])

    # Then one delivery task delivered both probes and both echoes
    assert len(queued_deliveries) == 1
    assert echoes.calls == [[1, 2]]
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_chain_longer_than_its_rounds_queues_the_rest(queued_deliveries, monkeypatch):
    # Given a delivery task that delivers two rounds, and a chain of three events
    monkeypatch.setattr(events, "CHAIN_ROUNDS", 2)
    echoes = BatchRecorder()

    def echo(batch: list[ProbeSent]) -> None:
        events.publish_many([ProbeEchoed(probe_id=p.probe_id) for p in batch])

    def probe_again(batch: list[ProbeEchoed]) -> None:
        echoes(batch)
        if len(echoes.calls) == 1:
            events.publish(a_probe(8))

    with (
        events.subscribed(ProbeSent, echo, batch=True),
        events.subscribed(ProbeEchoed, probe_again, batch=True),
        transaction.atomic(),
    ):
        first = events.publish(a_probe(7))

    # Then the third event went to a second delivery task, and it delivered it in turn
    assert queued_deliveries[0] == [first]
    assert len(queued_deliveries) == 2
    assert echoes.calls == [[7], [8]]
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_events_published_in_a_delivered_here_block_are_delivered_at_its_end_without_a_task(
    queued_deliveries,
):
    recorder = BatchRecorder()

    with events.subscribed(ProbeSent, recorder, batch=True):
        with events.delivered_here():
            with transaction.atomic():
                events.publish_many([a_probe(1), a_probe(2)])
            with transaction.atomic():
                events.publish(a_probe(3))
            assert recorder.calls == []

        assert recorder.calls == [[1, 2, 3]]

    assert queued_deliveries == []
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_what_a_failing_delivered_here_block_committed_is_queued(queued_deliveries):
    recorder = BatchRecorder()

    with (
        events.subscribed(ProbeSent, recorder, batch=True),
        pytest.raises(RuntimeError, match="the drain broke"),
        events.delivered_here(),
    ):
        with transaction.atomic():
            committed = events.publish(a_probe(4))
        raise RuntimeError("the drain broke")

    assert queued_deliveries == [[committed]]
    assert recorder.calls == [[4]]


@pytest.mark.django_db(transaction=True)
def test_events_left_for_a_claim_queue_no_task_and_are_delivered_by_the_claimer_together(
    queued_deliveries,
):
    # Given three transactions (three API requests) that publish left for a claim
    recorder = BatchRecorder()
    with events.subscribed(ProbeSent, recorder, batch=True):
        for probe_id in (1, 2, 3):
            with events.left_for_claim(), transaction.atomic():
                events.publish(a_probe(probe_id))

        # Then no delivery task was queued and nothing was delivered yet: they are due now
        assert queued_deliveries == []
        assert recorder.calls == []
        assert OutboxEvent.objects.filter(next_attempt_at__lte=timezone.now()).count() == 3

        # When a worker loop claims them inside its delivered_here block
        with events.delivered_here():
            claimed = events.outbox_due_claim()
            events.deliver_claimed(claimed)

    # Then its one chain delivered the three to the batch handler in one call
    assert len(claimed) == 3
    assert recorder.calls == [[1, 2, 3]]
    assert queued_deliveries == []
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_claimed_event_is_not_claimed_again_nor_swept_within_the_grace(queued_deliveries):
    # Given an event left for a claim, claimed once (its claimer has not delivered it yet)
    recorder = Recorder()
    with events.subscribed(ProbeSent, recorder):
        with events.left_for_claim(), transaction.atomic():
            outbox_id = events.publish(a_probe(5))
        now = timezone.now()
        assert events.outbox_due_claim(now=now) == [outbox_id]

        # When another claimer and the sweep look before the grace period has passed
        again = events.outbox_due_claim(now=now + dt.timedelta(seconds=30))
        swept = events.sweep(now=now + dt.timedelta(seconds=30))

        # Then neither takes it; after the grace (its claimer died) the sweep does
        assert again == []
        assert swept == 0
        assert events.sweep(now=now + events.SWEEP_GRACE + dt.timedelta(seconds=1)) == 1
    assert [probe.probe_id for probe in recorder.received] == [5]
    assert OutboxEvent.objects.get(pk=outbox_id).delivered_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_claim_leaves_retries_of_failed_deliveries_to_the_sweep(queued_deliveries):
    # Given an event whose first dispatch failed, its retry due now
    with events.subscribed(ProbeSent, Recorder(failing=True)), transaction.atomic():
        outbox_id = events.publish(a_probe(6))
    row = OutboxEvent.objects.get(pk=outbox_id)
    assert row.attempts == 1 and row.delivered_at is None

    # When a claim runs after the retry became due
    claimed = events.outbox_due_claim(now=row.next_attempt_at + dt.timedelta(seconds=1))

    # Then it takes nothing: retries are the sweep's, alone and with their backoff
    assert claimed == []

"""The outbox's hand-written INSERT (core.events._outbox_insert) follows the OutboxEvent
model, and writes what the ORM would: ids in the order of the events, payloads that read
back as the events, one statement for many events."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.core import events
from leadmill.core.models import OutboxEvent

from .insert_columns import insert_columns_missing, inserts_into
from .test_events import ProbeSent

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 6, 1, 12, 30, 15, 250000, tzinfo=dt.UTC)


def test_the_outbox_insert_writes_every_column_the_model_needs():
    with CaptureQueriesContext(connection) as queries:
        events.publish_many([ProbeSent(probe_id=1, occurred_at=AT)])

    (statement,) = inserts_into(queries.captured_queries, OutboxEvent)
    assert insert_columns_missing(statement, OutboxEvent) == set()


def test_heard_and_unheard_events_in_one_statement_get_their_own_state():
    from .test_events import ProbeNobodyHears

    with events.subscribed(ProbeSent, print):
        ids = events.publish_many(
            [ProbeNobodyHears(probe_id=1), ProbeSent(probe_id=2, occurred_at=AT)]
        )

    unheard, heard = (OutboxEvent.objects.get(pk=pk) for pk in ids)
    assert unheard.delivered_at == unheard.created_at and unheard.next_attempt_at is None
    assert heard.delivered_at is None and heard.next_attempt_at > heard.created_at


def test_many_events_are_one_statement_and_come_back_in_order(monkeypatch):
    monkeypatch.setattr(events, "OUTBOX_INSERT_ROWS", 4)  # three statements for ten events
    sent = [ProbeSent(probe_id=n, occurred_at=AT + dt.timedelta(seconds=n)) for n in range(10)]

    with events.subscribed(ProbeSent, print), CaptureQueriesContext(connection) as queries:
        ids = events.publish_many(sent)

    assert len(inserts_into(queries.captured_queries, OutboxEvent)) == 3
    assert ids == sorted(ids) and len(set(ids)) == 10
    rows = OutboxEvent.objects.in_bulk(ids)
    for outbox_id, event in zip(ids, sent, strict=True):
        row = rows[outbox_id]
        assert row.name == "ProbeSent"
        assert row.payload == {
            "probe_id": event.probe_id,
            "occurred_at": {"__dt__": event.occurred_at.isoformat()},
        }
        assert row.attempts == 0 and row.last_error == "" and row.delivered_at is None
        assert row.created_at is not None and row.next_attempt_at > row.created_at


def test_a_published_event_reads_back_as_it_was_sent():
    outbox_id = events.publish(ProbeSent(probe_id=42, occurred_at=AT))

    row = OutboxEvent.objects.get(pk=outbox_id)
    decoded = ProbeSent(**{key: events._decode(value) for key, value in row.payload.items()})
    assert decoded == ProbeSent(probe_id=42, occurred_at=AT)


def test_an_undeclared_event_is_refused_before_anything_is_written():
    from .test_events import NotDeclared

    with pytest.raises(TypeError, match="not a declared event"):
        events.publish_many([ProbeSent(probe_id=1, occurred_at=AT), NotDeclared(probe_id=2)])
    assert not OutboxEvent.objects.exists()

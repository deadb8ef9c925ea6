"""Writes of tracking: events_ingest, visitors_sync, visitor_identify, events_prune."""

import datetime as dt

import pytest
from django.utils import timezone

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.errors import NotFound
from leadmill.core.models import OutboxEvent

from ..models import Event, Visitor, VisitorSyncState
from ..schemas import EventIn
from ..services import CollectMeta, events_ingest, events_prune, visitor_identify, visitors_sync
from .factories import EventFactory, VisitorFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
VID = "visitor-0000000000000001"
OTHER_VID = "visitor-0000000000000002"


def event(**fields):
    defaults = {
        "type": "page_view",
        "url": "https://leads.example.com/offer",
        "occurred_at": timezone.now(),
        "visitor_id": VID,
    }
    return EventIn(**{**defaults, **fields})


def sync_settled() -> None:
    """Two runs of the periodic sync: the first sees the new events, the second reads them."""
    visitors_sync()
    visitors_sync()


def test_ingest_keeps_first_and_last_seen_of_a_returning_visitor():
    t0 = timezone.now() - dt.timedelta(hours=2)
    VisitorFactory(id=VID, first_seen=t0, last_seen=t0)
    later = t0 + dt.timedelta(hours=1)

    result = events_ingest(
        events=[event(occurred_at=later), event(occurred_at=later - dt.timedelta(minutes=5))],
        meta=CollectMeta(user_agent=BROWSER),
    )
    sync_settled()

    assert (result.stored, result.bots) == (2, 0)
    visitor = Visitor.objects.get()
    assert (visitor.first_seen, visitor.last_seen) == (t0, later)


def test_an_older_batch_never_moves_last_seen_back():
    now = timezone.now()
    VisitorFactory(id=VID, first_seen=now - dt.timedelta(days=1), last_seen=now)

    events_ingest(
        events=[event(occurred_at=now - dt.timedelta(hours=3))],
        meta=CollectMeta(user_agent=BROWSER),
    )
    sync_settled()

    assert Visitor.objects.get().last_seen == now


def test_ingest_writes_no_visitor_row_and_the_sync_writes_it_a_run_later():
    t0 = timezone.now() - dt.timedelta(minutes=10)
    events_ingest(
        events=[
            event(occurred_at=t0 + dt.timedelta(minutes=1)),
            event(occurred_at=t0),
            event(visitor_id=OTHER_VID, occurred_at=t0),
        ],
        meta=CollectMeta(user_agent=BROWSER),
    )

    assert not Visitor.objects.exists()
    assert visitors_sync() == 0  # the first run only notes how far the events go
    assert not Visitor.objects.exists()
    assert visitors_sync() == 2
    assert list(
        Visitor.objects.order_by("id").values_list(
            "id", "first_seen", "last_seen", "is_bot", "contact_id"
        )
    ) == [(VID, t0, t0 + dt.timedelta(minutes=1), False, None), (OTHER_VID, t0, t0, False, None)]
    state = VisitorSyncState.objects.get()
    assert (
        state.read_upto_event_id
        == state.next_upto_event_id
        == Event.objects.order_by("-pk").first().pk
    )


def test_the_sync_widens_first_seen_and_never_clears_a_bot_flag():
    t0 = timezone.now() - dt.timedelta(hours=1)
    VisitorFactory(id=VID, first_seen=t0, last_seen=t0, is_bot=True)

    events_ingest(
        events=[event(occurred_at=t0 - dt.timedelta(minutes=30))],
        meta=CollectMeta(user_agent=BROWSER),
    )
    sync_settled()

    visitor = Visitor.objects.get()
    assert (visitor.first_seen, visitor.last_seen, visitor.is_bot) == (
        t0 - dt.timedelta(minutes=30),
        t0,
        True,
    )


def test_the_sync_reads_at_most_max_chunks_per_run_and_the_rest_next_time():
    events_ingest(
        events=[event(visitor_id=f"visitor-00000000000001{i:02d}") for i in range(5)],
        meta=CollectMeta(user_agent=BROWSER),
    )
    first = Event.objects.order_by("pk").first().pk
    VisitorSyncState.objects.filter(pk=1).update(
        read_upto_event_id=first - 1, next_upto_event_id=first - 1
    )
    visitors_sync()

    assert visitors_sync(chunk_size=2, max_chunks=1) == 2
    assert Visitor.objects.count() == 2
    assert visitors_sync(chunk_size=2, max_chunks=5) == 3
    assert Visitor.objects.count() == 5


def test_a_bot_batch_flags_its_visitor_at_once_so_its_next_batch_is_flagged_too():
    events_ingest(
        events=[event()], meta=CollectMeta(user_agent="Mozilla/5.0 (compatible; bingbot/2.0)")
    )

    assert Visitor.objects.get().is_bot is True
    events_ingest(events=[event()], meta=CollectMeta(user_agent=BROWSER))
    assert list(Event.objects.order_by("id").values_list("is_bot", flat=True)) == [True, True]


def test_ingest_joins_the_visitor_row_for_its_contact_and_announces_the_events():
    contact = ContactFactory()
    VisitorFactory(id=VID, contact=contact)

    result = events_ingest(
        events=[event(), event(visitor_id=OTHER_VID), event(type="cta_click", name="demo")],
        meta=CollectMeta(user_agent=BROWSER),
    )

    assert result.stored == 3
    rows = list(Event.objects.order_by("id").values_list("pk", "visitor_id", "contact_id"))
    assert [(vid, contact_id) for _pk, vid, contact_id in rows] == [
        (VID, contact.pk),
        (OTHER_VID, None),
        (VID, contact.pk),
    ]
    outbox = OutboxEvent.objects.get(name="ContactEventsIngested")
    assert outbox.payload["event_ids"] == [rows[0][0], rows[2][0]]
    assert outbox.payload["contact_ids"] == [contact.pk]


def test_anonymous_events_of_a_visitor_identified_meanwhile_are_attached_by_the_sync():
    contact = ContactFactory()
    events_ingest(events=[event()], meta=CollectMeta(user_agent=BROWSER))
    # identified while that batch was in flight: its events were not yet visible to the UPDATE
    VisitorFactory(id=VID, contact=contact)

    sync_settled()

    assert Event.objects.get().contact_id == contact.pk
    outbox = OutboxEvent.objects.get(name="ContactEventsIngested")
    assert outbox.payload["contact_ids"] == [contact.pk]


def test_ingest_classifies_page_views_against_our_own_hosts():
    events_ingest(
        events=[
            event(referrer="https://www.example.com/blog"),
            event(referrer="https://news.example.org/"),
        ],
        meta=CollectMeta(user_agent=BROWSER, own_hosts={"www.example.com"}),
    )

    assert list(Event.objects.order_by("id").values_list("channel", "source")) == [
        ("internal", ""),
        ("referral", "news.example.org"),
    ]


def test_an_empty_batch_stores_nothing():
    assert events_ingest(events=[], meta=CollectMeta(user_agent=BROWSER)).stored == 0
    assert not Visitor.objects.exists()


def test_identify_attaches_the_anonymous_events_of_the_visitor_to_the_contact():
    contact = ContactFactory()
    visitor = VisitorFactory(id=VID)
    mine = EventFactory.create_batch(3, visitor=visitor)
    someone_else = EventFactory(visitor=VisitorFactory(id=OTHER_VID))

    attached = visitor_identify(visitor_id=VID, contact_id=contact.pk)

    assert attached == 3
    assert set(Event.objects.filter(contact=contact).values_list("pk", flat=True)) == {
        e.pk for e in mine
    }
    assert Event.objects.get(pk=someone_else.pk).contact_id is None
    assert Visitor.objects.get(pk=VID).contact_id == contact.pk
    outbox = OutboxEvent.objects.get(name="VisitorIdentified")
    assert outbox.payload["visitor_id"] == VID
    assert outbox.payload["contact_id"] == contact.pk
    assert outbox.payload["events_attached"] == 3


def test_identify_never_moves_events_of_another_contact():
    first, second = ContactFactory(), ContactFactory()
    visitor = VisitorFactory(id=VID, contact=first)
    earlier = EventFactory(visitor=visitor, contact=first)
    anonymous = EventFactory(visitor=visitor)

    attached = visitor_identify(visitor_id=VID, contact_id=second.pk)

    assert attached == 1
    assert Event.objects.get(pk=earlier.pk).contact_id == first.pk
    assert Event.objects.get(pk=anonymous.pk).contact_id == second.pk
    assert Visitor.objects.get(pk=VID).contact_id == second.pk
    assert first.__class__.objects.filter(pk__in=[first.pk, second.pk]).count() == 2


def test_identify_twice_is_idempotent_and_publishes_once():
    contact = ContactFactory()
    EventFactory(visitor=VisitorFactory(id=VID))

    assert visitor_identify(visitor_id=VID, contact_id=contact.pk) == 1
    assert visitor_identify(visitor_id=VID, contact_id=contact.pk) == 0
    assert OutboxEvent.objects.filter(name="VisitorIdentified").count() == 1


def test_identify_of_an_unknown_visitor_creates_it_so_later_events_go_to_the_contact():
    contact = ContactFactory()

    assert visitor_identify(visitor_id=VID, contact_id=contact.pk) == 0
    events_ingest(events=[event()], meta=CollectMeta(user_agent=BROWSER))

    assert Event.objects.get().contact_id == contact.pk


@pytest.mark.parametrize("bad_id", ["", "short", "x" * 65, "has space in it 123456", None])
def test_identify_ignores_an_invalid_visitor_id(bad_id):
    contact = ContactFactory()

    assert visitor_identify(visitor_id=bad_id, contact_id=contact.pk) == 0
    assert not Visitor.objects.exists()
    assert not OutboxEvent.objects.filter(name="VisitorIdentified").exists()


def test_identify_with_a_missing_contact_raises_not_found():
    with pytest.raises(NotFound):
        visitor_identify(visitor_id=VID, contact_id=999_999)
    assert not Visitor.objects.exists()


def test_prune_deletes_events_older_than_the_retention_in_batches():
    now = timezone.now()
    old_visitor = VisitorFactory(
        id=OTHER_VID, first_seen=now - dt.timedelta(days=40), last_seen=now - dt.timedelta(days=40)
    )
    known = VisitorFactory(
        id="visitor-known-00000001",
        first_seen=now - dt.timedelta(days=40),
        last_seen=now - dt.timedelta(days=40),
        contact=ContactFactory(),
    )
    old = [
        EventFactory(occurred_at=now - dt.timedelta(days=31, minutes=i), visitor=old_visitor)
        for i in range(5)
    ]
    kept = EventFactory(occurred_at=now - dt.timedelta(days=29))

    deleted = events_prune(older_than_days=30, batch_size=2)

    assert deleted == 5
    assert list(Event.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Event.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert list(Visitor.objects.values_list("pk", flat=True)) == [known.pk]


def test_prune_stops_after_max_batches():
    now = timezone.now()
    for minutes in range(5):
        EventFactory(occurred_at=now - dt.timedelta(days=10, minutes=minutes))

    assert events_prune(older_than_days=1, batch_size=2, max_batches=2) == 4
    assert Event.objects.count() == 1


def test_prune_runs_until_every_old_event_is_gone():
    # Given more old events than 100 slices of 2 (the old cap of one run) hold
    now = timezone.now()
    old = Event.objects.bulk_create(
        [
            Event(occurred_at=now - dt.timedelta(days=10, seconds=n), type="page_view")
            for n in range(250)
        ]
    )
    kept = EventFactory(occurred_at=now - dt.timedelta(hours=1))

    # When one run prunes them in slices of 2
    deleted = events_prune(older_than_days=1, batch_size=2)

    # Then all of them went, and only they
    assert deleted == len(old) == 250
    assert list(Event.objects.values_list("pk", flat=True)) == [kept.pk]


def test_prune_stops_when_told_to():
    now = timezone.now()
    Event.objects.bulk_create(
        [
            Event(occurred_at=now - dt.timedelta(days=10, seconds=n), type="page_view")
            for n in range(10)
        ]
    )
    slices = iter([True, True, False])

    assert events_prune(older_than_days=1, batch_size=3, keep_going=lambda: next(slices)) == 6
    assert Event.objects.count() == 4


def test_batches_written_together_get_each_their_own_rows():
    from ..services import _batches_write, _Rows

    contact = ContactFactory()
    VisitorFactory(id=OTHER_VID, contact=contact)
    at = timezone.now()

    def rows(visitor_id, count, is_bot=False):
        return [
            (
                at,
                visitor_id,
                "page_view",
                "",
                f"https://leads.example.com/{i}",
                "",
                "{}",
                "",
                "",
                "",
                "",
                "",
                "",
                is_bot,
            )
            for i in range(count)
        ]

    answers = _batches_write(
        [
            _Rows(rows(VID, 2), {}),
            _Rows(rows(OTHER_VID, 3), {}),
            _Rows(
                rows("visitor-bot-000000000001", 1, is_bot=True),
                {"visitor-bot-000000000001": (at, at)},
            ),
        ]
    )

    assert [len(answer) for answer in answers] == [2, 3, 1]
    by_id = {e.pk: e for e in Event.objects.all()}
    assert {by_id[pk].visitor_id for pk, _contact, _bot in answers[0]} == {VID}
    assert {(by_id[pk].visitor_id, contact_id) for pk, contact_id, _bot in answers[1]} == {
        (OTHER_VID, contact.pk)
    }
    assert (
        answers[2][0][2] is True
        and Visitor.objects.get(id="visitor-bot-000000000001").is_bot is True
    )
    assert (
        OutboxEvent.objects.filter(name="ContactEventsIngested").count() == 1
    )  # one announcement for the group


@pytest.mark.django_db(transaction=True)
def test_batches_ingested_at_once_from_many_threads_are_all_stored_with_their_visitors():
    import threading

    from django.db import connection

    results, errors = {}, []

    def ingest(n):
        visitor_id = f"visitor-thread-{n:010d}"
        try:
            results[visitor_id] = events_ingest(
                events=[
                    event(visitor_id=visitor_id, url=f"https://leads.example.com/{i}")
                    for i in range(n + 1)
                ],
                meta=CollectMeta(user_agent=BROWSER),
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert {visitor_id: result.stored for visitor_id, result in results.items()} == {
        f"visitor-thread-{n:010d}": n + 1 for n in range(8)
    }
    for n in range(8):
        assert Event.objects.filter(visitor_id=f"visitor-thread-{n:010d}").count() == n + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("synchronous", [False, True])
def test_on_postgresql_a_batch_commits_without_waiting_for_the_flush_unless_asked(
    settings, synchronous
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.LEADMILL_TRACKING_SYNCHRONOUS_COMMIT = synchronous

    with CaptureQueriesContext(connection) as captured:
        events_ingest(events=[event()], meta=CollectMeta(user_agent=BROWSER))

    settings_sent = [
        query["sql"] for query in captured.captured_queries if query["sql"].startswith("SET LOCAL")
    ]
    quick = connection.vendor == "postgresql" and not synchronous
    assert any("SET LOCAL synchronous_commit TO OFF" in sql for sql in settings_sent) is quick
    # and the write is bounded (LEADMILL_INGEST_TIMEOUT_MS), in the same one statement
    if connection.vendor == "postgresql":
        assert settings_sent == [
            "SET LOCAL lock_timeout = 5000; SET LOCAL statement_timeout = 5000"
            + ("; SET LOCAL synchronous_commit TO OFF" if quick else "")
        ]
    else:
        assert settings_sent == []
    assert Event.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_its_commit_is_left_as_it_is():
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        events_ingest(events=[event()], meta=CollectMeta(user_agent=BROWSER))

    assert not any("synchronous_commit" in query["sql"] for query in captured.captured_queries)

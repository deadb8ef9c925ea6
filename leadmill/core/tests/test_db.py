"""sqlite_writer_turn: the threads of a process queue for SQLite's one writer."""

import threading
import time

import pytest
from django.db import connection, transaction

from leadmill.core import db


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_a_write_outside_a_transaction_holds_the_process_lock():
    with db.sqlite_writer_turn():
        held = db._sqlite_write_lock.locked()

    assert held == (connection.vendor == "sqlite")  # PostgreSQL's writers never wait for each other
    assert not db._sqlite_write_lock.locked()


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_it_takes_no_lock():
    with transaction.atomic(), db.sqlite_writer_turn():
        assert not db._sqlite_write_lock.locked()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
def test_a_second_thread_waits_for_its_turn():
    order = []
    entered = threading.Event()

    def second():
        entered.set()
        with db.sqlite_writer_turn():
            order.append("second")

    with db.sqlite_writer_turn():
        thread = threading.Thread(target=second)
        thread.start()
        entered.wait(5)
        thread.join(0.2)  # it cannot finish while the first holds the turn
        order.append("first")
    thread.join(5)

    assert order == ["first", "second"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
def test_other_processes_wait_on_the_file_lock_beside_the_database(tmp_path):
    import fcntl
    import os

    database = tmp_path / "db.sqlite3"
    lock_file = db._lock_file(database)
    assert lock_file == db._lock_file(database)  # one descriptor per process and file
    other = os.open(f"{database}-writers.lock", os.O_RDWR)  # as another process opens it
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again once the turn ends
    finally:
        os.close(other)
    assert db._lock_file(":memory:") is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
def test_the_turn_holds_the_file_lock_of_a_database_file():
    import fcntl
    import os

    name = str(connection.settings_dict["NAME"])
    if db._lock_file(name) is None:
        pytest.skip("the test database is in memory")
    other = os.open(f"{name}-writers.lock", os.O_RDWR)
    try:
        with db.sqlite_writer_turn(), pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(other)


# --- planner statistics (ADR 0058) -----------------------------------------------------------


def refreshed_until_analysed(table: str) -> list[str]:
    """Refresh until ``table`` is analysed, for at most 30 s: the server counts a backend's
    changes a moment after its commit. The last refresh's list."""
    deadline = time.monotonic() + 30
    analysed = db.planner_statistics_refresh()
    while table not in analysed and time.monotonic() < deadline:
        time.sleep(0.2)
        analysed = db.planner_statistics_refresh()
    return analysed


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_table_filled_since_its_last_analyse_is_analysed_once():
    from leadmill.contacts.models import Contact

    # Given a table that received many rows since it was last analysed
    Contact.objects.bulk_create(Contact(email=f"p{n}@stats.example") for n in range(120))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this backend's counts, now

    # When the statistics are refreshed (until the server has counted the rows)
    analysed = refreshed_until_analysed("contacts_contact")

    # Then the table was analysed: the planner knows its rows
    assert "contacts_contact" in analysed
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'contacts_contact'")
        assert cursor.fetchone()[0] == 120
    # and a second refresh finds nothing left to do for it
    assert "contacts_contact" not in db.planner_statistics_refresh()


@pytest.mark.django_db(transaction=True)
def test_the_drains_refresh_is_due_at_most_once_an_interval_and_never_on_sqlite(monkeypatch):
    monkeypatch.setattr(db, "_statistics_checked_at", float("-inf"))

    first = db.planner_statistics_due(interval_s=3600)
    second = db.planner_statistics_due(interval_s=3600)

    assert (first, second) == (
        (True, False) if connection.vendor == "postgresql" else (False, False)
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_table_a_migration_holds_is_skipped_not_waited_for():
    import psycopg

    from leadmill.contacts.models import Contact

    # Given a table with stale statistics that another session holds exclusively
    Contact.objects.bulk_create(Contact(email=f"q{n}@stats.example") for n in range(120))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    params = connection.get_connection_params()
    blocker = psycopg.connect(
        **{key: value for key, value in params.items() if key != "cursor_factory"}
    )
    try:
        blocker.execute("LOCK TABLE contacts_contact IN ACCESS EXCLUSIVE MODE")
        # When the statistics are refreshed: no error, and nothing analysed
        assert db.planner_statistics_refresh() == []
    finally:
        blocker.rollback()
        blocker.close()
    # Then, the lock gone, the table is analysed (once the server has counted its rows)
    assert "contacts_contact" in refreshed_until_analysed("contacts_contact")


@pytest.mark.django_db
def test_instances_where_reads_what_the_orm_reads_with_each_field_converted():
    """The hot path's plain SELECT gives the same instances as the QuerySet: every column,
    datetimes as aware datetimes and JSON decoded, on SQLite as on PostgreSQL."""
    import datetime as dt

    from django.utils import timezone

    from leadmill.api.models import ApiKey
    from leadmill.api.services import api_key_create

    key, _secret = api_key_create(
        name="read",
        scopes=["leads:read", "leads:write"],
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    api_key_create(name="other", scopes=["leads:read"])

    [read] = db.instances_where(ApiKey, "prefix = %s", [key.prefix])
    orm = ApiKey.objects.get(pk=key.pk)
    assert read.pk == orm.pk
    for field in ApiKey._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(orm, field.attname), field.name
    assert read.scopes == ["leads:read", "leads:write"]
    assert timezone.is_aware(read.created_at) and timezone.is_aware(read.expires_at)
    assert db.instances_where(ApiKey, "prefix = %s", ["00000000"]) == []


@pytest.mark.django_db
def test_instances_insert_writes_the_rows_bulk_create_writes_with_their_keys():
    """The hot path's insert (a JSON document on PostgreSQL) against ``bulk_create``: the same
    instances give the same columns (JSON, an IP address, a decimal, datetimes, nullable
    keys, ``auto_now_add``), each instance gets its key, in order."""
    import datetime as dt

    from django.forms.models import model_to_dict

    from leadmill.capture.models import Submission
    from leadmill.contacts.models import Contact

    at = dt.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)

    def contacts(tag: str) -> list[Contact]:
        return [
            Contact(email=f"{tag}{n}@example.com", first_name="Ana", last_name="O'Brien ção")
            for n in range(3)
        ]

    def submissions(contact: Contact) -> list[Submission]:
        return [
            Submission(
                channel="api",
                status="accepted",
                data={"email": "a@example.com", "nested": {"n": [1, 2.5, None, True]}},
                values={"email": "a@example.com"},
                contact=contact,
                ip_address=address,
                page_url="https://example.com/p?q=1&r=é",
                offer_emailed_at=at,
            )
            for address in ("203.0.113.9", "2001:db8::1", None)
        ]

    ours = db.instances_insert(contacts("ours"))
    theirs = Contact.objects.bulk_create(contacts("theirs"))
    assert [c.pk for c in ours] == sorted(c.pk for c in ours) and None not in [c.pk for c in ours]
    assert all(not c._state.adding for c in ours)
    skip = {"id", "email", "created_at", "updated_at"}
    for mine, other in zip(ours, theirs, strict=True):
        read_mine = Contact.objects.get(pk=mine.pk)
        read_other = Contact.objects.get(pk=other.pk)
        assert {k: v for k, v in model_to_dict(read_mine).items() if k not in skip} == {
            k: v for k, v in model_to_dict(read_other).items() if k not in skip
        }
        assert read_mine.email == mine.email and read_mine.created_at is not None

    written = db.instances_insert(submissions(ours[0]))
    compared = Submission.objects.bulk_create(submissions(ours[0]))
    fields = [
        f.attname for f in Submission._meta.concrete_fields if f.attname not in {"id", "created_at"}
    ]
    for mine, other in zip(written, compared, strict=True):
        read_mine = Submission.objects.values(*fields).get(pk=mine.pk)
        read_other = Submission.objects.values(*fields).get(pk=other.pk)
        assert read_mine == read_other
    assert Submission.objects.get(pk=written[0].pk).offer_emailed_at == at


@pytest.mark.django_db
def test_any_finds_the_rows_whose_value_is_in_the_list_sent_as_one_parameter():
    """``field__any=ids`` answers what ``field__in=ids`` answers (a key, a relation's id, a
    string column), an empty list matching nothing, with the list as ONE parameter of the
    statement whatever its length."""
    from django.utils import timezone

    from leadmill.contacts.models import Contact
    from leadmill.tracking.models import Event, EventType

    contacts = Contact.objects.bulk_create([Contact(email=f"any{n}@example.com") for n in range(5)])
    for contact in contacts:
        Event.objects.create(contact=contact, type=EventType.PAGE_VIEW, occurred_at=timezone.now())
    wanted = [contacts[1].pk, contacts[3].pk, contacts[4].pk, 10**9]

    sent = []

    def record(execute, sql, params, many, context):
        sent.append(params)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        by_key = sorted(Contact.objects.filter(pk__any=wanted).values_list("pk", flat=True))
    by_relation = sorted(
        Event.objects.filter(contact_id__any=wanted).values_list("contact_id", flat=True)
    )
    by_text = sorted(
        Contact.objects.filter(email__any=["any0@example.com", "any2@example.com"]).values_list(
            "pk", flat=True
        )
    )

    assert by_key == sorted(Contact.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert by_key == sorted(wanted[:3])
    assert by_relation == sorted(wanted[:3])
    assert by_text == [contacts[0].pk, contacts[2].pk]
    assert list(Contact.objects.filter(pk__any=[])) == []
    assert len(sent) == 1 and len(sent[0]) == 1  # the four ids in one parameter

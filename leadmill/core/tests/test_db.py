"""sqlite_writer_turn: the threads of a process queue for SQLite's one writer."""

import threading

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

"""GroupCommit: concurrent writes of a process's threads share one write, each caller
still gets its own answer (leadmill.core.group_commit)."""

import threading
import time

import pytest
from django.db import connection, transaction

from ..group_commit import GroupCommit

pytestmark = pytest.mark.django_db  # the suite's autouse fixtures reach the database


class Recorder:
    """A write that records its groups, can be held in its first call, and fails any group
    holding "bad"."""

    def __init__(self, hold_first: bool = False) -> None:
        self.groups: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.hold_first = hold_first

    def __call__(self, items):
        self.groups.append(list(items))
        if self.hold_first and len(self.groups) == 1:
            self.entered.set()
            assert self.release.wait(10)
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]


def submit_in_threads(group_commit, items):
    """Submit each item from its own thread; returns {item: result or exception}."""
    answers = {}

    def run(item):
        try:
            answers[item] = group_commit.submit(item)
        except Exception as exc:
            answers[item] = exc

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, answers


def queued_behind_a_held_write(group_commit, write, items):
    """Submit "a" and hold its write; submit ``items`` from threads while it is held, wait
    until they queue, release it; returns {item: answer} of ``items``."""
    first, _ = submit_in_threads(group_commit, ["a"])
    assert write.entered.wait(10)
    rest, answers = submit_in_threads(group_commit, items)
    deadline = time.monotonic() + 10
    while len(group_commit._queue) < len(items):
        assert time.monotonic() < deadline, "the threads did not queue"
        time.sleep(0.001)
    write.release.set()
    for thread in first + rest:
        thread.join(10)
    return answers


def test_a_lone_write_is_written_at_once():
    write = Recorder()

    assert GroupCommit(write).submit("a") == "A"
    assert write.groups == [["a"]]


def test_writes_arriving_during_a_write_are_written_together_and_answered_each():
    write = Recorder(hold_first=True)

    answers = queued_behind_a_held_write(GroupCommit(write), write, ["b", "c", "d", "e"])

    assert answers == {"b": "B", "c": "C", "d": "D", "e": "E"}
    assert write.groups[0] == ["a"]
    assert sorted(write.groups[1]) == ["b", "c", "d", "e"]  # one write for the four
    assert len(write.groups) == 2


def test_a_failing_group_is_written_again_one_by_one_and_fails_only_its_bad_item():
    write = Recorder(hold_first=True)

    answers = queued_behind_a_held_write(GroupCommit(write), write, ["b", "bad", "d"])

    assert answers["b"] == "B" and answers["d"] == "D"
    assert isinstance(answers["bad"], ValueError)
    assert sorted(map(tuple, write.groups[2:])) == [("b",), ("bad",), ("d",)]


def test_a_group_holds_items_up_to_max_size():
    write = Recorder(hold_first=True)

    answers = queued_behind_a_held_write(
        GroupCommit(write, max_size=4, size=len), write, ["bb", "cc", "dd"]
    )

    assert answers == {"bb": "BB", "cc": "CC", "dd": "DD"}
    assert [len(group) for group in write.groups] == [1, 2, 1]


def test_inside_a_callers_transaction_the_write_is_its_own_and_in_that_transaction():
    seen = []

    def write(items):
        seen.append(connection.in_atomic_block)
        return list(items)

    with transaction.atomic():
        assert GroupCommit(write).submit("a") == "a"

    assert seen == [True]


def test_callers_queued_behind_a_stuck_write_give_up_after_wait_s_and_the_queue_goes_on():
    # Given a write that is stuck (held) and a group commit whose callers wait 0.2 s
    from ..group_commit import WriteQueueTimeout

    write = Recorder(hold_first=True)
    group_commit = GroupCommit(write, wait_s=0.2)
    first, first_answers = submit_in_threads(group_commit, ["a"])
    assert write.entered.wait(10)

    # When two more callers queue behind it
    rest, answers = submit_in_threads(group_commit, ["b", "c"])
    for thread in rest:
        thread.join(10)

    # Then each gave up with WriteQueueTimeout (a 503) and left the queue, unwritten
    assert [type(answers[item]) for item in ("b", "c")] == [WriteQueueTimeout, WriteQueueTimeout]
    assert group_commit._queue == []
    # and once the stuck write ends, its caller has its answer and the next write goes at once
    write.release.set()
    first[0].join(10)
    assert first_answers == {"a": "A"}
    assert group_commit.submit("d") == "D"
    assert write.groups == [["a"], ["d"]]


def test_a_write_that_raises_beyond_exception_still_lets_the_next_caller_write():
    # Given a write whose first call is interrupted by a BaseException (as a thread's exit)
    calls = []

    def write(items):
        calls.append(list(items))
        if len(calls) == 1:
            raise KeyboardInterrupt
        return [item.upper() for item in items]

    group_commit = GroupCommit(write, wait_s=5)
    with pytest.raises(KeyboardInterrupt):
        group_commit.submit("a")

    # When another caller writes, then it is written at once instead of waiting forever
    assert group_commit.submit("b") == "B"
    assert calls == [["a"], ["b"]]

"""Expiring locks (leadmill.core.locks): held once at a time, renewed, freed when their
holder is gone."""

import os
import socket
import subprocess
import sys

import pytest
from django.core.cache import cache

from .. import locks
from ..locks import ExpiringLock, locks_release_dead

pytestmark = pytest.mark.django_db  # the cache is a database table

LOCK = ExpiringLock("tests.probe", seconds=60)


def dead_pid() -> int:
    """The pid of a process that has exited (and was reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_lock_is_held_by_one_holder_at_a_time_and_free_again_after():
    with LOCK.hold() as held:
        assert held
        with LOCK.hold() as second:
            assert not second
            assert not second.renew()
        assert held.renew()
    with LOCK.hold() as again:
        assert again


def test_a_holder_whose_lock_was_taken_over_learns_it_on_renew_and_leaves_the_new_one_alone():
    with LOCK.hold() as held:
        cache.set(LOCK.key, "someone else", timeout=60)
        held._renewed_at = 0.0  # due for a renewal
        assert not held.renew()
    assert cache.get(LOCK.key) == "someone else"


def test_a_starting_consumer_frees_the_locks_of_dead_processes_of_its_machine_only():
    # Given locks left by a dead process here, by this very process, and by another machine
    here = socket.gethostname()
    dead = ExpiringLock("tests.dead", seconds=60)
    mine = ExpiringLock("tests.mine", seconds=60)
    elsewhere = ExpiringLock("tests.elsewhere", seconds=60)
    earlier_self = ExpiringLock("tests.earlier-self", seconds=60)
    cache.set(dead.key, f"{here}|{dead_pid()}|p|t", timeout=60)
    cache.set(elsewhere.key, f"another-machine|{dead_pid()}|p|t", timeout=60)
    cache.set(earlier_self.key, f"{here}|{os.getpid()}|an-earlier-process|t", timeout=60)

    with mine.hold() as held:
        assert held
        # When a consumer starts
        released = locks_release_dead()

        # Then only the dead holders' locks of this machine are gone
        assert released == ["tests.dead", "tests.earlier-self"]
        assert cache.get(dead.key) is None
        assert cache.get(earlier_self.key) is None
        assert cache.get(mine.key) == held.token
        assert cache.get(elsewhere.key) is not None
    assert "tests.mine" in locks._declared

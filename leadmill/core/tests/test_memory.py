"""The long-lived processes leave their start-up objects out of the collector's full passes."""

import gc

import pytest
from huey.contrib.djhuey import HUEY

from leadmill.core.memory import startup_objects_freeze

pytestmark = pytest.mark.django_db


def _walked(obj) -> bool:
    """Whether the collector's passes walk ``obj`` (it is in one of its generations)."""
    return any(o is obj for o in gc.get_objects())


def test_the_objects_alive_at_start_up_are_left_out_of_the_collector():
    alive = ["loaded at start-up"]
    assert _walked(alive)
    try:
        frozen = startup_objects_freeze()
        assert frozen == gc.get_freeze_count() > 1000  # Django's and the apps' objects
        assert not _walked(alive)
        made_later = ["made while serving"]
        assert _walked(made_later)
    finally:
        gc.unfreeze()
    assert _walked(alive)


def test_the_worker_freezes_at_its_start():
    import leadmill.core.tasks  # noqa: F401 -- the consumer loads every app's tasks

    assert "leadmill.startup_objects_freeze" in HUEY._startup

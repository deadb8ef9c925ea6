"""The long-lived processes once loaded: what was loaded at start-up is left out of the garbage
collector, and their threads take turns on the interpreter more often.

Django, Wagtail and every app's modules, URL patterns, templates and model metadata are a
few hundred thousand objects that live as long as the process. CPython's full collection
walks all of them, once every few hundred leads in the worker: 0.33 ms of CPU per lead in
``bench/intake_profile.py``, about a twelfth of the worker's time per lead.
:func:`startup_objects_freeze` moves them to the permanent generation (``gc.freeze``), so a
full collection walks only what was made since; cycles among them are never collected,
which costs nothing for objects that live until the process ends anyway. Called once the
process is loaded: at the end of ``leadmill.wsgi`` (each web worker) and by the worker's
start-up hook (``core.tasks``).

Their threads mostly wait on the database and the mail server, a few milliseconds of Python
between two waits. CPython lets a thread that computes keep the interpreter for up to its
switch interval (5 ms) after a thread whose answer has arrived asks for it back, so each
round trip of a drain, of the email sender or of a web request could wait up to 5 ms more
behind another thread's Python. :func:`thread_switch_shorten` sets the interval to
``LEADMILL_THREAD_SWITCH_MS`` (0.5 ms by default; ADR 75): the waiting thread gets its turn
sooner, at the cost of more frequent hand-overs between threads that both compute.
"""

from __future__ import annotations

import gc
import os
import sys

DEFAULT_SWITCH_MS = 0.5


def startup_objects_freeze() -> int:
    """Collect what start-up left as garbage, then freeze every object alive now; returns
    how many objects the collector now leaves out."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thread_switch_shorten() -> float:
    """Set this process's thread switch interval from ``LEADMILL_THREAD_SWITCH_MS`` (default
    :data:`DEFAULT_SWITCH_MS`; 0 or less, or not a number, leaves Python's own); returns the
    interval in force, in seconds."""
    try:
        milliseconds = float(os.environ.get("LEADMILL_THREAD_SWITCH_MS", DEFAULT_SWITCH_MS))
    except ValueError:
        milliseconds = 0.0
    if milliseconds > 0:
        sys.setswitchinterval(milliseconds / 1000)
    return sys.getswitchinterval()

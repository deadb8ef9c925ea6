"""The long-lived processes' garbage collector: what was loaded at start-up is left out of it.

Django, Wagtail and every app's modules, URL patterns, templates and model metadata are a
few hundred thousand objects that live as long as the process. CPython's full collection
walks all of them, once every few hundred leads in the worker: 0.33 ms of CPU per lead in
``bench/intake_profile.py``, about a twelfth of the worker's time per lead.
:func:`startup_objects_freeze` moves them to the permanent generation (``gc.freeze``), so a
full collection walks only what was made since; cycles among them are never collected,
which costs nothing for objects that live until the process ends anyway. Called once the
process is loaded: at the end of ``leadmill.wsgi`` (each web worker) and by the worker's
start-up hook (``core.tasks``).
"""

from __future__ import annotations

import gc


def startup_objects_freeze() -> int:
    """Collect what start-up left as garbage, then freeze every object alive now; returns
    how many objects the collector now leaves out."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

"""Events the segments app publishes on the domain event bus."""

import datetime as dt

from leadmill.core.events import event


@event
class StaticListChanged:
    """Contacts were put on, or taken off, a static list (by a person or the API).

    A dynamic segment changes when the facts it filters on change, and those facts have
    events of their own; a static list changes only here. ``contact_ids`` are the contacts
    added or removed (``added`` says which). Subscribers: nurture (a lead who entered a
    segment that triggers a sequence is enrolled at once, not at the next sweep; a lead who
    left it may enter again).
    """

    segment_id: int
    contact_ids: list[int]
    added: bool
    occurred_at: dt.datetime

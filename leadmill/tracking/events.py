"""Events the tracking app publishes on the domain event bus."""

import datetime as dt

from leadmill.core.events import event


@event
class VisitorIdentified:
    """A visitor became known as a contact; its earlier anonymous events now belong to it.

    Subscribers: tracking itself, to give the contact the first touch of its earlier visits
    (:func:`.handlers.first_touch_from_visits`); scoring, to count the behaviour the
    contact showed before it filled in a form.
    """

    visitor_id: str
    contact_id: int
    events_attached: int
    occurred_at: dt.datetime


@event
class ContactEventRecorded:
    """An event of a known contact was recorded by the server (an email open or click, ...).

    Subscribers: scoring, to apply the event's points (bot events give none).
    """

    event_id: int
    contact_id: int
    type: str
    is_bot: bool
    occurred_at: dt.datetime


@event
class ContactEventsIngested:
    """The collect endpoint stored events of visitors already identified as contacts: one
    event per ingest batch (only when the batch holds such events that are not bots).

    ``event_ids``: the stored events of contacts, not bots, in id order; ``contact_ids``:
    their contacts. Subscribers: scoring, to add the events' points.
    """

    event_ids: list[int]
    contact_ids: list[int]
    occurred_at: dt.datetime

"""Events the contacts app publishes on the domain event bus."""

import datetime as dt

from leadmill.core.events import event


@event
class ContactCreated:
    """A new contact exists (from a form, an import or the API)."""

    contact_id: int
    occurred_at: dt.datetime


@event
class ContactUpdated:
    """Fields of a contact changed; ``fields`` names them."""

    contact_id: int
    fields: tuple[str, ...]
    occurred_at: dt.datetime


@event
class StageChanged:
    """A contact moved from one lifecycle stage to another."""

    contact_id: int
    from_stage: str
    to_stage: str
    cause: str
    occurred_at: dt.datetime


@event
class TemperatureChanged:
    """A lead became cold, warm or hot; ``cause`` says why (scores, an intent signal, a
    person's edit, a sequence step).

    Declared here, beside :class:`StageChanged`, because every path that changes a
    temperature publishes it: scoring's qualification and ``contact_update`` (an edit in the
    admin, a sequence's update step). ``leadmill.scoring.events`` re-exports it.
    """

    contact_id: int
    from_temperature: str
    to_temperature: str
    cause: str
    occurred_at: dt.datetime


@event
class OutcomeRecorded:
    """How a lead ended was recorded: ``outcome`` is "won" or "lost", ``value`` the deal's
    value as decimal text ("1500.00") or None, ``outcome_at`` the date it happened (which
    may be in the past: an import of old deals), ``occurred_at`` when it was recorded.

    Published by ``contact_update`` whenever the outcome, its value or its date change to a
    recorded outcome (sales' "won" / "lost", the outcomes import, an edit); clearing an
    outcome publishes nothing but ContactUpdated.
    """

    contact_id: int
    outcome: str
    value: str | None
    outcome_at: dt.datetime | None
    reason: str
    occurred_at: dt.datetime


@event
class ContactsMerged:
    """``merged_id`` was merged into ``survivor_id`` and no longer exists."""

    survivor_id: int
    merged_id: int
    occurred_at: dt.datetime


@event
class PossibleDuplicateFound:
    """Two contacts may be one person; a person should review them."""

    contact_id: int
    other_id: int
    reason: str
    occurred_at: dt.datetime

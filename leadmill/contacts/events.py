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

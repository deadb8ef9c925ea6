"""Events the sales app publishes on the domain event bus.

(A lead's outcome is kept in contacts and published there, whoever records it:
:class:`leadmill.contacts.events.OutcomeRecorded`; so are stage and temperature changes.)
"""

import datetime as dt

from leadmill.core.events import event


@event
class OwnerAssigned:
    """A sales lead got its owner: ``rule_id`` is the assignment rule that chose the rep
    (None: the round robin over every eligible rep, or the owner the contact already had)."""

    lead_id: int
    contact_id: int
    owner_id: int
    rule_id: int | None
    occurred_at: dt.datetime

"""Events the consent app publishes on the domain event bus."""

import datetime as dt

from leadmill.core.events import event


@event
class MarketingConsentWithdrawn:
    """A contact withdrew permission for marketing email (an unsubscribe).

    ``purpose_ids`` are the email-marketing purposes newly withdrawn (never empty). Nurture
    listens to stop the contact's sequences; the send-time check already excludes them.
    """

    contact_id: int
    purpose_ids: list[int]
    occurred_at: dt.datetime

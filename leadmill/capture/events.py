"""Events the capture app publishes on the domain event bus."""

import datetime as dt

from leadmill.core.events import event


@event
class LeadCaptured:
    """A form submission was accepted and its contact created or updated.

    Subscribers: the offer email (capture), and later scoring, nurture enrolment, webhooks
    and analytics counts.
    """

    contact_id: int
    submission_id: int
    form_id: int
    offer_id: int | None
    created: bool
    occurred_at: dt.datetime


@event
class CallToActionClicked:
    """A tracked CTA short link was followed."""

    cta_id: int
    occurred_at: dt.datetime

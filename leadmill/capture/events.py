"""Events the capture app publishes on the domain event bus."""

import datetime as dt

from leadmill.core.events import event


@event
class LeadCaptured:
    """A lead from any channel (a form post, the API, an import, a lead ad …) was accepted
    by the one processing path and its contact created or updated.

    ``channel`` is how it came in (:class:`~leadmill.capture.models.Channel`); ``form_id``
    and ``offer_id`` are None for a lead that came without a form. ``source_channel``,
    ``source``, ``medium`` and ``campaign`` are its source as tracking classifies it
    (empty when it came with none).

    Subscribers: the offer email, the visitor stitch and the opt-in request (capture);
    scoring; nurture enrolment; later webhooks and analytics counts.
    """

    contact_id: int
    submission_id: int
    form_id: int | None
    offer_id: int | None
    created: bool
    occurred_at: dt.datetime
    # Defaults: an event written to the outbox before these facts existed still decodes.
    channel: str = "web_form"
    source_channel: str = ""
    source: str = ""
    medium: str = ""
    campaign: str = ""


@event
class CallToActionClicked:
    """A tracked CTA short link was followed."""

    cta_id: int
    occurred_at: dt.datetime

"""The Django side of bench/intake.py, run in a subprocess with the benchmark's environment
(after bench/capture_django.py's ``setup`` made the bench form and its consent purpose).

    python bench/intake_django.py setup            the pipeline a lead goes through (below)
    python bench/intake_django.py purge            drop received posts and queued tasks
    python bench/intake_django.py collect PREFIX   each lead's stage times (emails from PREFIX)

Each prints one JSON object on its last line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")

import django  # noqa: E402

django.setup()

from capture_django import FORM_SLUG, PURPOSE_KEY  # noqa: E402

OWNER_EMAIL = "owner@bench.example"

WELCOME = """
<h1>Hi {{ first_name|default:"there" }},</h1>
<p>Thanks for your interest. Here is the guide you asked for, and what teams like yours do next.</p>
<p><a href="https://example.com/guide">Read the guide</a></p>
"""


def _email_template_model():
    from leadmill.messaging.models import EmailTemplate

    return EmailTemplate


def _message_model():
    from leadmill.messaging.models import Message

    return Message


def setup() -> dict:
    """What makes a captured lead go the whole way, on any channel:

    - scoring: an accepted submission of any form gives 20 engagement points; MQL at fit 0 and
      engagement 10, so every bench lead becomes an MQL when it is scored;
    - nurture: one active sequence triggered on capture (by any capture where the trigger
      exists, else by the bench form) whose first step sends a welcome email at once;
    - sales: one rep (the owner, with an email address) and an assignment rule that takes
      every lead and names that rep;
    - the API: a key with ``leads:write`` (its secret is returned for the load).
    """
    from django.contrib.auth import get_user_model

    from leadmill.api.services import api_key_create
    from leadmill.capture.models import Form
    from leadmill.consent.models import Purpose
    from leadmill.nurture.models import Sequence
    from leadmill.sales.models import AssignmentRule, SalesRep
    from leadmill.scoring.models import LEAD_CAPTURED, EngagementRule, ScoringSettings

    scoring = ScoringSettings.load()
    scoring.mql_fit_threshold, scoring.mql_engagement_threshold = 0, 10
    scoring.save()
    EngagementRule.objects.create(name="Any capture", event_type=LEAD_CAPTURED, points=20)

    purpose = Purpose.objects.get(key=PURPOSE_KEY)
    template = _email_template_model().objects.create(
        name="Welcome",
        subject="{{ first_name|default:'Hi' }}, your guide",
        body=WELCOME,
        purpose=purpose,
    )
    form = Form.objects.get(slug=FORM_SLUG)
    any_capture = getattr(Sequence.Trigger, "CAPTURE", None)
    sequence = Sequence(name="Welcome", is_active=True)
    if any_capture is not None:
        sequence.trigger = any_capture
    else:
        sequence.trigger, sequence.trigger_form = Sequence.Trigger.FORM, form
    sequence.steps = [
        {
            "type": "send_email",
            "value": {"label": "welcome", "template": template.pk},
            "id": str(uuid.uuid4()),
        }
    ]
    sequence.save()

    owner = get_user_model().objects.create_user(
        username="owner", email=OWNER_EMAIL, first_name="Olga", password=uuid.uuid4().hex
    )
    rep = SalesRep.objects.create(user=owner)
    rule = AssignmentRule.objects.create(name="Every lead", priority=1)
    rule.reps.add(rep)

    _key, secret = api_key_create(name="bench intake", scopes=["leads:write"])
    return {
        "api_key": secret,
        "owner_email": OWNER_EMAIL,
        "purpose_key": purpose.key,
        "text_version": purpose.current_text.version,
        "sequence_trigger": sequence.trigger,
    }


def purge() -> dict:
    """Forget the posts of the ceiling run (server alone, no worker): they are not leads of
    any measured phase. Run while no consumer runs."""
    from huey.contrib.djhuey import HUEY

    from leadmill.capture.models import Submission

    deleted, _by_model = Submission.objects.filter(status=Submission.Status.RECEIVED).delete()
    HUEY.flush()
    return {"deleted": deleted}


def _epoch(value) -> float | None:
    return value.timestamp() if value is not None else None


def collect(prefix: str) -> dict:
    """For every contact whose email starts with ``prefix``: the time (seconds since the
    epoch) each row of its way through the pipeline was written. Keys: ``received`` (its
    submission), ``processed`` (LeadCaptured written: contact upserted, consent recorded),
    ``dispatched`` (every LeadCaptured handler done), ``scored`` (the score row),
    ``enrolled``, ``mql`` (StageChanged written), ``lead`` (the sales lead opened),
    ``assigned`` (its owner set), ``notify_claimed`` (the owner's email about to be sent),
    ``welcome_sent`` (the sequence's first email sent), ``owner`` (the owner's id)."""
    from leadmill.capture.models import Submission
    from leadmill.contacts.models import Contact
    from leadmill.core.models import OutboxEvent
    from leadmill.nurture.models import Enrollment
    from leadmill.sales.models import SalesLead
    from leadmill.scoring.models import ContactScore

    leads: dict[int, dict] = {}
    for pk, email, created_at in Contact.objects.filter(email__startswith=prefix).values_list(
        "pk", "email", "created_at"
    ):
        leads[pk] = {"email": email, "contact": _epoch(created_at)}
    if not leads:
        return {"leads": {}}
    first_contact = min(lead["contact"] for lead in leads.values())

    def put(pk: int, key: str, value, *, earliest: bool = True) -> None:
        if pk in leads and value is not None:
            value = _epoch(value) if not isinstance(value, int | float) else value
            old = leads[pk].get(key)
            leads[pk][key] = (
                value if old is None else (min(old, value) if earliest else max(old, value))
            )

    mine = {"contact__email__startswith": prefix}
    for pk, at in Submission.objects.filter(**mine).values_list("contact_id", "created_at"):
        put(pk, "received", at)
    since = dt.datetime.fromtimestamp(first_contact - 120, tz=dt.UTC)
    for name, payload, created_at, delivered_at in OutboxEvent.objects.filter(
        name__in=["LeadCaptured", "StageChanged"], created_at__gte=since
    ).values_list("name", "payload", "created_at", "delivered_at"):
        pk = payload.get("contact_id")
        if name == "LeadCaptured":
            put(pk, "processed", created_at)
            put(pk, "dispatched", delivered_at)
        elif payload.get("to_stage") == "mql":
            put(pk, "mql", created_at)
    for pk, at in ContactScore.objects.filter(**mine).values_list("contact_id", "updated_at"):
        put(pk, "scored", at)
    for pk, at in Enrollment.objects.filter(**mine).values_list("contact_id", "enrolled_at"):
        put(pk, "enrolled", at)
    for pk, created, assigned, claimed, owner in SalesLead.objects.filter(**mine).values_list(
        "contact_id", "created_at", "assigned_at", "assignment_notified_at", "owner_id"
    ):
        put(pk, "lead", created)
        put(pk, "assigned", assigned)
        put(pk, "notify_claimed", claimed)
        if owner is not None:
            leads[pk]["owner"] = owner
    for pk, at in (
        _message_model()
        .objects.filter(**mine, sent_at__isnull=False)
        .values_list("contact_id", "sent_at")
    ):
        put(pk, "welcome_sent", at)
    return {"leads": {lead.pop("email"): lead for lead in leads.values()}}


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "setup":
        print(json.dumps(setup()))
    elif command == "purge":
        print(json.dumps(purge()))
    elif command == "collect" and len(sys.argv) > 2:
        print(json.dumps(collect(sys.argv[2])))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)

"""A form whose every number is known: views, starts, field events, posts with errors.

form "signup": fields email, first_name, phone; D = 10 days ago
A: views, starts 10:00, email, first_name filled; accepted post 10:01:30 (90 s)
B: views, starts 11:00, enters email, leaves            -> left at email
C: views, starts 12:00, email, then first_name, leaves  -> left at first_name
E: views, starts 13:00, email; accepted post 13:05 (300 s); a second post 13:06 is not
   a second time to complete
D: a rejected post with an error on email (no tracker events: the tracker was blocked)
bot: a crawler's view, start and field event, never counted
An event of another form, and one outside the period, never counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from leadmill.capture.models import Form, Submission
from leadmill.capture.tests.factories import form_with_fields
from leadmill.tracking.models import Event, EventType, Visitor


@dataclass
class KnownForm:
    day: dt.date
    form: Form


def _at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(
        day, dt.time(hour, minute, second), tzinfo=timezone.get_default_timezone()
    )


def _event(visitor: str, moment, kind, *, form="signup", field="", action="", bot=False):
    Visitor.objects.get_or_create(
        id=visitor, defaults={"first_seen": moment, "last_seen": moment, "is_bot": bot}
    )
    Event.objects.create(
        visitor_id=visitor,
        occurred_at=moment,
        type=kind,
        name=form,
        url="https://www.example.com/signup/",
        properties={"field": field, "action": action} if field else {},
        is_bot=bot,
    )


def _post(form, visitor, moment, status, errors=None):
    submission = Submission.objects.create(
        form=form,
        status=status,
        data={},
        errors=errors or {},
        visitor_id=visitor,
        page_url="https://www.example.com/signup/?utm_source=google",
    )
    Submission.objects.filter(pk=submission.pk).update(created_at=moment)


def known_form() -> KnownForm:
    day = timezone.localdate() - dt.timedelta(days=10)
    form = form_with_fields(slug="signup", phone=True, marketing_consent=False)
    for visitor, hour in (("visitor-a-000000001", 10), ("visitor-b-000000001", 11)):
        _event(visitor, _at(day, hour), EventType.FORM_VIEW)
    _event("visitor-c-000000001", _at(day, 12), EventType.FORM_VIEW)
    _event("visitor-e-000000001", _at(day, 13), EventType.FORM_VIEW)

    a = "visitor-a-000000001"
    _event(a, _at(day, 10, 0, 5), EventType.FORM_START)
    _event(a, _at(day, 10, 0, 5), EventType.FORM_FIELD, field="email", action="focus")
    _event(a, _at(day, 10, 0, 20), EventType.FORM_FIELD, field="email", action="complete")
    _event(a, _at(day, 10, 0, 25), EventType.FORM_FIELD, field="first_name", action="focus")
    _post(form, a, _at(day, 10, 1, 35), Submission.Status.ACCEPTED)

    b = "visitor-b-000000001"
    _event(b, _at(day, 11, 0, 10), EventType.FORM_START)
    _event(b, _at(day, 11, 0, 10), EventType.FORM_FIELD, field="email", action="focus")

    c = "visitor-c-000000001"
    _event(c, _at(day, 12, 0, 10), EventType.FORM_START)
    _event(c, _at(day, 12, 0, 10), EventType.FORM_FIELD, field="email", action="focus")
    _event(c, _at(day, 12, 0, 30), EventType.FORM_FIELD, field="first_name", action="focus")

    e = "visitor-e-000000001"
    _event(e, _at(day, 13, 0, 0), EventType.FORM_START)
    _event(e, _at(day, 13, 0, 0), EventType.FORM_FIELD, field="email", action="focus")
    _post(form, e, _at(day, 13, 5), Submission.Status.ACCEPTED)
    _post(form, e, _at(day, 13, 6), Submission.Status.ACCEPTED)

    _post(form, "visitor-d-000000001", _at(day, 14), Submission.Status.REJECTED, {"email": ["x"]})

    bot = "crawler-000000000001"
    _event(bot, _at(day, 15), EventType.FORM_VIEW, bot=True)
    _event(bot, _at(day, 15), EventType.FORM_START, bot=True)
    _event(bot, _at(day, 15), EventType.FORM_FIELD, field="phone", action="focus", bot=True)
    _event(a, _at(day, 16), EventType.FORM_VIEW, form="other")
    _event(b, _at(day - dt.timedelta(days=1), 9), EventType.FORM_VIEW)
    return KnownForm(day=day, form=form)

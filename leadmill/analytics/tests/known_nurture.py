"""A known sequence with a holdout, its emails, stage changes and spend (for the nurture
report's tests)."""

import datetime as dt

from leadmill.analytics.models import Spend
from leadmill.contacts.models import Contact, StageChange
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.messaging.models import Message
from leadmill.nurture.models import Enrollment
from leadmill.nurture.tests.engine_factories import sequence_with, step
from leadmill.nurture.tests.factories import EmailTemplateFactory

DAY0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def known_held_out_sequence():
    """20 leads created and enrolled on one day, 10 held out; 200.00 spent that day.
    Nurtured: 6 MQLs, 4 SQLs (one a customer). Held out: 3 MQLs, 1 SQL."""
    template = EmailTemplateFactory()
    welcome = step("send_email", "Welcome", template=template.pk)
    sequence = sequence_with(welcome, holdout_percent=50, name="Onboarding")
    contacts = [ContactFactory() for _ in range(20)]
    Contact.objects.filter(pk__in=[c.pk for c in contacts]).update(created_at=DAY0)
    StageChange.objects.filter(contact__in=contacts).update(changed_at=DAY0)
    nurtured, held = contacts[:10], contacts[10:]
    for contact in contacts:
        enrolment = Enrollment.objects.create(
            sequence=sequence,
            contact=contact,
            enrolled_at=DAY0,
            held_out=contact in held,
            next_run_at=None,
        )
        if contact in nurtured:
            Message.objects.create(
                contact=contact,
                enrollment_id=enrolment.pk,
                step_id=welcome["id"],
                status=Message.Status.SENT,
                sent_at=DAY0,
                opened_at=DAY0 if contact in nurtured[:7] else None,
            )

    def reach(contact, to_stage, days):
        StageChange.objects.create(
            contact=contact,
            to_stage=to_stage,
            changed_at=DAY0 + dt.timedelta(days=days),
            cause="test",
        )

    for contact in nurtured[:6]:
        reach(contact, "mql", 2)
    for contact in nurtured[:4]:
        reach(contact, "sql", 5)
    reach(nurtured[0], "customer", 9)
    for contact in held[:3]:
        reach(contact, "mql", 3)
    reach(held[0], "sql", 6)
    Spend.objects.create(
        day=DAY0.date(), channel="paid_search", source="google", amount=200, currency="USD"
    )
    return sequence

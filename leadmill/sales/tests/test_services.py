"""Sales services: assignment, activities, speed-to-lead, SLA warnings, accept, outcomes."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadmill.contacts.events import StageChanged
from leadmill.contacts.models import Contact, LifecycleStage, StageChange
from leadmill.contacts.services import contact_stage_change
from leadmill.contacts.tests.factories import ContactFactory, UserFactory
from leadmill.core.models import OutboxEvent

from .. import handlers, notifications, selectors
from ..models import ActivityKind, LeadStatus, RoundRobinPool, SalesLead
from ..services import (
    activity_log,
    lead_accept,
    lead_assign,
    lead_disqualify,
    lead_owner_set,
    leads_assign,
    outcome_record,
)
from .factories import AssignmentRuleFactory, SalesLeadFactory, SalesRepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BASE_URL = "https://leads.example"
    settings.LEADMILL_NEW_LEAD_ALERT_EMAIL = ""


def mql(**fields) -> Contact:
    return ContactFactory(lifecycle_stage=LifecycleStage.MQL, **fields)


def owners_of(contacts) -> list[str]:
    return [lead_assign(contact=contact).lead.owner.username for contact in contacts]


# --- assignment --------------------------------------------------------------------------------


def test_weighted_round_robin_gives_a_twice_b_evenly_interleaved():
    SalesRepFactory(user=UserFactory(username="ana"), weight=2)
    SalesRepFactory(user=UserFactory(username="bruno"), weight=1)

    owners = owners_of([mql() for _ in range(6)])

    assert owners == ["ana", "bruno", "ana", "ana", "bruno", "ana"]
    pool = RoundRobinPool.objects.get(key=RoundRobinPool.FALLBACK)
    assert (pool.assigned_count, pool.last_rep.user.username) == (6, "ana")


def test_equal_weights_alternate_and_the_owner_is_set_on_the_contact():
    SalesRepFactory(user=UserFactory(username="ana"))
    SalesRepFactory(user=UserFactory(username="bruno"))
    contacts = [mql() for _ in range(3)]

    owners = owners_of(contacts)

    assert owners == ["ana", "bruno", "ana"]
    assert [
        c.owner.username
        for c in Contact.objects.filter(pk__in=[c.pk for c in contacts]).order_by("pk")
    ] == owners


def test_an_unavailable_rep_is_skipped_and_one_back_from_leave_is_not():
    SalesRepFactory(user=UserFactory(username="ana"), available=False)
    SalesRepFactory(
        user=UserFactory(username="bruno"), unavailable_until=timezone.now() + dt.timedelta(days=2)
    )
    SalesRepFactory(
        user=UserFactory(username="carla"), unavailable_until=timezone.now() - dt.timedelta(hours=1)
    )
    SalesRepFactory(user=UserFactory(username="davi"))

    owners = owners_of([mql() for _ in range(4)])

    assert owners == ["carla", "davi", "carla", "davi"]


def test_a_rep_at_capacity_gets_no_more_leads_until_one_closes():
    ana = SalesRepFactory(user=UserFactory(username="ana"), capacity=1)
    SalesRepFactory(user=UserFactory(username="bruno"))
    first = lead_assign(contact=mql()).lead

    owners = owners_of([mql(), mql()])
    lead_disqualify(lead=first, user=ana.user, reason="student, no budget")
    after_close = owners_of([mql(), mql()])

    assert first.owner.username == "ana"
    assert owners == ["bruno", "bruno"]
    # Turns taken while ana was full do not count against bruno: he is still owed the turn
    # he had before she filled up, then they alternate again.
    assert after_close == ["bruno", "ana"]


def test_rules_match_before_the_round_robin_in_priority_order():
    ana = SalesRepFactory(user=UserFactory(username="ana"))
    bruno = SalesRepFactory(user=UserFactory(username="bruno"))
    carla = SalesRepFactory(user=UserFactory(username="carla"))
    AssignmentRuleFactory(
        name="Brazil enterprise", priority=1, countries="BR", company_sizes="1000+", reps=[carla]
    )
    AssignmentRuleFactory(name="Brazil", priority=2, countries="br", reps=[bruno])

    big_br = lead_assign(contact=mql(country="BR", company_size="1000+"))
    small_br = lead_assign(contact=mql(country="BR", company_size="1-10"))
    us = lead_assign(contact=mql(country="US"))

    assert (big_br.lead.owner, big_br.lead.rule.name) == (carla.user, "Brazil enterprise")
    assert (small_br.lead.owner, small_br.lead.rule.name) == (bruno.user, "Brazil")
    assert (us.lead.owner, us.lead.rule) == (ana.user, None)


def test_a_rule_whose_reps_are_all_away_falls_through_to_the_round_robin():
    SalesRepFactory(user=UserFactory(username="ana"))
    away = SalesRepFactory(user=UserFactory(username="bruno"), available=False)
    AssignmentRuleFactory(countries="PT", reps=[away])

    result = lead_assign(contact=mql(country="PT"))

    assert (result.lead.owner.username, result.lead.rule) == ("ana", None)


def test_the_fallback_respects_the_territories_a_rep_takes():
    SalesRepFactory(user=UserFactory(username="ana"), territories="PT, ES")
    SalesRepFactory(user=UserFactory(username="bruno"))

    owners = owners_of([mql(country="US"), mql(country="US"), mql(country="PT")])

    assert owners == ["bruno", "bruno", "ana"]


def test_with_nobody_available_the_lead_waits_without_an_owner():
    SalesRepFactory(available=False)
    contact = mql()

    result = lead_assign(contact=contact)

    assert (result.assigned, result.lead.owner, result.lead.status) == (False, None, LeadStatus.NEW)
    assert Contact.objects.get(pk=contact.pk).owner is None


# --- the MQL handler --------------------------------------------------------------------------


def test_the_mql_handler_assigns_once_even_when_the_event_is_delivered_twice(
    django_capture_on_commit_callbacks,
):
    SalesRepFactory(user=UserFactory(username="ana", email="ana@sales.example"))
    SalesRepFactory(user=UserFactory(username="bruno"))
    contact = ContactFactory()
    with django_capture_on_commit_callbacks(execute=True):
        contact_stage_change(
            contact=contact, to_stage=LifecycleStage.MQL, cause="fit and engagement passed"
        )
    event = StageChanged(
        contact_id=contact.pk,
        from_stage="lead",
        to_stage="mql",
        cause="fit and engagement passed",
        occurred_at=contact.stage_changed_at,
    )

    with django_capture_on_commit_callbacks(execute=True):
        handlers.assign_new_mql([event])  # the at-least-once bus delivers it again

    lead = SalesLead.objects.get(contact=contact)
    assert lead.owner.username == "ana"
    assert lead.mql_at == contact.stage_changed_at
    assert RoundRobinPool.objects.get(key=RoundRobinPool.FALLBACK).assigned_count == 1
    assert [message.to for message in mail.outbox] == [["ana@sales.example"]]
    assert OutboxEvent.objects.filter(name="StageChanged", delivered_at__isnull=False).count() == 1
    (assigned,) = OutboxEvent.objects.filter(name="OwnerAssigned").values_list("payload", flat=True)
    assert {key: assigned[key] for key in ("lead_id", "contact_id", "owner_id", "rule_id")} == {
        "lead_id": lead.pk,
        "contact_id": contact.pk,
        "owner_id": lead.owner_id,
        "rule_id": None,
    }


def test_a_batch_of_new_mqls_is_assigned_in_one_call_and_its_owners_emailed_in_one_call(
    monkeypatch, django_capture_on_commit_callbacks
):
    # Given two reps taking turns, and three contacts that became MQLs together
    SalesRepFactory(user=UserFactory(username="ana", email="ana@sales.example"))
    SalesRepFactory(user=UserFactory(username="bruno", email="bruno@sales.example"))
    contacts = [mql() for _ in range(3)]
    batch = [
        StageChanged(
            contact_id=contact.pk,
            from_stage="lead",
            to_stage="mql",
            cause="fit and engagement passed",
            occurred_at=timezone.now(),
        )
        for contact in contacts
    ]
    notified: list[list[int]] = []
    send = notifications.emails_send_transactional
    monkeypatch.setattr(
        notifications,
        "emails_send_transactional",
        lambda *, emails: (notified.append([e.to for e in emails]), send(emails=emails))[1],
    )

    # When the batch handler gets them, twice (the bus delivers at least once)
    with django_capture_on_commit_callbacks(execute=True):
        handlers.assign_new_mql(batch)
    with django_capture_on_commit_callbacks(execute=True):
        handlers.assign_new_mql(batch)

    # Then each got an owner in turn, and one call emailed all three owners, once each
    leads = list(SalesLead.objects.filter(contact__in=contacts).order_by("contact_id"))
    assert [lead.owner.username for lead in leads] == ["ana", "bruno", "ana"]
    assert notified == [["ana@sales.example", "bruno@sales.example", "ana@sales.example"]]
    assert sorted(message.to[0] for message in mail.outbox) == [
        "ana@sales.example",
        "ana@sales.example",
        "bruno@sales.example",
    ]
    assert all(lead.assignment_notified_at is not None for lead in leads)


def test_assigning_a_batch_costs_the_same_statements_for_ten_leads_as_for_two():
    # Given two reps taking turns
    SalesRepFactory(user=UserFactory(username="ana", email="ana@sales.example"))
    SalesRepFactory(user=UserFactory(username="bruno", email="bruno@sales.example"))
    lead_assign(contact=mql())  # the round robin's pool exists from here on

    def statements(n: int) -> int:
        contacts = [mql() for _ in range(n)]
        with CaptureQueriesContext(connection) as queries:
            leads_assign(contacts=contacts)
        return len(queries)

    # When ten new MQLs are assigned in one call, and then two
    ten, two = statements(10), statements(2)

    # Then the sales leads, owners and facts are written per batch, not per lead
    assert ten == two
    assert SalesLead.objects.filter(owner__isnull=False).count() == 13
    assert OutboxEvent.objects.filter(name="OwnerAssigned").count() == 13


def test_owner_assigned_names_the_rule_that_chose_the_rep_and_nothing_is_published_without_one():
    ana = SalesRepFactory(user=UserFactory(username="ana"), territories="BR")  # nobody takes PT
    rule = AssignmentRuleFactory(priority=1, countries="BR", reps=[ana])
    chosen, waiting = mql(country="BR"), mql(country="PT")

    lead_assign(contact=chosen)
    lead_assign(contact=waiting)

    published = list(
        OutboxEvent.objects.filter(name="OwnerAssigned").values_list("payload", flat=True)
    )
    assert [(p["contact_id"], p["rule_id"]) for p in published] == [(chosen.pk, rule.pk)]


def owner_assigned_published() -> list[tuple[int, int, int, int | None]]:
    return [
        (p["lead_id"], p["contact_id"], p["owner_id"], p["rule_id"])
        for p in OutboxEvent.objects.filter(name="OwnerAssigned")
        .order_by("pk")
        .values_list("payload", flat=True)
    ]


def test_an_owner_set_by_hand_moves_the_lead_publishes_owner_assigned_and_tells_the_new_owner(
    django_capture_on_commit_callbacks,
):
    lead = SalesLeadFactory(assignment_notified_at=timezone.now())
    boss = UserFactory(username="boss")
    carla = UserFactory(username="carla", email="carla@sales.example")

    with django_capture_on_commit_callbacks(execute=True):
        returned = lead_owner_set(contact=lead.contact, owner=carla, actor=boss)

    lead.refresh_from_db()
    lead.contact.refresh_from_db()
    assert returned == lead
    assert (lead.owner, lead.contact.owner, lead.rule) == (carla, carla, None)
    assert owner_assigned_published() == [(lead.pk, lead.contact_id, carla.pk, None)]
    assert list(
        OutboxEvent.objects.filter(name="ContactUpdated").values_list("payload__fields", flat=True)
    ) == [["owner"]]
    assert [message.to for message in mail.outbox] == [["carla@sales.example"]]


def test_an_owner_given_before_the_hand_off_is_kept_and_announced_when_it_comes():
    SalesRepFactory(user=UserFactory(username="ana"))  # the round robin would pick her
    carla = UserFactory(username="carla")
    contact = ContactFactory()

    assert lead_owner_set(contact=contact, owner=carla) is None
    assert owner_assigned_published() == []

    contact_stage_change(contact=contact, to_stage=LifecycleStage.MQL, cause="score")
    lead = lead_assign(contact=contact).lead

    assert lead.owner == carla
    assert owner_assigned_published() == [(lead.pk, contact.pk, carla.pk, None)]


def test_giving_the_lead_the_owner_it_has_or_taking_it_away_publishes_no_owner_assigned():
    lead = SalesLeadFactory()  # its contact does not name the owner yet

    lead_owner_set(contact=lead.contact, owner=lead.owner)
    lead.contact.refresh_from_db()
    assert lead.contact.owner == lead.owner
    lead_owner_set(contact=lead.contact, owner=None)

    lead.refresh_from_db()
    lead.contact.refresh_from_db()
    assert (lead.owner, lead.contact.owner, lead.assigned_at) == (None, None, None)
    assert owner_assigned_published() == []


def test_the_handler_ignores_other_stages():
    SalesRepFactory()
    contact = ContactFactory(lifecycle_stage=LifecycleStage.SQL)

    handlers.assign_new_mql(
        [
            StageChanged(
                contact_id=contact.pk,
                from_stage="mql",
                to_stage="sql",
                cause="x",
                occurred_at=timezone.now(),
            )
        ]
    )

    assert not SalesLead.objects.exists()


# --- notifications ---------------------------------------------------------------------------


def test_the_owner_is_emailed_the_lead_with_what_matters_and_the_alert_address_too(
    settings, django_capture_on_commit_callbacks
):
    settings.LEADMILL_NEW_LEAD_ALERT_EMAIL = "sales-team@example.com"
    SalesRepFactory(user=UserFactory(username="ana", first_name="Ana", email="ana@sales.example"))
    contact = mql(
        first_name="Rita",
        last_name="Lopes",
        email="rita@acme.example",
        company_name="ACME",
        temperature="hot",
        first_source="google",
    )

    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_assign(contact=contact).lead

    owner_mail, alert = mail.outbox
    assert (owner_mail.to, owner_mail.subject) == (
        ["ana@sales.example"],
        "New lead for you: Rita Lopes",
    )
    body = owner_mail.body
    assert "Hi Ana," in body
    assert "Rita Lopes is your lead now." in body
    assert "Email: rita@acme.example" in body
    assert "Company: ACME" in body
    assert "Temperature: Hot" in body
    assert "Source: google" in body
    assert "within 4 hours" in body
    assert f"https://leads.example/admin/leads/inspect/{contact.pk}/" in body
    assert "https://leads.example/admin/my-leads/" in body
    assert "<strong>Rita Lopes</strong>" in owner_mail.alternatives[0].content
    assert (alert.to, alert.subject) == (["sales-team@example.com"], "New sales lead: Rita Lopes")
    assert "Owner: Ana" in alert.body
    lead.refresh_from_db()
    assert lead.assignment_notified_at is not None and lead.alert_sent_at is not None


def test_no_alert_is_sent_when_no_address_is_chosen(django_capture_on_commit_callbacks):
    SalesRepFactory(user=UserFactory(email=""))

    with django_capture_on_commit_callbacks(execute=True):
        lead_assign(contact=mql())

    assert mail.outbox == []


# --- activities, speed-to-lead, SLA -------------------------------------------------------------


def test_speed_to_lead_is_the_time_from_mql_to_the_first_call_email_meeting_or_note():
    mql_at = timezone.now() - dt.timedelta(hours=5)
    lead = SalesLeadFactory(mql_at=mql_at)
    other = SalesLeadFactory(mql_at=mql_at)
    activity_log(
        contact=lead.contact,
        user=lead.owner,
        kind=ActivityKind.TASK,
        subject="call back",
        occurred_at=mql_at + dt.timedelta(minutes=10),
        due_at=mql_at + dt.timedelta(days=1),
    )
    activity_log(
        contact=lead.contact,
        user=lead.owner,
        kind=ActivityKind.CALL,
        occurred_at=mql_at + dt.timedelta(minutes=90),
    )
    activity_log(
        contact=lead.contact,
        user=lead.owner,
        kind=ActivityKind.NOTE,
        occurred_at=mql_at + dt.timedelta(hours=3),
    )
    activity_log(
        contact=other.contact,
        user=other.owner,
        kind=ActivityKind.EMAIL,
        occurred_at=mql_at + dt.timedelta(hours=4, minutes=30),
    )

    lead.refresh_from_db()
    summary = selectors.speed_to_lead()

    assert lead.speed_to_lead == dt.timedelta(minutes=90)
    assert (summary.leads, summary.median, summary.within_sla) == (2, dt.timedelta(hours=3), 1)


def test_an_sla_warning_is_sent_once_for_an_overdue_lead_and_not_for_one_with_an_activity():
    overdue = SalesLeadFactory(
        mql_at=timezone.now() - dt.timedelta(hours=6),
        sla_due_at=timezone.now() - dt.timedelta(hours=2),
        owner=UserFactory(email="ana@sales.example"),
        contact__first_name="Rita",
        contact__last_name="Lopes",
    )
    worked = SalesLeadFactory(
        mql_at=timezone.now() - dt.timedelta(hours=6),
        sla_due_at=timezone.now() - dt.timedelta(hours=2),
        owner=UserFactory(email="bruno@sales.example"),
    )
    activity_log(contact=worked.contact, user=worked.owner, kind=ActivityKind.CALL)
    SalesLeadFactory(owner=UserFactory(email="carla@sales.example"))  # not due yet

    first_run = notifications.sla_warnings_send()
    second_run = notifications.sla_warnings_send()

    assert (first_run, second_run) == (1, 0)
    (warning,) = mail.outbox
    assert (warning.to, warning.subject) == (
        ["ana@sales.example"],
        "Overdue: no contact yet with Rita Lopes",
    )
    assert "has had no call, email, meeting or note yet" in warning.body
    overdue.refresh_from_db()
    assert overdue.sla_warned_at is not None


def test_the_sla_is_counted_from_mql_in_the_configured_hours(settings):
    settings.LEADMILL_SALES_SLA_HOURS = 2
    SalesRepFactory()
    mql_at = timezone.now() - dt.timedelta(minutes=30)

    lead = lead_assign(contact=mql(), mql_at=mql_at).lead

    assert lead.sla_due_at == mql_at + dt.timedelta(hours=2)


# --- accept, disqualify, outcomes ------------------------------------------------------------------


def test_accepting_moves_the_contact_to_sql_with_the_change_in_its_history():
    lead = SalesLeadFactory(owner=UserFactory(username="ana"))

    lead_accept(lead=lead, user=lead.owner)

    contact = Contact.objects.get(pk=lead.contact_id)
    change = StageChange.objects.filter(contact=contact).first()
    assert contact.lifecycle_stage == LifecycleStage.SQL
    assert (change.from_stage, change.to_stage, change.cause, change.actor) == (
        "mql",
        "sql",
        "accepted by ana",
        lead.owner,
    )
    assert SalesLead.objects.get(pk=lead.pk).status == LeadStatus.QUALIFIED


def test_disqualifying_needs_a_reason_and_closes_the_lead():
    lead = SalesLeadFactory(owner=UserFactory(username="ana"))

    lead_disqualify(lead=lead, user=lead.owner, reason="competitor")

    lead.refresh_from_db()
    assert (lead.status, lead.disqualify_reason, lead.closed_at is not None) == (
        "disqualified",
        "competitor",
        True,
    )
    assert (
        StageChange.objects.filter(contact=lead.contact).first().cause
        == "disqualified by ana: competitor"
    )


def test_a_won_outcome_makes_the_contact_a_customer_with_its_value_and_date():
    lead = SalesLeadFactory(owner=UserFactory(username="ana"))
    won_at = dt.datetime(2025, 3, 14, 12, tzinfo=dt.UTC)

    outcome_record(lead=lead, user=lead.owner, outcome="won", value=Decimal("12500.00"), at=won_at)

    contact = Contact.objects.get(pk=lead.contact_id)
    assert (
        contact.lifecycle_stage,
        contact.outcome,
        contact.outcome_value,
        contact.outcome_at,
    ) == (
        "customer",
        "won",
        Decimal("12500.00"),
        won_at,
    )
    assert StageChange.objects.filter(contact=contact).first().cause == "won by ana"
    assert SalesLead.objects.get(pk=lead.pk).closed_at is not None
    (recorded,) = OutboxEvent.objects.filter(name="OutcomeRecorded").values_list(
        "payload", flat=True
    )
    assert recorded | {"occurred_at": None} == {
        "contact_id": contact.pk,
        "outcome": "won",
        "value": "12500.00",
        "outcome_at": {"__dt__": won_at.isoformat()},
        "reason": "",
        "occurred_at": None,
    }


def test_a_lost_outcome_keeps_the_stage_and_needs_a_reason():
    from leadmill.core.errors import ValidationFailed

    lead = SalesLeadFactory()
    with pytest.raises(ValidationFailed):
        outcome_record(lead=lead, user=lead.owner, outcome="lost")

    outcome_record(lead=lead, user=lead.owner, outcome="lost", reason="chose a competitor")

    contact = Contact.objects.get(pk=lead.contact_id)
    assert (contact.lifecycle_stage, contact.outcome, contact.outcome_reason) == (
        "mql",
        "lost",
        "chose a competitor",
    )

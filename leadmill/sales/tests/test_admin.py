"""The sales back office: My leads (hottest first, why, quick actions) and who may see it."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from leadmill.contacts.models import Contact, LifecycleStage
from leadmill.contacts.tests.factories import ContactFactory, UserFactory
from leadmill.core.models import OutboxEvent
from leadmill.core.setup import groups_ensure

from ..models import Activity, AssignmentRule, SalesLead, SalesRep
from ..setup import sales_groups_ensure
from .factories import SalesLeadFactory

pytestmark = pytest.mark.django_db

MY_LEADS = "/admin/my-leads/"


@pytest.fixture
def rep(client):
    groups_ensure()
    sales_groups_ensure()
    user = UserFactory(username="ana", groups=["Sales"])
    client.force_login(user)
    return user


def action_url(lead, action: str) -> str:
    return reverse("sales_lead_action", args=[lead.pk, action])


def test_my_leads_shows_the_reps_open_leads_hottest_first_with_why(rep, client):
    cold = SalesLeadFactory(owner=rep, contact__first_name="Cold", contact__temperature="cold")
    hot = SalesLeadFactory(
        owner=rep,
        contact__first_name="Hot",
        contact__temperature="hot",
        contact__first_source="google",
    )
    warm = SalesLeadFactory(owner=rep, contact__first_name="Warm", contact__temperature="warm")
    SalesLeadFactory(contact__first_name="Someone-elses", contact__temperature="hot")

    response = client.get(MY_LEADS)

    assert response.status_code == 200
    html = response.content.decode()
    positions = [html.index(f'data-lead="{lead.contact_id}"') for lead in (hot, warm, cold)]
    assert positions == sorted(positions)
    assert "Someone-elses" not in html
    assert "Source: google" in html
    assert html.count('name="csrfmiddlewaretoken"') == 3 * 5
    assert action_url(hot, "accept") in html


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get(MY_LEADS)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("wagtailadmin_login"))


def test_a_back_office_user_without_sales_permissions_is_refused(client):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(user)

    response = client.get(MY_LEADS)

    assert (response.status_code, response["Location"]) == (302, reverse("wagtailadmin_home"))


def test_logging_a_call_from_my_leads_stops_the_speed_to_lead_clock(rep, client):
    lead = SalesLeadFactory(owner=rep)

    response = client.post(action_url(lead, "activity"), {"kind": "call", "subject": "Intro call"})

    assert (response.status_code, response["Location"]) == (302, MY_LEADS)
    activity = Activity.objects.get(contact=lead.contact)
    assert (activity.kind, activity.subject, activity.user) == ("call", "Intro call", rep)
    assert SalesLead.objects.get(pk=lead.pk).first_activity_at == activity.occurred_at


def test_accept_and_won_from_my_leads(rep, client):
    lead = SalesLeadFactory(owner=rep)

    client.post(action_url(lead, "accept"))
    accepted_stage = Contact.objects.get(pk=lead.contact_id).lifecycle_stage
    client.post(
        action_url(lead, "outcome"), {"outcome": "won", "value": "900.50", "date": "2025-05-02"}
    )

    contact = Contact.objects.get(pk=lead.contact_id)
    assert accepted_stage == LifecycleStage.SQL
    assert (
        contact.lifecycle_stage,
        str(contact.outcome_value),
        contact.outcome_at.date().isoformat(),
    ) == (
        "customer",
        "900.50",
        "2025-05-02",
    )


def test_disqualify_without_a_reason_is_refused_with_a_message(rep, client):
    lead = SalesLeadFactory(owner=rep)

    response = client.post(action_url(lead, "disqualify"), {"reason": ""}, follow=True)

    assert "This field is required." in response.content.decode()
    assert SalesLead.objects.get(pk=lead.pk).closed_at is None


def test_a_rep_cannot_act_on_another_reps_lead(rep, client):
    lead = SalesLeadFactory(owner=UserFactory(username="bruno"))

    response = client.post(action_url(lead, "accept"))

    # Wagtail answers a refused admin request with a redirect to the dashboard.
    assert (response.status_code, response["Location"]) == (302, reverse("wagtailadmin_home"))
    assert Contact.objects.get(pk=lead.contact_id).lifecycle_stage == LifecycleStage.MQL


def test_sales_sees_the_reps_but_does_not_edit_the_assignment_rules(rep, client):
    assert client.get("/admin/sales/reps/").status_code == 200
    assert client.get("/admin/sales/rules/").status_code == 302
    assert client.get("/admin/sales/reps/new/").status_code == 302


def test_admin_creates_a_rep_and_a_rule(client):
    groups_ensure()
    sales_groups_ensure()
    client.force_login(UserFactory(username="boss", groups=["Admin"]))
    seller = UserFactory(username="carla")

    rep_response = client.post(
        "/admin/sales/reps/new/",
        {"user": seller.pk, "weight": 2, "capacity": 10, "available": "on", "territories": "BR"},
    )
    rep = SalesRep.objects.get(user=seller)
    rule_response = client.post(
        "/admin/sales/rules/new/",
        {"name": "Brazil", "priority": 1, "active": "on", "countries": "BR", "reps": [rep.pk]},
    )

    assert (rep_response.status_code, rule_response.status_code) == (302, 302)
    assert (rep.weight, rep.capacity) == (2, 10)
    assert list(AssignmentRule.objects.get(name="Brazil").reps.all()) == [rep]


def test_logged_activities_appear_on_the_lead_timeline(rep, client):
    lead = SalesLeadFactory(owner=rep)
    client.post(action_url(lead, "activity"), {"kind": "note", "subject": "Budget approved in Q3"})

    page = client.get(reverse("leads:inspect", args=[lead.contact_id]))

    assert "Note: Budget approved in Q3 (ana)" in page.content.decode()


def test_the_owner_chosen_in_the_lead_edit_form_goes_through_sales_and_is_published(client):
    boss = UserFactory(username="boss", is_superuser=True, is_staff=True)
    client.force_login(boss)
    lead = SalesLeadFactory(contact__email="lead@example.com", contact__temperature="warm")
    carla = UserFactory(username="carla")

    response = client.post(
        reverse("leads:edit", args=[lead.contact_id]),
        {
            "email": "lead@example.com",
            "owner": str(carla.pk),
            "temperature": "warm",
            "outcome": "",
        },
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.owner, Contact.objects.get(pk=lead.contact_id).owner) == (carla, carla)
    assert [
        (p["lead_id"], p["owner_id"], p["rule_id"])
        for p in OutboxEvent.objects.filter(name="OwnerAssigned").values_list("payload", flat=True)
    ] == [(lead.pk, carla.pk, None)]


def test_accept_is_no_longer_offered_once_the_lead_is_accepted(rep, client):
    # Given two open leads of the rep
    accepted, waiting = SalesLeadFactory(owner=rep), SalesLeadFactory(owner=rep)

    # When one is accepted
    client.post(action_url(accepted, "accept"))
    html = client.get(MY_LEADS).content.decode()

    # Then only the other one still offers "Accept (SQL)"
    assert action_url(accepted, "accept") not in html
    assert action_url(waiting, "accept") in html
    assert html.count("Accept (SQL)") == 1


def test_a_logged_call_moves_a_new_lead_to_attempting_and_a_note_does_not(rep, client):
    # Given two new leads of the rep
    called, noted = SalesLeadFactory(owner=rep), SalesLeadFactory(owner=rep)

    # When a call is logged on one and a note on the other
    client.post(action_url(called, "activity"), {"kind": "call", "subject": "Voicemail"})
    client.post(action_url(noted, "activity"), {"kind": "note", "subject": "Looks big"})

    # Then the called one is "Attempting"; the other stays "New"
    called.refresh_from_db()
    noted.refresh_from_db()
    assert (called.status, noted.status) == ("attempting", "new")
    assert "Attempting" in client.get(MY_LEADS).content.decode()


def test_my_leads_holds_every_owned_lead_that_needs_the_rep_not_only_mqls(rep, client):
    # Given leads the rep owns: a hot one given by hand before it is an MQL, an open sales
    # lead, and leads that no longer need them (won, disqualified, a closed sales lead)
    by_hand = ContactFactory(first_name="ByHand", owner=rep, temperature="hot")
    handed = SalesLeadFactory(owner=rep, contact__first_name="Handed", contact__temperature="warm")
    ContactFactory(first_name="Wendy", owner=rep, outcome="won")
    ContactFactory(first_name="Gonzo", owner=rep, lifecycle_stage=LifecycleStage.DISQUALIFIED)
    closed = SalesLeadFactory(owner=rep, contact__first_name="Clara", closed_at=timezone.now())
    ContactFactory(first_name="Otto", temperature="hot")

    # When the rep opens My leads
    html = client.get(MY_LEADS).content.decode()

    # Then the hand-given lead is there, first (hottest), and can get a call logged
    assert html.index(f'data-lead="{by_hand.pk}"') < html.index(f'data-lead="{handed.contact_id}"')
    for gone in ("Wendy", "Gonzo", "Clara", "Otto"):
        assert gone not in html
    assert reverse("sales_contact_activity", args=[by_hand.pk]) in html
    assert "Not handed to sales yet" in html
    assert "not won or lost, not a customer, not disqualified" in html
    # and "Show closed leads too" brings the closed ones back
    assert f'data-lead="{closed.contact_id}"' in client.get(MY_LEADS + "?closed=1").content.decode()


def test_a_call_logged_from_the_lead_page_comes_back_to_it(rep, client):
    # Given a lead of the rep, on its page
    lead = SalesLeadFactory(owner=rep)
    page_url = reverse("leads:inspect", args=[lead.contact_id])
    rep.user_permissions.add(Permission.objects.get(codename="view_contact"))
    page = client.get(page_url).content.decode()
    log_url = reverse("sales_contact_activity", args=[lead.contact_id])
    assert f'action="{log_url}"' in page

    # When a call is logged from there
    response = client.post(log_url, {"kind": "call", "subject": "Discovery call", "next": page_url})

    # Then it is back on the page, the call is on the timeline and the lead is "Attempting"
    assert (response.status_code, response["Location"]) == (302, page_url)
    lead.refresh_from_db()
    assert lead.status == "attempting"
    assert "Call: Discovery call (ana)" in client.get(page_url).content.decode()


def test_the_activity_form_does_not_send_anyone_off_site_or_log_on_anothers_lead(rep, client):
    mine, theirs = SalesLeadFactory(owner=rep), SalesLeadFactory()

    response = client.post(
        reverse("sales_contact_activity", args=[mine.contact_id]),
        {"kind": "note", "next": "https://evil.example.com/"},
    )
    refused = client.post(
        reverse("sales_contact_activity", args=[theirs.contact_id]), {"kind": "note"}
    )

    assert response["Location"] == MY_LEADS
    assert (refused.status_code, refused["Location"]) == (302, reverse("wagtailadmin_home"))
    assert list(Activity.objects.values_list("contact_id", flat=True)) == [mine.contact_id]

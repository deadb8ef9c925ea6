"""Temperature and stage of a batch of leads: set-based, each lead with its own cause."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.contacts.models import Contact, LifecycleStage, StageChange, Temperature
from leadmill.contacts.services import contact_stage_change
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.models import OutboxEvent
from leadmill.tracking.tests.factories import EventFactory

from ..qualification import scores_requalify
from ..services import contacts_score_refresh
from .test_scores import DAY, T, qualifying_rules  # noqa: F401 -- a fixture

pytestmark = pytest.mark.django_db


def leads(n: int, *, role: str = "CEO") -> list[Contact]:
    contacts = ContactFactory.create_batch(n, role=role)
    for contact in contacts:
        EventFactory(contact=contact, occurred_at=T)
    return contacts


def test_a_batch_refresh_makes_every_qualifying_lead_mql_with_its_history_and_facts(
    qualifying_rules,  # noqa: F811
):
    # given three CEOs with a page view (fit 40, engagement 25) and an intern (fit 0)
    ceos, intern = leads(3), leads(1, role="intern")[0]

    # when the batch is scored
    contacts_score_refresh(contact_ids=[c.pk for c in [intern, *ceos]], at=T)

    # then the CEOs are MQL and warm, the intern a warm lead, each change kept and published
    stages = dict(Contact.objects.values_list("pk", "lifecycle_stage"))
    assert {pk: stages[pk] for pk in (c.pk for c in ceos)} == {c.pk: "mql" for c in ceos}
    assert stages[intern.pk] == LifecycleStage.LEAD
    assert set(Contact.objects.values_list("temperature", flat=True)) == {Temperature.WARM}
    assert sorted(
        StageChange.objects.filter(to_stage=LifecycleStage.MQL).values_list("contact_id", "cause")
    ) == [(c.pk, "scores: fit 40 ≥ 30, engagement 25 ≥ 20") for c in ceos]
    published = OutboxEvent.objects.filter(name="StageChanged").values_list(
        "payload__contact_id", flat=True
    )
    assert sorted(published) == sorted(c.pk for c in ceos)
    assert OutboxEvent.objects.filter(name="TemperatureChanged").count() == 4
    assert OutboxEvent.objects.filter(name="ScoreChanged").count() == 4


def test_a_batch_refresh_costs_the_same_statements_for_twelve_leads_as_for_three(
    qualifying_rules,  # noqa: F811
):
    three, twelve = leads(3), leads(12)

    def statements(contacts) -> int:
        with CaptureQueriesContext(connection) as queries:
            contacts_score_refresh(contact_ids=[c.pk for c in contacts], at=T)
        return len(queries)

    assert statements(twelve) == statements(three)
    assert Contact.objects.filter(lifecycle_stage=LifecycleStage.MQL).count() == 15


def test_decay_demotes_in_one_batch_only_the_leads_the_scores_made_mql(
    qualifying_rules,  # noqa: F811
):
    # given two leads the scores made MQL and one a person made MQL
    scored = leads(2)
    by_hand = leads(1)[0]
    contact_stage_change(contact=by_hand, to_stage=LifecycleStage.MQL, cause="sales asked", at=T)
    contacts_score_refresh(contact_ids=[c.pk for c in [*scored, by_hand]], at=T)

    # when a week of decay takes their engagement under the threshold (17.7 < 20)
    scores_requalify(at=T + 7 * DAY)

    # then the two scored ones are leads again; the one a person chose stays MQL
    stages = dict(Contact.objects.values_list("pk", "lifecycle_stage"))
    assert [stages[c.pk] for c in scored] == [LifecycleStage.LEAD, LifecycleStage.LEAD]
    assert stages[by_hand.pk] == LifecycleStage.MQL
    assert StageChange.objects.filter(cause="scores: engagement 18 < 20").count() == 2

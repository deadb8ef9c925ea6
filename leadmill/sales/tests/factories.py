"""Factories for sales tests."""

import datetime as dt

import factory
from django.utils import timezone

from leadmill.contacts.models import LifecycleStage
from leadmill.contacts.tests.factories import ContactFactory, UserFactory

from ..models import AssignmentRule, SalesLead, SalesRep


class SalesRepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesRep

    user = factory.SubFactory(UserFactory)
    weight = 1


class AssignmentRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssignmentRule
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")

    @factory.post_generation
    def reps(self, create, reps, **kwargs):
        if create and reps:
            self.reps.add(*reps)


class SalesLeadFactory(factory.django.DjangoModelFactory):
    """An open lead owned by a rep, MQL an hour ago, due three hours from now."""

    class Meta:
        model = SalesLead

    contact = factory.SubFactory(ContactFactory, lifecycle_stage=LifecycleStage.MQL)
    owner = factory.SubFactory(UserFactory)
    mql_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    assigned_at = factory.LazyAttribute(lambda lead: lead.mql_at)
    sla_due_at = factory.LazyAttribute(lambda lead: lead.mql_at + dt.timedelta(hours=4))

"""Factories for contacts tests (and for other apps' tests that need a lead)."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from ..models import (
    Company,
    Contact,
    CustomFieldDefinition,
    LifecycleStage,
    PossibleDuplicate,
    StageChange,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@leadmill.test")

    @factory.post_generation
    def groups(self, create, names, **kwargs):
        """``UserFactory(groups=["Sales"])`` puts the user in those (existing) groups."""
        if create and names:
            self.groups.add(*Group.objects.filter(name__in=names))


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.example")


class ContactFactory(factory.django.DjangoModelFactory):
    """A lead as a form leaves it: normalised email, a first touch and its stage history."""

    class Meta:
        model = Contact
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    first_name = factory.Sequence(lambda n: f"Lead{n}")
    stage_changed_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def stage_history(self, create, extracted, **kwargs):
        if create and extracted is not False:
            StageChange.objects.create(
                contact=self,
                from_stage="",
                to_stage=self.lifecycle_stage or LifecycleStage.LEAD,
                changed_at=self.stage_changed_at or timezone.now(),
                cause="created by a test",
            )


class PossibleDuplicateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PossibleDuplicate

    contact = factory.SubFactory(ContactFactory)
    other = factory.SubFactory(ContactFactory)
    reason = "same phone, different email"


class CustomFieldDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomFieldDefinition

    key = factory.Sequence(lambda n: f"field-{n}")
    label = factory.Sequence(lambda n: f"Field {n}")

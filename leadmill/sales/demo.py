"""The sales part of ``leadmill run --demo``: reps and assignment rules, so a demo request
reaches a salesperson's "My leads" on its own, with why it is hot.

The first admin (the person trying the demo) is a rep who takes any lead; two demo reps
take their own territories through assignment rules: Ana Souza Brazil and Portugal, Ben
Carter North America and the United Kingdom. A lead with no country (the demo form does not
ask for one) therefore goes to the first admin. The demo reps cannot log in until an admin
gives them a password (Settings → Users). Created once, only when there is no rep yet.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext as _

from .models import AssignmentRule, SalesRep

DEMO_REPS = (
    # username, first name, last name, territories
    ("ana.souza", "Ana", "Souza", "BR, PT"),
    ("ben.carter", "Ben", "Carter", "US, CA, GB"),
)


def sales_demo_seed() -> bool:
    """Create the demo's reps and assignment rules unless a rep exists; True when created."""
    User = get_user_model()
    admin = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if admin is None or SalesRep.objects.exists():
        return False
    with transaction.atomic():
        SalesRep.objects.create(user=admin)
        sales_group = Group.objects.filter(name="Sales").first()
        reps = []
        for username, first_name, last_name, territories in DEMO_REPS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(
                    username=username,
                    first_name=first_name,
                    last_name=last_name,
                    email=f"{username}@example.com",
                )
                user.set_unusable_password()
                user.save()
            if sales_group is not None:
                user.groups.add(sales_group)
            reps.append(SalesRep.objects.create(user=user, territories=territories))
        ana, ben = reps
        brazil = AssignmentRule.objects.create(
            name=_("Brazil and Portugal"), priority=10, countries=ana.territories
        )
        brazil.reps.add(ana)
        north = AssignmentRule.objects.create(
            name=_("North America and the United Kingdom"), priority=20, countries=ben.territories
        )
        north.reps.add(ben)
    return True

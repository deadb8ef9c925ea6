"""The sales permissions of the back-office groups (core creates the groups themselves)."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

# model -> actions, per group. Sales works its leads; Admin configures reps, teams and rules.
SALES_GROUP_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "Sales": {
        "saleslead": ("view", "change"),
        "activity": ("add", "change", "view"),
        "salesrep": ("view",),
        "salesteam": ("view",),
    },
    "Admin": {
        "saleslead": ("add", "change", "delete", "view"),
        "activity": ("add", "change", "delete", "view"),
        "salesrep": ("add", "change", "delete", "view"),
        "salesteam": ("add", "change", "delete", "view"),
        "assignmentrule": ("add", "change", "delete", "view"),
        "salessettings": ("change", "view"),
    },
}


@transaction.atomic
def sales_groups_ensure() -> None:
    """Top up the Sales and Admin groups (when they exist) with their sales permissions."""
    for name, models in SALES_GROUP_PERMISSIONS.items():
        group = Group.objects.filter(name=name).first()
        if group is None:
            continue
        codenames = [f"{action}_{model}" for model, actions in models.items() for action in actions]
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="sales", codename__in=codenames)
        )

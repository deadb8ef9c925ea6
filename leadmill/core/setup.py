"""First-run set-up: the back-office groups and the first admin user."""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils.crypto import get_random_string

# Which model permissions each group gets: "app_label" (every model of the app) or
# "app_label.model" -> actions.
GROUP_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "Marketing": {
        "capture": ("add", "change", "delete", "view"),
        "consent": ("add", "change", "view"),
        "contacts": ("add", "change", "view"),
        "messaging": ("view",),
        "wagtailcore": ("view",),
        "wagtailimages": ("add", "change", "view"),
        "wagtaildocs": ("add", "change", "view"),
        "analytics": ("view",),
        "analytics.spend": ("add", "change"),
        "simple_translation": ("submit",),  # "Translate" pages and snippets (ADR 43)
    },
    "Sales": {
        # Sales works leads (edit them, merge duplicates) but does not configure custom fields.
        "contacts": ("view",),
        "contacts.contact": ("change",),
        "contacts.possibleduplicate": ("change",),
        "capture": ("view",),
        "consent": ("view",),
    },
    "Admin": {
        "capture": ("add", "change", "delete", "view"),
        "consent": ("add", "change", "delete", "view"),
        "contacts": ("add", "change", "delete", "view"),
        "messaging": ("add", "change", "delete", "view"),
        "core": ("view",),
        "core.eventdelivery": ("change",),  # retry a dead letter
        "analytics": ("view",),
        "analytics.spend": ("add", "change", "delete"),
        "analytics.digestrecipient": ("add", "change", "delete"),
        "auth": ("add", "change", "delete", "view"),
        "simple_translation": ("submit",),
        "privacy": ("view", "erase"),  # erase a lead (ADR 55), read the erasures
    },
}


@transaction.atomic
def groups_ensure() -> None:
    """Create (or top up) the Marketing, Sales and Admin groups and their permissions."""
    for name, apps in GROUP_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        wanted = Permission.objects.none()
        for target, actions in apps.items():
            app_label, _dot, model = target.partition(".")
            scope = {"content_type__app_label": app_label}
            if model:
                scope["content_type__model"] = model
            for action in actions:
                wanted |= Permission.objects.filter(**scope, codename__startswith=f"{action}_")
        group.permissions.add(*wanted)
        admin_access = Permission.objects.filter(
            content_type__app_label="wagtailadmin", codename="access_admin"
        )
        group.permissions.add(*admin_access)


def admin_ensure() -> tuple[str, str] | None:
    """Create the first superuser when there is none. Returns (username, password) if created.

    The user has a name and an email address (``<username>@localhost`` unless
    ``LEADMILL_ADMIN_EMAIL`` says otherwise): the back office's account page requires both,
    and without them its first save (a language, a password) is refused."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    username = os.environ.get("LEADMILL_ADMIN_USER", "admin")
    password = os.environ.get("LEADMILL_ADMIN_PASSWORD") or get_random_string(16)
    User.objects.create_superuser(
        username=username,
        email=os.environ.get("LEADMILL_ADMIN_EMAIL") or f"{username}@localhost",
        password=password,
        first_name="Leadmill",
        last_name="Admin",
    )
    return username, password

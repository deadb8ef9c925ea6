"""The URL of a bulk action on leads, as the listing's script builds it (for the tests of
every app's actions)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode

LISTING = "/admin/leads/"


def bulk_url(action: str, *ids, **params) -> str:
    """``/admin/bulk/contacts/contact/<action>/?id=…&<params>&next=/admin/leads/``."""
    query = [("id", str(pk)) for pk in ids] + list(params.items()) + [("next", LISTING)]
    url = reverse("wagtail_bulk_action", args=["contacts", "contact", action])
    return f"{url}?{urlencode(query)}"

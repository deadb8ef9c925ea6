"""Background entry points of contacts: thin, idempotent."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from huey.contrib.djhuey import db_task


@db_task(retries=3, retry_delay=30)
def leads_bulk_act(
    *, action_type: str, contact_ids: list[int], params: dict[str, Any], actor_id: int
) -> None:
    """One chunk of a bulk action on leads (:mod:`.admin_bulk`): the action is found again
    by its type in Wagtail's bulk-action registry (it may live in an app above contacts)
    and runs over these ids with the owning app's service, which skips what is done."""
    from wagtail.admin.views.bulk_action.registry import bulk_action_registry

    from .models import Contact

    action = bulk_action_registry.get_bulk_action_class(
        Contact._meta.app_label, Contact._meta.model_name, action_type
    )
    if action is None:
        raise LookupError(f"no bulk action {action_type!r} on leads is registered")
    actor = get_user_model().objects.filter(pk=actor_id).first()
    action.run(contact_ids=contact_ids, params=params, actor=actor)

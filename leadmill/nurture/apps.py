from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NurtureConfig(AppConfig):
    name = "leadmill.nurture"
    label = "nurture"
    verbose_name = _("Nurture")

    def ready(self):
        from leadmill.core import registry
        from leadmill.core.log_redaction import secret_urls_register

        from . import handlers, selectors

        handlers.subscribe_all()
        registry.register_timeline(selectors.enrollment_timeline)
        secret_urls_register("nurture:open", "nurture:click", "nurture:unsubscribe", "nurture:preferences")
        _personal_data_register()


def _personal_data_register() -> None:
    """Nurture's rows of a contact's data, in core's personal-data registry (docs/privacy.md)."""
    from leadmill.core.personal_data import (
        Erase,
        Link,
        Merge,
        PersonalData,
        columns,
        register_personal_data,
    )

    from .models import Enrollment, Message, SegmentEntry, SegmentMember

    # --- personal data: BEGIN (issue 13: Message moves to messaging, SegmentMember and
    # SegmentEntry to segments; move each declaration with its model) ----------------------
    register_personal_data(
        # One active enrolment per sequence: the survivor's stays, the merged lead's goes.
        PersonalData(
            model=Enrollment,
            links=(Link.foreign_key("contact"),),
            columns=columns(
                "sequence", "state", "step_id", "enrolled_at", "ended_at", "exit_reason", "source",
                erase=Erase.DELETE_ROW,
            ),
            merge=Merge.DROP_ON_CONFLICT,
        ),
        # messaging: one message per broadcast and contact; the survivor's copy stays.
        PersonalData(
            model=Message,
            links=(Link.foreign_key("contact"),),
            columns=columns(
                "template", "broadcast", "status", "created_at", "sent_at", "opened_at", "clicked_at",
                erase=Erase.DELETE_ROW,
            ),
            merge=Merge.DROP_ON_CONFLICT,
        ),
        # segments: one membership (and one entry) per segment; the survivor's stays.
        PersonalData(
            model=SegmentMember,
            links=(Link.foreign_key("contact"),),
            columns=columns("segment", "added_at", erase=Erase.DELETE_ROW),
            merge=Merge.DROP_ON_CONFLICT,
        ),
        PersonalData(
            model=SegmentEntry,
            links=(Link.foreign_key("contact"),),
            columns=columns("segment", "entered_at", erase=Erase.DELETE_ROW),
            merge=Merge.DROP_ON_CONFLICT,
        ),
    )
    # --- personal data: END -----------------------------------------------------------------

"""Back-office screens of nurture, one module per concept."""

from wagtail import hooks

from leadmill.segments.selectors import SEGMENT_USES_HOOK

from . import admin_broadcasts, admin_sequences  # noqa: F401 -- registers their hooks
from .admin_bulk import LeadsEnrolBulkAction
from .selectors import segment_uses

hooks.register(SEGMENT_USES_HOOK, segment_uses)

hooks.register("register_bulk_action", LeadsEnrolBulkAction)

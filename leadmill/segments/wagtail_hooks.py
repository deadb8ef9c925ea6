"""Back-office screens of segments and the segment filter of the leads listing (see
:mod:`.admin_segments`), and the bulk action "add to a static list" (:mod:`.admin_bulk`)."""

from wagtail import hooks

from . import admin_segments  # noqa: F401 -- registers its hooks
from .admin_bulk import LeadsAddToListBulkAction

hooks.register("register_bulk_action", LeadsAddToListBulkAction)

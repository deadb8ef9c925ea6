"""Back-office screens of segments (see :mod:`.admin_segments`)."""

from . import admin_segments  # noqa: F401 -- registers its hooks

"""Back-office screens of nurture, one module per concept."""

from . import admin_broadcasts, admin_segments, admin_sequences  # noqa: F401 -- registers their hooks

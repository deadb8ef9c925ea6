"""Back-office screens of messaging (see :mod:`.admin_emails`): email templates and the one
email log."""

from . import admin_emails  # noqa: F401 -- registers its hooks

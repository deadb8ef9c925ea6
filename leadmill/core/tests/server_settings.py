"""Leadmill's settings for a real server a test starts (``leadmill web``, ``leadmill worker``):
the same, on the test's own database (``LEADMILL_SERVER_DB_NAME``)."""

import os

from leadmill.settings import *  # noqa: F403
from leadmill.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["LEADMILL_SERVER_DB_NAME"]

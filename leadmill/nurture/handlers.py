"""Subscribers of the nurture app (enrolment triggers, exits, segment entry). Idempotent."""

from __future__ import annotations


def subscribe_all() -> None:
    """Subscribe nurture's handlers on the event bus (called from ``NurtureConfig.ready``)."""

"""Tracking: visitors, events, touches, attribution, bot filtering, the collect endpoint
and the tracker script.

Depends on ``core`` and ``contacts`` (lower layers) only. ``capture`` and the apps to its
right call into tracking (``visitor_identify`` on a form submit, ``contact_touches`` for
scoring and analytics); tracking never imports them.
"""

"""Nurture: email templates, sequences and their enrollments, broadcasts, and the
marketing email they send (with open/click tracking and one-click unsubscribe).

Sits above segments in the layers: it reads contacts, consent, tracking events, scores and
segments (their members, and the entry rows of the segments its sequences watch),
and records opens and clicks as tracking events. What must happen to its right (webhooks to
a CRM, analytics counts) goes through the event bus.
"""

"""Nurture: segments, email templates, sequences and their enrollments, broadcasts, and the
marketing email they send (with open/click tracking and one-click unsubscribe).

Sits above scoring in the layers: it reads contacts, consent, tracking events and scores,
and records opens and clicks as tracking events. What must happen to its right (webhooks to
a CRM, analytics counts) goes through the event bus.
"""

"""Nurture: segments, sequences and their enrollments, and broadcasts.

Sits above scoring in the layers: it reads contacts, consent, tracking events and scores,
and queues its email through messaging (which renders, sends, tracks opens and clicks and
handles unsubscribes). What must happen to its right (webhooks to a CRM, analytics counts)
goes through the event bus.
"""

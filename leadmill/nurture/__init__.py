"""Nurture: sequences and their enrollments, and broadcasts.

Sits above segments in the layers: it reads contacts, consent, tracking events, scores and
segments (their members, and the entry rows of the segments its sequences watch), and queues
its email through messaging (which renders, sends, tracks opens and clicks and handles
unsubscribes). What must happen to its right (owner notification in sales, webhooks to a CRM,
analytics counts) goes through the event bus.
"""

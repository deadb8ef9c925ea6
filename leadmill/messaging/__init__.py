"""Messaging: email templates and rendering, the message log of every email (marketing and
transactional) with its send queue and retries, signed link tokens, the open / click /
unsubscribe / preference endpoints, scanner detection, bounces and complaints, and the local
outbox the embedded mode sends to.

Sits above tracking in the layers (email opens and clicks are tracking events) and below
capture, scoring and nurture, which queue its email and subscribe to its facts
(:mod:`.events`). It never imports them.
"""

"""Sales: the hand-off of qualified leads to the sales team.

Sales reps (weights, capacity, availability), assignment rules and the weighted round robin
that picks each lead's owner, the sales lead status, activities (calls, emails, meetings,
notes, tasks), speed-to-lead with its SLA warning, and outcomes recorded by sales.

Depends on core, contacts, consent, messaging, tracking, capture and scoring (lower layers).
It learns that a lead became an MQL from the contacts app's ``StageChanged`` event, and
moves the lifecycle stage only through ``contacts.services.contact_stage_change``.
Apps to its right (analytics …) read its selectors.
"""

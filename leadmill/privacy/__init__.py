"""Privacy: the erasure of a person (and, later, the data-subject export screens and retention
jobs), through the personal-data registry of :mod:`leadmill.core.personal_data`.

Privacy sits above every app that holds a contact's data and below the API (DESIGN.md
layers): it asks the registry which rows are the person's, never another app's tables, and
adds its screens to the leads pages through contacts' hooks, so contacts imports nothing of
it. The decision: ADR 0055; for operators: docs/privacy.md, "Erasing a person".
"""

"""Analytics: pre-aggregated counts with a fill state, the funnel, cost and quality reports.

Sits above ``sales`` and below ``integrations``: it reads the tables of every app below it
(events, contacts, stage history, outcomes, submissions) and nothing reads it but the API.
Definitions of every number: docs/analytics.md.
"""

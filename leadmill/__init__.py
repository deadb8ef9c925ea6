"""Leadmill: self-hosted lead generation and lead management.

The apps form layers, lowest first::

    core <- contacts <- consent <- tracking <- messaging <- capture <- scoring
         <- segments <- nurture <- sales <- analytics <- integrations <- privacy <- api

An app imports only from apps to its left (import-linter checks it in CI). What must flow
to the right goes through the domain event bus in :mod:`leadmill.core.events`.
"""

"""Segments: dynamic segments (a filter evaluated as one SQL query whenever read), static
lists, their membership and the filter builder.

Sits above scoring in the layers (a segment filters on contacts, consent, tracking events
and scores) and below nurture, which sends broadcasts to segments and enrols the leads who
enter them. Segments never calls nurture: a change only it makes (a static list edited)
is published as :class:`~.events.StaticListChanged`, and what uses a segment is asked
through a Wagtail hook (:data:`~.selectors.SEGMENT_USES_HOOK`).
"""

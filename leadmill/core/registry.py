"""Registries through which apps contribute parts to views that gather from many apps.

The contact timeline is the first: each app registers a function that returns its entries
for one contact, and the contact page asks the registry, as Wagtail's hooks do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager


@dataclasses.dataclass(frozen=True)
class TimelineEntry:
    """One line of a contact's timeline."""

    occurred_at: dt.datetime
    kind: str  # a short machine name: "submission", "consent", "stage", "page_view", ...
    title: str  # a sentence for a person, already translated
    detail: str = ""
    url: str = ""


TimelineProvider = Callable[[int], list[TimelineEntry]]
_timeline_providers: list[TimelineProvider] = []


def register_timeline(provider: TimelineProvider) -> TimelineProvider:
    """Register ``provider(contact_id) -> [TimelineEntry]``; usable as a decorator."""
    if provider not in _timeline_providers:
        _timeline_providers.append(provider)
    return provider


@contextmanager
def timeline_registered(provider: TimelineProvider) -> Iterator[None]:
    register_timeline(provider)
    try:
        yield
    finally:
        _timeline_providers.remove(provider)


def contact_timeline(contact_id: int, *, limit: int = 200) -> list[TimelineEntry]:
    """Every app's entries for one contact, newest first."""
    entries: list[TimelineEntry] = []
    for provider in _timeline_providers:
        entries.extend(provider(contact_id))
    entries.sort(key=lambda entry: entry.occurred_at, reverse=True)
    return entries[:limit]


# --- Names of things a lower app records by code ---------------------------------------------
#
# Tracking records a form event with the form's slug and a download with the link it
# followed; contacts keeps a stage change's cause as "form:ebook". The apps that own those
# things (capture) sit above, so they name them: ``register_names("form", resolver)`` where
# ``resolver(codes) -> {code: name}`` answers for the codes it knows (one query for all).

NameResolver = Callable[[Collection[str]], dict[str, str]]
_name_resolvers: dict[str, NameResolver] = {}


def register_names(namespace: str, resolver: NameResolver) -> NameResolver:
    """Register the resolver of ``namespace`` ("form", "download", "channel"): the last one
    registered for a namespace wins."""
    _name_resolvers[namespace] = resolver
    return resolver


def names_resolve(namespace: str, codes: Iterable[str]) -> dict[str, str]:
    """``{code: name}`` for the codes of ``namespace`` some app can name; the others are left
    out (the caller shows the code, or words it without a name)."""
    wanted = {code for code in codes if code}
    resolver = _name_resolvers.get(namespace)
    if not wanted or resolver is None:
        return {}
    return {code: name for code, name in resolver(wanted).items() if code in wanted and name}

"""Telling bots from people: user-agent rules and inhuman patterns in a batch.

Pure functions; the rules are data (:class:`.models.BotRule`, editable in the admin),
loaded by :func:`.selectors.bot_rules_active`. Bot events are still stored (flagged
``is_bot``) so a marketer can see them, but they never count as touches nor raise a score.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

logger = logging.getLogger(__name__)

INTERACTION_TYPES = frozenset({"cta_click", "form_view", "form_start", "form_submit", "download", "custom"})


@dataclasses.dataclass(frozen=True)
class BotPattern:
    """One user-agent rule: a case-insensitive substring, or a regular expression."""

    pattern: str
    is_regex: bool = False


@lru_cache(maxsize=32)
def _matcher(rules: tuple[BotPattern, ...]) -> re.Pattern[str] | None:
    parts = []
    for rule in rules:
        if not rule.pattern:
            continue
        if rule.is_regex:
            try:
                re.compile(rule.pattern)
            except re.error:
                logger.warning("bot rule %r is not a valid regular expression; ignored", rule.pattern)
                continue
            parts.append(f"(?:{rule.pattern})")
        else:
            parts.append(re.escape(rule.pattern))
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


_last_matcher: tuple[Sequence[BotPattern], re.Pattern[str] | None] = ((), None)


def is_bot(user_agent: str, rules: Sequence[BotPattern]) -> bool:
    """True when ``user_agent`` is empty or matches any rule."""
    global _last_matcher
    user_agent = (user_agent or "").strip()
    if not user_agent:
        return True
    rules_seen, matcher = _last_matcher
    if rules is not rules_seen:  # the same cached rules on every request: skip hashing them
        matcher = _matcher(tuple(rules))
        _last_matcher = (rules, matcher)
    return matcher is not None and _matches(matcher, user_agent)


@lru_cache(maxsize=4096)
def _matches(matcher: re.Pattern[str], user_agent: str) -> bool:
    """One search of the rules per user agent and process: browsers send a few hundred
    distinct strings, and the alternation of every rule is costly to search."""
    return matcher.search(user_agent) is not None


class Activity(NamedTuple):
    """What :func:`inhuman_visitors` needs of one event (a tuple: a batch makes many)."""

    visitor_id: str
    type: str
    occurred_at: dt.datetime


def inhuman_visitors(events: Iterable[Activity], *, max_page_views_per_second: int) -> set[str]:
    """Visitors of a batch that viewed more than ``max_page_views_per_second`` pages within
    one second and did nothing else a person does (click, form, download, custom event)."""
    views: dict[str, list[dt.datetime]] = defaultdict(list)
    interacted: set[str] = set()
    for visitor_id, kind, occurred_at in events:  # an Activity, or a plain tuple of its three
        if not visitor_id:
            continue
        if kind == "page_view":
            views[visitor_id].append(occurred_at)
        elif kind in INTERACTION_TYPES:
            interacted.add(visitor_id)
    second = dt.timedelta(seconds=1)
    flagged = set()
    for visitor_id, times in views.items():
        if visitor_id in interacted or len(times) <= max_page_views_per_second:
            continue
        times.sort()
        start = 0
        for end, moment in enumerate(times):
            while moment - times[start] >= second:
                start += 1
            if end - start + 1 > max_page_views_per_second:
                flagged.add(visitor_id)
                break
    return flagged

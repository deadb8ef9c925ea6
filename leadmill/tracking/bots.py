"""Telling bots from people: user-agent rules and inhuman patterns in a batch.

A user agent is a bot's when it is empty, when it matches one of the admin's bot rules
(:class:`.models.BotRule`, editable in the admin, loaded by
:func:`.selectors.bot_rules_active`), or when crawlerdetect's maintained list of crawlers,
tools and previewers (about 1,500 patterns, updated with the package) knows it; unless it
matches one of the admin's *allow* rules, which are exceptions to both. One verdict per
user agent is cached per process: crawlerdetect's expression costs about 0.6 ms for a
desktop browser's user agent and up to ~10 ms for a long in-app browser's, and browsers
send a few hundred distinct strings. Bot events are still stored (flagged ``is_bot``) so
a marketer can see them, but they never count as touches nor raise a score.
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

from crawlerdetect import CrawlerDetect

logger = logging.getLogger(__name__)

INTERACTION_TYPES = frozenset(
    {"cta_click", "form_view", "form_start", "form_submit", "download", "custom"}
)


@dataclasses.dataclass(frozen=True)
class BotPattern:
    """One user-agent rule: a case-insensitive substring, or a regular expression. A rule
    that ``allows`` is an exception: a user agent it matches is a person's."""

    pattern: str
    is_regex: bool = False
    allows: bool = False


@dataclasses.dataclass(frozen=True)
class Matchers:
    """The admin's rules compiled: one expression for the bot rules, one for the allow rules."""

    bots: re.Pattern[str] | None
    allowed: re.Pattern[str] | None


def _alternation(rules: Iterable[BotPattern]) -> re.Pattern[str] | None:
    parts = []
    for rule in rules:
        if not rule.pattern:
            continue
        if rule.is_regex:
            try:
                re.compile(rule.pattern)
            except re.error:
                logger.warning(
                    "bot rule %r is not a valid regular expression; ignored", rule.pattern
                )
                continue
            parts.append(f"(?:{rule.pattern})")
        else:
            parts.append(re.escape(rule.pattern))
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


@lru_cache(maxsize=32)
def _matchers(rules: tuple[BotPattern, ...]) -> Matchers:
    return Matchers(
        bots=_alternation(rule for rule in rules if not rule.allows),
        allowed=_alternation(rule for rule in rules if rule.allows),
    )


_crawlers = CrawlerDetect()
_last_matchers: tuple[Sequence[BotPattern], Matchers] = ((), Matchers(None, None))


def is_bot(user_agent: str, rules: Sequence[BotPattern]) -> bool:
    """True when ``user_agent`` is empty, or matches a bot rule or crawlerdetect's list and
    no allow rule."""
    global _last_matchers
    user_agent = (user_agent or "").strip()
    if not user_agent:
        return True
    rules_seen, matchers = _last_matchers
    if rules is not rules_seen:  # the same cached rules on every request: skip hashing them
        matchers = _matchers(tuple(rules))
        _last_matchers = (rules, matchers)
    return _verdict(matchers, user_agent)


@lru_cache(maxsize=4096)
def _verdict(matchers: Matchers, user_agent: str) -> bool:
    """One verdict per user agent, set of rules and process (see the module docstring)."""
    if matchers.allowed is not None and matchers.allowed.search(user_agent):
        return False
    if matchers.bots is not None and matchers.bots.search(user_agent):
        return True
    return _crawlers.is_crawler(user_agent)


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

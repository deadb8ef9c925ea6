"""No secret token in the logs: the token segments of signed-link paths are redacted.

A download link (``/d/<token>/``), an email's open, click, unsubscribe and preference
links and the double opt-in link each carry a signed token that is the only authority for
what it grants. Django logs the path of every 5xx (``django.request``), our middleware logs
the path of a database outage, and a traceback may quote a URL: whoever reads the log
would hold the link. :class:`SecretTokenFilter` sits on the log handlers (settings.LOGGING)
and rewrites every record that reaches them, from any logger, before it is written.

Each app registers the URL names of its token-bearing paths in its ``AppConfig.ready``
(:func:`secret_urls_register`); the filter reverses them once, with a marker in place of the
token, into one pattern.
"""

from __future__ import annotations

import logging
import re
import threading

REDACTED = "[redacted]"
_MARK = "lmtokenmark"
# A thank-you page's signed submission id (``?s=<token>``).
_THANKS_QUERY = re.compile(r"([?&]s=)[^&#\s\"']+")
_PATH_SEGMENT = r"[^/?#\s\"']+"

_url_names: list[str] = []
_pattern: re.Pattern | None = None
_lock = threading.Lock()


def secret_urls_register(*url_names: str) -> None:
    """Register URL names (``"capture:offer_download"``) whose ``token`` argument is a secret."""
    global _pattern
    with _lock:
        for name in url_names:
            if name not in _url_names:
                _url_names.append(name)
        _pattern = None


def _secret_paths() -> re.Pattern | None:
    """One pattern for the registered paths: each alternative captures the path before the
    token in a group of its own, and the token itself is matched outside it."""
    global _pattern
    if _pattern is not None or not _url_names:
        return _pattern
    from django.urls import NoReverseMatch, reverse

    alternatives = []
    for name in list(_url_names):
        try:
            path = reverse(name, kwargs={"token": _MARK})
        except NoReverseMatch:
            continue
        before, after = path.split(_MARK, 1)
        token = f"{_PATH_SEGMENT}?(?={re.escape(after)})" if after else _PATH_SEGMENT
        alternatives.append(f"({re.escape(before)}){token}")
    if not alternatives:
        return None
    with _lock:
        _pattern = re.compile("|".join(alternatives))
    return _pattern


def _keep_path(match: re.Match) -> str:
    """ "/d/[redacted]/": the path before the token is kept, the token replaced."""
    return next(group for group in match.groups() if group is not None) + REDACTED


def redact(text: str) -> str:
    """``text`` with the token of every registered path, and a thank-you token, replaced."""
    if (pattern := _secret_paths()) is not None:
        text = pattern.sub(_keep_path, text)
    return _THANKS_QUERY.sub(rf"\1{REDACTED}", text)


class SecretTokenFilter(logging.Filter):
    """Redacts secret tokens in a record's message, arguments and traceback (never drops it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.msg, str):
                record.msg = redact(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(
                    redact(arg) if isinstance(arg, str) else arg for arg in record.args
                )
            elif isinstance(record.args, dict):
                record.args = {
                    key: redact(arg) if isinstance(arg, str) else arg
                    for key, arg in record.args.items()
                }
            if record.exc_info and not record.exc_text:
                # Formatted here, once, so that the handler writes the redacted text.
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            elif record.exc_text:
                record.exc_text = redact(record.exc_text)
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
        except Exception:  # a filter must never lose the record it was given
            return True
        return True

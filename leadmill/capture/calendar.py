"""The calendar file (iCalendar, RFC 5545) of a webinar or event offer."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from .models import Offer


def _escaped(text: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped (RFC 5545 3.3.11)."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _folded(line: str) -> str:
    """Lines longer than 75 octets folded with CRLF and a space (RFC 5545 3.1)."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts, current = [], b""
    for char in line:
        piece = char.encode()
        if len(current) + len(piece) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += piece
    parts.append(current.decode())
    return "\r\n ".join(parts)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


# What a calendar file of an event is, as an email attachment: METHOD:PUBLISH (an event
# to add, no RSVP asked) in the part's Content-Type as in the file (RFC 6047 2.4).
CALENDAR_MIMETYPE = "text/calendar; method=PUBLISH"


def offer_calendar(*, offer: Offer, registration_id: int | None = None) -> str:
    """One VEVENT for the offer's start and duration, with its join link as location and
    URL. Times are in UTC, so every calendar shows them in its own time zone. Empty when
    the offer has no start.

    ``registration_id`` (the registration's submission) makes the UID the registration's:
    the file attached to the confirmation and the one behind its link are the same event
    to a calendar, which updates it instead of adding a copy."""
    if offer.starts_at is None:
        return ""
    ends_at = offer.starts_at + dt.timedelta(minutes=offer.duration_minutes or 60)
    uid = f"registration-{registration_id}" if registration_id else f"offer-{offer.pk}"
    host = settings.BASE_URL.split("://", 1)[-1].split("/", 1)[0] or "leadmill"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Leadmill//Offer calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{uid}@{host}",
        f"DTSTAMP:{_utc(offer.created_at or offer.starts_at)}",
        f"DTSTART:{_utc(offer.starts_at)}",
        f"DTEND:{_utc(ends_at)}",
        f"SUMMARY:{_escaped(offer.name)}",
    ]
    if offer.join_url:
        lines += [f"LOCATION:{_escaped(offer.join_url)}", f"URL:{offer.join_url}"]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(_folded(line) for line in lines) + "\r\n"

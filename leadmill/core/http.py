"""Facts of an HTTP request that every public endpoint reads the same way."""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str | None:
    """The client's address (see :func:`client_ip_of`)."""
    return client_ip_of(request.META)


def client_ip_of(meta: dict) -> str | None:
    """The client's address, from a request's ``META`` (or a WSGI environ). Behind a reverse
    proxy (LEADMILL_TRUST_X_FORWARDED_FOR) it is the last X-Forwarded-For entry: the one our
    proxy added, which a client cannot forge (the first entries are whatever the client
    sent, so a rate limit keyed on them could be dodged with a new made-up address per
    request)."""
    if settings.LEADMILL_TRUST_X_FORWARDED_FOR and (forwarded := meta.get("HTTP_X_FORWARDED_FOR")):
        return forwarded.split(",")[-1].strip()
    return meta.get("REMOTE_ADDR")

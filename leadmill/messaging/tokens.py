"""Signed tokens of the links in marketing email: open pixel, click redirect, one-click
unsubscribe and preference centre. Every public link carries one; none expires (a person
may unsubscribe from a years-old email), and none can be forged to point elsewhere.

Tokens are short (``<message pk>.<signature>``) because every message carries several.

The salts still say ``nurture``, where these tokens were born: changing them would break
every link in every email already sent (ADR 24).
"""

from __future__ import annotations

from django.core import signing

_OPEN = signing.Signer(salt="leadmill.nurture.open", sep=".")
_CLICK = signing.Signer(salt="leadmill.nurture.click", sep=".")
_UNSUBSCRIBE = signing.Signer(salt="leadmill.nurture.unsubscribe", sep=".")


def open_token(message_pk: int) -> str:
    return _OPEN.sign(str(message_pk))


def click_token(message_pk: int, url: str) -> str:
    """Signs the message and the target together: the redirect goes only where the email said."""
    return _CLICK.sign(f"{message_pk} {url}").rsplit(".", 1)[1] + f".{message_pk}"


def unsubscribe_token(message_pk: int) -> str:
    """Also the preference centre's token: both act for the message's contact."""
    return _UNSUBSCRIBE.sign(str(message_pk))


def _unsign(signer: signing.Signer, token: str) -> int | None:
    try:
        value = signer.unsign(token)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def open_token_read(token: str) -> int | None:
    """The message pk of a valid open token, else None."""
    return _unsign(_OPEN, token)


def click_token_read(token: str, url: str) -> int | None:
    """The message pk when ``token`` signs this very ``url``, else None."""
    signature, _, pk = token.rpartition(".")
    if not pk.isdigit() or not signature:
        return None
    try:
        _CLICK.unsign(f"{pk} {url}.{signature}")
    except signing.BadSignature:
        return None
    return int(pk)


def unsubscribe_token_read(token: str) -> int | None:
    return _unsign(_UNSUBSCRIBE, token)

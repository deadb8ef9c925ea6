"""Signed tokens of the capture app: every public link and hidden field is signed."""

from __future__ import annotations

import secrets
import time
from collections.abc import Collection
from typing import NamedTuple

from django.conf import settings
from django.core import signing

RENDER_SALT = "leadmill.capture.render"
THANKS_SALT = "leadmill.capture.thanks"
DOWNLOAD_SALT = "leadmill.capture.download"
OPT_IN_SALT = "leadmill.capture.double_opt_in"


def render_token_make(
    *, form_id: int, at: float | None = None, omitted: Collection[str] = ()
) -> str:
    """A token proving the form was rendered by us, and when; with progressive profiling,
    also which of its fields were left out for this person (they are not asked on post).
    Each token has a random id of its own, under which the posts made with it are counted
    (``services.RENDER_TOKEN_POSTS``)."""
    data: dict = {
        "f": form_id,
        "t": int(at if at is not None else time.time()),
        "n": secrets.token_urlsafe(9),
    }
    if omitted:
        data["o"] = sorted(omitted)
    return signing.dumps(data, salt=RENDER_SALT, compress=True)


class RenderToken(NamedTuple):
    """What a valid render token says: its age in seconds, the fields left out of the form,
    and its id ("" for a token made before tokens had one)."""

    age: float
    omitted: frozenset[str]
    nonce: str


def render_token_read(token: str, *, form_id: int, now: float | None = None) -> RenderToken | None:
    """The :class:`RenderToken`, or None when the token is missing, forged or belongs to
    another form."""
    if not token:
        return None
    try:
        data = signing.loads(token, salt=RENDER_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("f") != form_id or not isinstance(data.get("t"), int):
        return None
    omitted = data.get("o") or []
    age = (now if now is not None else time.time()) - data["t"]
    nonce = data.get("n") if isinstance(data.get("n"), str) else ""
    return RenderToken(age, frozenset(name for name in omitted if isinstance(name, str)), nonce)


def render_token_omitted(token: str, *, form_id: int) -> frozenset[str]:
    """The fields a valid render token says were left out; empty for any other token."""
    read = render_token_read(token, form_id=form_id)
    return read.omitted if read else frozenset()


def thanks_token_make(*, submission_id: int) -> str:
    return signing.dumps(submission_id, salt=THANKS_SALT)


def thanks_token_read(token: str, *, max_age_s: int = 7 * 86_400) -> int | None:
    try:
        value = signing.loads(token, salt=THANKS_SALT, max_age=max_age_s)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def download_token_make(*, submission_id: int, offer_id: int) -> str:
    return signing.dumps({"s": submission_id, "o": offer_id}, salt=DOWNLOAD_SALT)


def download_token_read(token: str) -> tuple[int, int] | None:
    """(submission id, offer id) of a download link that has not expired, else None."""
    try:
        data = signing.loads(
            token, salt=DOWNLOAD_SALT, max_age=settings.LEADMILL_DOWNLOAD_LINK_HOURS * 3600
        )
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not isinstance(data, dict):
        return None
    return data.get("s"), data.get("o")


def download_token_offer(token: str) -> int | None:
    """The offer a download link was made for, expired or not (to name it on a lead's
    timeline, never to serve the file); None for a token that was not signed here."""
    try:
        data = signing.loads(token, salt=DOWNLOAD_SALT)
    except signing.BadSignature:
        return None
    offer_id = data.get("o") if isinstance(data, dict) else None
    return offer_id if isinstance(offer_id, int) else None


def opt_in_token_make(*, contact_id: int, consent_ids: list[int]) -> str:
    """The token of a double opt-in confirmation link: the contact and its awaiting consents."""
    return signing.dumps(
        {"c": contact_id, "k": sorted(consent_ids)}, salt=OPT_IN_SALT, compress=True
    )


def opt_in_token_read(token: str) -> tuple[int, list[int]] | None:
    """(contact id, consent row ids) of a confirmation link not older than
    LEADMILL_DOUBLE_OPT_IN_DAYS, else None (forged, altered or expired)."""
    try:
        data = signing.loads(
            token, salt=OPT_IN_SALT, max_age=settings.LEADMILL_DOUBLE_OPT_IN_DAYS * 86_400
        )
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("c"), int)
        or not isinstance(data.get("k"), list)
    ):
        return None
    if not data["k"] or not all(isinstance(pk, int) for pk in data["k"]):
        return None
    return data["c"], data["k"]

"""A proof-of-work for form posts that come too early (docs/adr/0013-render-tokens-counted-and-proof-of-work.md).

A post sent sooner than ``LEADMILL_FORM_MIN_SECONDS`` after the form was shown, or with a
render token already used ``LEADMILL_FORM_TOKEN_POSTS`` times, is accepted only with a
solved ALTCHA challenge (the ``altcha`` library's v1 scheme: find the number ``n`` for which
``SHA-256(salt + n)`` is the challenge; the server signs the challenge with an HMAC key, so
it keeps no state). The form's script (``capture/static/capture/embed.js``) asks for a
challenge when a person first touches the form and solves it while they type; a person
never sees it. No third-party service and no cookie are involved.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

import altcha
from django.conf import settings
from django.utils.crypto import salted_hmac

from leadmill.core.ratelimit import rate_limit_hit

PROOF_FIELD = "_altcha"
ALGORITHM = "SHA-256"
CHALLENGE_LIFETIME_S = 1800  # a form a person takes half an hour to fill needs a new one
_MAX_PAYLOAD_CHARS = 2000


def _hmac_key() -> str:
    return salted_hmac("leadmill.capture.proof", "altcha-hmac-key").hexdigest()


def proof_challenge_make(*, form_id: int) -> dict:
    """A signed challenge for one form, as the solver in the form's script reads it
    (``algorithm``, ``challenge``, ``maxNumber``, ``salt``, ``signature``)."""
    challenge = altcha.create_challenge_v1(
        algorithm=ALGORITHM,
        max_number=settings.LEADMILL_FORM_PROOF_MAX_NUMBER,
        salt_length=12,
        hmac_key=_hmac_key(),
        salt="",
        number=None,
        expires=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=CHALLENGE_LIFETIME_S),
        params={"form": str(form_id)},
    )
    return challenge.to_dict()


def proof_accept(*, payload: str, form_id: int) -> bool:
    """True when ``payload`` (the base64 JSON the solver posts) solves an unexpired challenge
    made for this form, and this is the first post that presents it: each solution is
    counted in the shared rate-limit store and good for one post. Never raises."""
    if not payload or len(payload) > _MAX_PAYLOAD_CHARS:
        return False
    try:
        data = json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):
        return False
    if not isinstance(data, dict) or data.get("algorithm") != ALGORITHM:
        return False
    if not all(isinstance(data.get(key), str) for key in ("challenge", "salt", "signature")):
        return False
    if not isinstance(data.get("number"), int) or isinstance(data.get("number"), bool):
        return False
    try:
        solved, _error = altcha.verify_solution_v1(data, _hmac_key(), check_expires=True)
        params = altcha.extract_params_v1(data)
    except (TypeError, ValueError, AttributeError):
        return False
    if not solved or params.get("form") != [str(form_id)] or not params.get("expires"):
        return False
    seen = rate_limit_hit(
        key=f"capture:proof:{data['signature'][:64]}", limit=1, window_s=CHALLENGE_LIFETIME_S * 2
    )
    return seen is None

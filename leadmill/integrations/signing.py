"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is ``whsec_`` + base64 of 24 random bytes; the signature of a message is
``v1,`` + base64(HMAC-SHA256(key, f"{webhook_id}.{timestamp}.{body}")), and the
``webhook-signature`` header lists one per secret that signs (two during a rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def secret_new() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(*, secrets_signing: list[str], webhook_id: str, timestamp: int, body: bytes) -> dict:
    """The three Standard Webhooks headers (and the content type) of one request."""
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret=s, webhook_id=webhook_id, timestamp=timestamp, body=body)
            for s in secrets_signing
        ),
    }

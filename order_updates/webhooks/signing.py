"""Signing webhook requests in the Standard Webhooks scheme.

Each request carries three headers: ``webhook-id`` (the event's id),
``webhook-timestamp`` (Unix seconds of the attempt) and ``webhook-signature``:
``v1,`` and the base64 HMAC-SHA256, keyed with the secret's bytes, of
``"<id>.<timestamp>.<body>"``. The timestamp is signed, so a captured request
cannot be replayed later: receivers refuse old ones (docs/webhooks.rst shows
the receiving side's code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from order_updates.models.webhooks import SECRET_PREFIX


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret (any other string: its UTF-8 bytes)."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode()


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of one request."""
    signed = b"%s.%d.%s" % (event_id.encode(), timestamp, body)
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header of one signed request."""
    return {
        "Content-Type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, event_id, timestamp, body),
    }

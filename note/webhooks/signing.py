"""The signature on every POST, and the receiver's check of it.

The signed text is ``"<timestamp>.<body>"`` (the ``X-Notes-Timestamp`` header,
a dot, the raw body), HMAC-SHA256 with the endpoint's secret, sent as
``X-Notes-Signature: v1=<hex>``. Signing the timestamp with the body lets a
receiver refuse a replayed old request. :func:`webhook_verify` needs only the
standard library: a receiver may copy it (``docs/webhooks.md`` has it too).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Notes-Signature"
TIMESTAMP_HEADER = "X-Notes-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Notes-Event"
ATTEMPT_HEADER = "X-Notes-Attempt"
SCHEME = "v1"


class SignatureError(ValueError):
    """The request did not come from the holder of the secret, or is too old."""


def webhook_sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Notes-Signature`` value for ``body`` sent at ``timestamp`` (epoch seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def webhook_verify(
    *,
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Raise :class:`SignatureError` unless ``signature`` signs ``body`` at ``timestamp``.

    Pass the raw body as received (before any JSON parsing) and the two
    headers' values. ``tolerance`` is how many seconds old (or ahead) a
    request may be; 0 turns the age check off.
    """
    if not timestamp or not signature:
        raise SignatureError("missing X-Notes-Timestamp or X-Notes-Signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError("X-Notes-Timestamp is not a whole number") from None
    if tolerance and abs((time.time() if now is None else now) - sent) > tolerance:
        raise SignatureError("X-Notes-Timestamp is too far from now")
    expected = webhook_sign(secret=secret, timestamp=sent, body=body)
    # A header may carry several signatures (during a secret's rotation).
    if not any(hmac.compare_digest(expected, part.strip()) for part in signature.split(",")):
        raise SignatureError("the signature does not match")

"""Webhook signatures, both ways: what OrderHub signs when it calls another system
(``notify.channels.send_webhook``) and what it checks when a system calls it
(``intake.services.webhook``).

The signature is ``sha256=<hex>`` of HMAC-SHA256(secret, ``"<timestamp>." + body``), sent in the
``X-OrderHub-Signature`` header with ``X-OrderHub-Timestamp`` (Unix seconds). Everything a
receiver must trust (the idempotency key included) travels inside the signed body.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-OrderHub-Signature"
TIMESTAMP_HEADER = "X-OrderHub-Timestamp"


def sign(secret: str | bytes, timestamp: str | int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>." + body)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, timestamp: str | int, body: bytes, signature: str) -> bool:
    """True if ``signature`` is the signature of ``body`` at ``timestamp`` (constant time)."""
    if not secret or not signature:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode())

"""JSON webhooks per channel, signed with HMAC-SHA256 over ``<timestamp>.<body>``.

Two modes (setting ``ORDERHUB_INTAKE_WEBHOOK_MODE``): ``sync`` (default) parses and makes the
order before answering; ``queue`` only checks the signature and stores the raw payload, answers
202 with the inbox id, and leaves parsing to ``orderhub intake process-pending --loop``
(``inbound_process_pending``), so the sender is acknowledged in milliseconds under load.

A request outside the channel's replay window, with a missing or wrong signature, or with a
tampered body is refused (401); one for a channel that takes no webhooks is refused (404).
Either way nothing is stored and no inbox message is made: the refusal is logged without its
body (``refusals.refusal_record``: size, SHA-256, the first 1 KiB escaped), and the answer
carries no id. A correctly signed request repeated inside the window is harmless: the same
content is a duplicate.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from orderhub.core import clock, signing
from orderhub.core.actors import Actor, RequestContext
from orderhub.core.errors import DomainError, NotFound

from ..models import Channel, InboundMessage, RefusedRequest
from .config import forget_channels, webhook_channel  # noqa: F401 (forget_channels: its old home)
from .dispatch import inbound_process
from .inbox import inbound_receive
from .refusals import refusal_record

SIGNATURE_HEADER = signing.SIGNATURE_HEADER
TIMESTAMP_HEADER = signing.TIMESTAMP_HEADER
# what a sender puts in the X-OrderHub-Signature header (one helper for both directions)
webhook_signature = signing.sign


MODES = ("sync", "queue")


def webhook_mode() -> str:
    mode = getattr(settings, "ORDERHUB_INTAKE_WEBHOOK_MODE", "sync")
    return mode if mode in MODES else "sync"


class SignatureRefused(DomainError):
    status = 401


def _problem(headers: dict[str, str], body: bytes, channel: Channel) -> tuple[str, str] | None:
    lower = {k.lower(): v for k, v in headers.items()}
    ts, sig = lower.get(TIMESTAMP_HEADER.lower(), ""), lower.get(SIGNATURE_HEADER.lower(), "")
    if not ts or not sig:
        return "signature_missing", _("The %(ts)s and %(sig)s headers are required.") % {
            "ts": TIMESTAMP_HEADER, "sig": SIGNATURE_HEADER}
    try:
        sent = int(ts)
    except ValueError:
        return "bad_timestamp", _("The timestamp must be Unix seconds.")
    skew = abs(clock.now().timestamp() - sent)
    if skew > channel.window_seconds:
        return "outside_window", _("The request is %(s)d s away from now; the window is %(w)d s.") % {
            "s": skew, "w": channel.window_seconds}
    # the secret is decrypted here (a wrong ORDERHUB_ENCRYPTION_KEY raises SecretUnreadable, 503)
    if not signing.verify(channel.webhook_secret(), ts, body, sig):
        return "bad_signature", _("The signature does not match the body.")
    return None


def webhook_receive(*, channel: str, body: bytes, headers: dict[str, str], content_type: str = "",
                    context: RequestContext | None = None, mode: str | None = None) -> InboundMessage:
    """Check a webhook's signature, store it raw, and process it (``sync``) or queue it
    (``queue``: the message comes back ``received`` and ``queued``). Raises SignatureRefused
    (401), or NotFound for a channel without webhooks, after logging the refusal; a refused
    request stores nothing."""
    queue = (mode or webhook_mode()) == "queue"
    context = context or RequestContext()
    ch = webhook_channel(channel)
    if ch is None:
        message = _("Channel '%(channel)s' takes no webhooks.") % {"channel": channel}
        refusal_record(kind=InboundMessage.Kind.WEBHOOK, channel=channel, reason=RefusedRequest.Reason.UNKNOWN_CHANNEL,
                       detail=message, body=body, content_type=content_type, context=context)
        raise NotFound("unknown_channel", message)
    problem = _problem(headers, body, ch)
    if problem:
        code, message = problem
        refusal_record(kind=InboundMessage.Kind.WEBHOOK, channel=channel, reason=code, detail=message, body=body,
                       content_type=content_type, context=context)
        raise SignatureRefused(code, message)
    actor = Actor.system(f"webhook:{channel}", context=context)
    kept: dict[str, Any] = {k: v for k, v in headers.items()}
    msg = inbound_receive(channel=channel, kind=InboundMessage.Kind.WEBHOOK, payload=body, actor=actor,
                          content_type=content_type, headers=kept, source=context.ip or "", queued=queue)
    if queue:
        return msg
    return inbound_process(message=msg, actor=actor)

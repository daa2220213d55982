"""Where a stored message goes: the one place intake routes by content and kind. A picture or
PDF becomes a draft (OCR), an e-mail is split into its attachments, anything else goes through its
channel's mapping (``inbox``). Receiving doors (webhooks, uploads, the queue, replays) call here,
so no processing module imports another's door.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor, RequestContext
from orderhub.core.errors import Conflict, PermissionDenied

from ..models import ImportJob, InboundMessage
from ..selectors import visible_messages
from . import inbox
from .drafts import draft_from_document
from .email import email_process
from .inbox import REPLAYABLE, Status

logger = logging.getLogger(__name__)


def inbound_process(*, message: InboundMessage | int, actor: Actor, mode: str = "accept_valid") -> InboundMessage:
    """Process a stored message: a picture or PDF becomes a draft, anything else goes through
    its channel's current mapping and makes its orders (``inbox.inbound_map``).

    Never raises for bad content or a failing mapping: the message ends parsed, duplicate,
    needs_review or failed, with its errors and per-row report. Permission is checked by the
    order services (the actor must be allowed to create orders).
    """
    msg = inbox.get_message(message)
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    if inbox.is_document(msg):
        return draft_from_document(message=msg, actor=actor)
    return inbox.inbound_map(message=msg, actor=actor, mode=mode)


def inbound_process_pending(*, limit: int = 20) -> list[InboundMessage]:
    """Process up to ``limit`` queued messages, oldest first, and return them.

    The rows are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (several processors share the
    queue) and processed, and their ``queued`` flag cleared, in *one* transaction: if the process
    dies, the transaction rolls back (no order, no status, no audit event) and the rows are
    claimed again by the next run, so every message is processed exactly once.

    Messages of one JSON channel are mapped with shared lookups and written with one
    ``order_create_batch`` call; if that raises, each message is processed on its own.
    """
    with transaction.atomic():
        claimed = list(InboundMessage.objects.select_for_update(skip_locked=True)
                       .filter(queued=True).order_by("received_at", "id")[:limit])
        groups: dict[tuple[str, str], list[InboundMessage]] = {}
        for msg in claimed:
            groups.setdefault((msg.kind, msg.read_as), []).append(msg)
        for (kind, channel), msgs in groups.items():
            actor = Actor.system(f"{kind}:{channel}")
            try:
                with transaction.atomic():
                    inbox.process_many(msgs, channel, actor)
            except Exception:
                logger.info("intake: batch of %d %s messages processed one by one", len(msgs), channel,
                            exc_info=True)
                for msg in msgs:
                    _process_one_queued(msg)
        InboundMessage.objects.filter(pk__in=[m.pk for m in claimed]).update(queued=False)
        for msg in claimed:
            msg.queued = False
    return claimed


def _process_one_queued(msg: InboundMessage) -> None:
    actor = Actor.system(f"{msg.kind}:{msg.channel}", context=RequestContext(ip=msg.source or None))
    try:
        with transaction.atomic():
            done = inbound_process(message=msg, actor=actor)
    except Exception as exc:  # PermissionDenied or a bug outside the parse: keep it, say why
        logger.exception("intake: queued message %s raised", msg.pk)
        done = inbox.conclude(msg, inbox.Outcome(Status.FAILED, errors=[{
            "code": "internal_error",
            "message": _("Processing raised %(type)s: %(error)s") % {"type": type(exc).__name__,
                                                                     "error": str(exc)[:500]}}]), actor)
    msg.status = done.status


def inbound_replay(*, message: InboundMessage | int, actor: Actor, mode: str = "accept_valid") -> InboundMessage:
    """Run a failed (or stuck, or to-review) message again through the current mapping."""
    msg = inbox.get_message(message.pk if isinstance(message, InboundMessage) else message)  # its status now
    if msg.status not in REPLAYABLE:
        raise Conflict("not_replayable",
                       _("Message %(id)s is %(status)s and cannot be replayed.")
                       % {"id": msg.pk, "status": msg.get_status_display()})
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    job = ImportJob.objects.filter(message=msg, status=ImportJob.Status.RUNNING).values_list("pk", flat=True).first()
    if job is not None:  # a second run beside it would upset its chunks and counts
        raise Conflict("import_running", _("This file's import %(job)s is still running: follow it on its import "
                                           "page, and resume it there if it has stopped.") % {"job": f"#{job}"},
                       data={"job": job})
    actor = actor.for_channel(msg.channel)  # machine intake: the mapping's prices are kept
    if msg.kind == InboundMessage.Kind.EMAIL:
        return email_process(message=msg, actor=actor)
    return inbound_process(message=msg, actor=actor, mode=mode)


def inbound_replay_failed(*, actor: Actor, channel: str | None = None) -> list[InboundMessage]:
    """Replay every failed message (of one channel) ``actor`` may see, oldest first: someone who
    sees only their own customers' orders replays only the messages shown to them
    (``selectors.visible_messages``), never another rep's."""
    qs = visible_messages(InboundMessage.objects.filter(status=Status.FAILED), actor).exclude(
        kind=InboundMessage.Kind.ATTACHMENT)
    if channel:
        qs = qs.filter(channel=channel)
    return [inbound_replay(message=m, actor=actor) for m in qs.order_by("received_at", "pk")]

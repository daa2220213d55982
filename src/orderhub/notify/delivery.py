"""The deliverer: claims due outbox rows, sends them, records the outcome.

Claim (one short transaction): due rows that are queued, failed, or ``sending`` with an
expired lease (a worker died mid-delivery) are locked with ``SELECT … FOR UPDATE SKIP
LOCKED`` (so any number of workers share the queue), marked ``sending`` with
``next_attempt_at = now + lease`` and their attempt counted. Each message is then sent outside
any transaction and its outcome recorded at once in its own small transaction (status, attempt
history, first touch). A worker killed after sending and before recording leaves the row
``sending``; once the lease ends another worker sends it again: nothing is lost and a message is
sent at most once more (receivers see the same dedupe key).

Messages are queued without their text: each is rendered here, just before it is sent, from
its event, channel and stored context with the template as it is then (``render_pending``); the
text is stored on the row together with the delivered state. A template that fails to render
sends the fallback text with the error in it, as before.

A deliverer asked to stop (``stop`` set: the runner got SIGTERM, e.g. because ``orderhub serve``
died) finishes the message in hand, records it, and gives the rest of its claim back
(``release``: queued again at once, the attempt not counted), so a restarted server sends them
at once instead of after the lease.

Failures retry with exponential backoff (``ORDERHUB_NOTIFY_RETRY_SECONDS`` × 2^(attempt-1),
capped at 6 h) and become dead letters after ``ORDERHUB_NOTIFY_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from orderhub.core import clock
from orderhub.core.calendar_config import get_business_calendar

from . import metrics
from .channels import DeliveryError, send
from .models import DeliveryAttempt, DeliveryChannel, Endpoint, FirstTouch, Message
from .rendering import render_pending

logger = logging.getLogger(__name__)

# set when this process is shutting down (the runner's SIGTERM): every deliver_due stops early
shutting_down = threading.Event()

DUE_STATUSES = (Message.Status.QUEUED, Message.Status.SENDING, Message.Status.FAILED)
MAX_BACKOFF = timedelta(hours=6)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_seconds() -> float:
    return float(getattr(settings, "ORDERHUB_NOTIFY_LEASE_SECONDS", 120))


def backoff(attempts: int) -> timedelta:
    base = float(getattr(settings, "ORDERHUB_NOTIFY_RETRY_SECONDS", 30))
    return min(timedelta(seconds=base * (2 ** max(attempts - 1, 0))), MAX_BACKOFF)


def claim(limit: int = 20, now: datetime | None = None) -> list[Message]:
    now = now or clock.now()
    with transaction.atomic():
        rows = list(Message.objects.select_for_update(skip_locked=True)
                    .filter(status__in=DUE_STATUSES, next_attempt_at__lte=now)
                    .order_by("next_attempt_at", "id")[:limit])
        if not rows:
            return []
        until = now + timedelta(seconds=lease_seconds())
        for m in rows:
            m.status = Message.Status.SENDING
            m.attempts += 1
            m.next_attempt_at = until
        Message.objects.bulk_update(rows, ["status", "attempts", "next_attempt_at"])
    return rows


def _endpoints(rows: list[Message]) -> dict[int, Endpoint]:
    ids = {m.endpoint_id for m in rows if m.endpoint_id}
    return {e.pk: e for e in Endpoint.objects.filter(pk__in=ids)} if ids else {}


def deliver_one(m: Message, ep: Endpoint | None, *, worker: str = "") -> bool:
    started = clock.now()
    rendered = False
    try:
        rendered = render_pending(m)
        answer = send(m, ep)
        ok, error = True, ""
    except DeliveryError as e:
        ok, error, answer = False, str(e), ""
    except Exception as e:  # a bug in a sender must not stop the queue
        logger.exception("notify: sending message %s raised", m.pk)
        ok, error, answer = False, f"{type(e).__name__}: {e}", ""
    finished = clock.now()
    _record(m, ok=ok, error=error, answer=answer, started=started, finished=finished, worker=worker,
            rendered=rendered)
    metrics.attempted(m.channel, ok)
    return ok


def _record(m: Message, *, ok: bool, error: str, answer: str, started: datetime, finished: datetime,
            worker: str, rendered: bool = False) -> None:
    max_attempts = int(getattr(settings, "ORDERHUB_NOTIFY_MAX_ATTEMPTS", 8))
    with transaction.atomic():
        DeliveryAttempt.objects.create(message_id=m.pk, number=m.attempts, started_at=started,
                                       finished_at=finished, ok=ok, error=error[:5000],
                                       response=answer[:500], worker=worker[:100])
        # only the claim that is still current records the state (a slower, expired claim
        # leaves the row to the worker that took it over)
        current = Message.objects.filter(pk=m.pk, attempts=m.attempts, status=Message.Status.SENDING)
        if ok:
            text = {"subject": m.subject, "body": m.body} if rendered else {}   # as it was sent
            n = current.update(status=Message.Status.DELIVERED, delivered_at=finished, last_error="", **text)
            if n:
                record_first_touch(m, finished)
        elif m.attempts >= max_attempts:
            current.update(status=Message.Status.DEAD, last_error=error[:5000])
        else:
            current.update(status=Message.Status.FAILED, last_error=error[:5000],
                           next_attempt_at=finished + backoff(m.attempts))


def first_touch_rows(m: Message, touched_at: datetime) -> list[FirstTouch]:
    """The first touches a delivered message makes: its order's (``payload.first_touch.
    submitted_at``), or each order's of a digest (``payload.first_touch.orders``: [id, submitted])."""
    ft = m.payload.get("first_touch") if isinstance(m.payload, dict) else None
    if not ft:
        return []
    if "orders" in ft:
        pairs = [(int(pk), at) for pk, at in ft["orders"]]
    elif m.order_id:
        pairs = [(m.order_id, ft["submitted_at"])]
    else:
        return []
    cal = get_business_calendar()
    rows = []
    for order_id, at in pairs:
        submitted = datetime.fromisoformat(at)
        wall = max((touched_at - submitted).total_seconds(), 0.0)
        try:
            business = cal.business_seconds_between(submitted, touched_at) if wall else 0.0
        except Exception:  # outside the calendar's years
            business = wall
        rows.append(FirstTouch(order_id=order_id, submitted_at=submitted, touched_at=touched_at, message_id=m.pk,
                               channel=m.channel, wall_seconds=wall, business_seconds=business))
    return rows


def record_first_touch(m: Message, touched_at: datetime) -> None:
    """The first delivery to an owner of the order's first stage (the first one wins)."""
    rows = first_touch_rows(m, touched_at)
    if rows:
        FirstTouch.objects.bulk_create(rows, ignore_conflicts=True)


def deliver_inbox(rows: list[Message], *, worker: str = "") -> int:
    """In-app messages need no I/O: the claimed ones are rendered, then recorded delivered
    together with their text, in one transaction (one UPDATE, one INSERT of attempts, one of
    first touches)."""
    if not rows:
        return 0
    rendered = {m.pk for m in rows if render_pending(m)}
    now = clock.now()
    with transaction.atomic():
        done = set(Message.objects.filter(pk__in=[m.pk for m in rows], status=Message.Status.SENDING)
                   .values_list("pk", flat=True).select_for_update())
        rows = [m for m in rows if m.pk in done]
        if rendered & done:   # each row's own text: one UPDATE … SET subject = CASE id … END
            for m in rows:
                m.status, m.delivered_at, m.last_error = Message.Status.DELIVERED, now, ""
            Message.objects.bulk_update(rows, ["status", "delivered_at", "last_error", "subject", "body"])
        else:
            Message.objects.filter(pk__in=[m.pk for m in rows]).update(
                status=Message.Status.DELIVERED, delivered_at=now, last_error="")
        DeliveryAttempt.objects.bulk_create([
            DeliveryAttempt(message_id=m.pk, number=m.attempts, started_at=now, finished_at=now, ok=True,
                            response="inbox", worker=worker[:100]) for m in rows])
        touches = [t for m in rows for t in first_touch_rows(m, now)]
        if touches:
            FirstTouch.objects.bulk_create(touches, ignore_conflicts=True)
    metrics.attempted(DeliveryChannel.INAPP, True, len(rows))
    return len(rows)


def release(rows: list[Message]) -> int:
    """Give back claimed rows that were not sent: queued again, due now, the attempt the claim
    counted taken back. Only rows still under this claim (same lease) are touched."""
    if not rows:
        return 0
    lease = rows[0].next_attempt_at
    return (Message.objects.filter(pk__in=[m.pk for m in rows], status=Message.Status.SENDING,
                                   next_attempt_at=lease)
            .update(status=Message.Status.QUEUED, attempts=F("attempts") - 1, next_attempt_at=clock.now()))


def deliver_due(*, limit: int = 20, max_rounds: int = 50, stop: threading.Event | None = None) -> int:
    """Deliver what is due now; returns how many were delivered. When ``stop`` is set, the
    message in hand is finished and the rest of the claim released."""
    worker = _worker_name()
    delivered = 0
    stop = stop or shutting_down
    for _ in range(max_rounds):
        if stop.is_set():
            break
        rows = claim(limit)
        if not rows:
            break
        delivered += deliver_inbox([m for m in rows if m.channel == DeliveryChannel.INAPP], worker=worker)
        others = [m for m in rows if m.channel != DeliveryChannel.INAPP]
        eps = _endpoints(others)
        for i, m in enumerate(others):
            if stop.is_set():
                released = release(others[i:])
                logger.info("notify: stopping, %d claimed message(s) given back", released)
                return delivered
            delivered += deliver_one(m, eps.get(m.endpoint_id), worker=worker)
        if len(rows) < limit:
            break          # that was the last of what is due now
    return delivered


"""The events orders emit: their types as constants, and one small function per published event
that builds the :class:`~orderhub.orders.hooks.OrderChange` and publishes it to the order hooks
(:mod:`orderhub.orders.hooks`, in the caller's transaction). Everything that matches on an event
(notify, rules, ladders, pages) imports these names; nothing else spells the strings.

**History events** are the ``action`` of an audit event in the order's hash chain; each
published one reaches the subscribers as an ``OrderChange`` with that ``action``, the order as
saved, the actor, the moment and the audit event (its ``changes`` {field: [before, after]},
``data`` and ``reason``):

``order.created`` (ORDER_CREATED)
    A new order (``order_create``, ``order_create_batch``, intake). changes: stage, status;
    data: intake (the normalised input), actions (what the first stage's entry actions did).
    Carries ``entered`` (the first stage instance) and ``lines``. Published; a batch is
    published as one list.
``order.transitioned`` (ORDER_TRANSITIONED) / ``order.forced`` (ORDER_FORCED)
    Moved to the next stage (``order_transition``), or forced past its guards
    (``order_override``, flagged ``forced``, reason required); many at once
    (``order_transition_batch``: published as one list with the batch's blocked attempts). changes: stage (status, tags,
    urgency when entry actions changed them), version; data: from, to, actions. Carries
    ``entered``, ``left_stage`` and ``lines``. Published.
``order.blocked`` (ORDER_BLOCKED)
    A move refused by the guards; the reasons are kept on the order. changes: blocked_reasons
    (when they changed); data: to, reasons. ``extra``: {"to": stage}. Published.
``order.held`` (ORDER_HELD) / ``order.resumed`` (ORDER_RESUMED)
    Taken out of the flow and back. changes: on_hold, hold_reason, version. Published.
``order.updated`` (ORDER_UPDATED)
    Header fields changed (``order_update``; an escalation rung's ``set_urgency``). changes:
    each field changed, version. Published.
``order.lines_changed`` (ORDER_LINES_CHANGED)
    Lines added, removed or changed (``order_lines_change``). changes: version, total_amount;
    data: lines (each touched line's before and after), reserved and released (stock brought in
    line with the new quantities). Carries ``lines``. Published.
``order.restored`` (ORDER_RESTORED)
    An earlier snapshot's header, ship-to, dates and lines made the order's new version
    (``order_restore``). changes: each header field changed, version, total_amount; data:
    from_version, from_sha256, lines, reserved, released (as for lines_changed). Carries
    ``lines``. Published.
``order.change_requested`` (ORDER_CHANGE_REQUESTED)
    A change request raised (``change_request_raise``); the order is frozen until it is
    decided. data: request, header, lines, approvers, impact, notify_roles. ``extra``:
    {"request": ChangeRequest}. Published (the owners of affected work are told).
``order.change_decided`` (ORDER_CHANGE_DECIDED)
    One approver role approved or rejected a change request with a comment. data: request,
    role, decision, comment. History only (not published).
``order.change_applied`` (ORDER_CHANGE_APPLIED)
    An approved change request made the order's new version (through the line edit, as
    ``order.lines_changed``, plus the header fields). changes: each header field, version,
    total_amount; data: request, lines, reserved, released. Carries ``lines``. Published.
``order.change_rejected`` (ORDER_CHANGE_REJECTED)
    A change request rejected; the order is no longer frozen. data: request, role, comment.
    ``extra``: {"request": ChangeRequest}. Published (the requester is told why).
``order.cancelled`` (ORDER_CANCELLED)
    Cancelled, reservations released. changes: status, version; data: released. Carries
    ``left_stage``. Published.
``order.attachment_added`` (ORDER_ATTACHMENT_ADDED)
    A file attached. changes: attachments, version; data: sha256, size, content_type.
    History only (not published).
``order.escalated`` (ORDER_ESCALATED)
    An escalation rung fired (``escalation_step_fire``). data: step, rung, stage, ticket,
    fire_at, outcome, roles, users, channels, severity, messages. ``extra``: the data.
    Published (together with the ``order.updated`` of its ``set_urgency``, if any).
``order.deadline_recomputed`` (ORDER_DEADLINE_RECOMPUTED)
    The open stage's deadline moved because the business calendar changed (an official holiday
    table imported: ``order_deadlines_recompute``). History only (not published).
``order.reservation_expired`` (ORDER_RESERVATION_EXPIRED)
    Holds past their ``expires_at`` released by the expiry job (``reservations_expire``), the
    current stage's guards checked again. changes: version, blocked_reasons (when they changed);
    data: released (product_id, qty, expires_at), reasons. Published; notify tells the order's
    owner (a notification of the same type).
``order.safety_stock_low`` (ORDER_SAFETY_STOCK_LOW)
    A material the not-yet-started order needs crossed below its safety stock; the order was
    flagged at the stock change (``orders.safety``), the notice job appends this once per flag.
    data: materials (sku, free, safety_stock). ``extra``: {"message": the materials and the
    substitute offer, in words}. Published; notify tells the order's owner.
``order.breaker_tripped`` (ORDER_BREAKER_TRIPPED) / ``order.breaker_reset`` (ORDER_BREAKER_RESET)
    A circuit breaker (stock, credit, carrier: ``orders.breakers``) tripped for the order and
    paused it (the order's hold, unless it was already held by hand) / reset, by itself or by
    hand, releasing the hold when no other breaker still holds it. changes: on_hold,
    hold_reason, version (when the hold changed); data: trips (kind, subject, reason, detail).
    Published.
``ticket.opened`` (TICKET_OPENED) / ``ticket.resolved`` (TICKET_RESOLVED)
    A ticket opened on the order / resolved (``ticket_open``, ``ticket_resolve``). data:
    ticket, kind, title, owner_role, due_at, source / resolution. ``extra``: {"ticket": Ticket}.
    Published.
``export.orders`` (ORDERS_EXPORTED)
    An export of the order list, in the exporting user's own chain (subject ``export``, id the
    user's). data: rows, file, sha256, title, filters. History only (not published).

**Notification events** are the ``event`` of an outbox message (``notify.Message``), the key of
its message template; they are raised through the notification hub, not published to the hooks:

``order.created`` (ORDER_CREATED)
    To the owner role of a new order's first stage (``notify.subscribers``).
``stage.entered`` (STAGE_ENTERED)
    To the owner role of the stage an order just entered (``notify.subscribers``).
``stage.overdue`` (STAGE_OVERDUE)
    Red, to the owner role of a stage instance whose deadline passed, once
    (``rules.sweep`` after ``stage_instances_mark_overdue``).
``escalation`` (ESCALATION)
    A fired escalation rung's message to its roles and users (``rules.ladders``).
``ticket.opened`` (TICKET_OPENED)
    A template ships for it; nothing sends it yet.
``order.change_requested`` / ``order.change_applied`` / ``order.change_rejected``
    To the owners of the work a change request affects / everyone downstream / its requester
    (``notify.subscribers``).
``order.reservation_expired`` (ORDER_RESERVATION_EXPIRED)
    To the order's owner (else the owner role of its stage): which holds went back to stock and
    what the stage's guards now say (``notify.subscribers``).
``order.safety_stock_low`` (ORDER_SAFETY_STOCK_LOW)
    To the order's owner (else the owner role of its stage): which materials fell below safety
    stock and the substitute offer (``notify.subscribers``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .hooks import OrderChange, publish

if TYPE_CHECKING:
    from orderhub.core.actors import Actor
    from orderhub.core.models import AuditEvent

    from .models import ChangeRequest, Order, OrderLine, StageInstance, Ticket

# --------------------------------------------------------------------------- history events

ORDER_CREATED = "order.created"
ORDER_TRANSITIONED = "order.transitioned"
ORDER_FORCED = "order.forced"
ORDER_BLOCKED = "order.blocked"
ORDER_HELD = "order.held"
ORDER_RESUMED = "order.resumed"
ORDER_UPDATED = "order.updated"
ORDER_LINES_CHANGED = "order.lines_changed"
ORDER_RESTORED = "order.restored"
ORDER_CANCELLED = "order.cancelled"
ORDER_CHANGE_REQUESTED = "order.change_requested"
ORDER_CHANGE_DECIDED = "order.change_decided"
ORDER_CHANGE_APPLIED = "order.change_applied"
ORDER_CHANGE_REJECTED = "order.change_rejected"
ORDER_ATTACHMENT_ADDED = "order.attachment_added"
ORDER_ESCALATED = "order.escalated"
# a stage deadline recomputed after the business calendar changed (history only)
ORDER_DEADLINE_RECOMPUTED = "order.deadline_recomputed"
# holds past their expiry released by the periodic job, guards checked again
ORDER_RESERVATION_EXPIRED = "order.reservation_expired"
# a material the not-yet-started order needs fell below its safety stock (the notice job)
ORDER_SAFETY_STOCK_LOW = "order.safety_stock_low"
# a circuit breaker tripped (the order paused) / reset (orders.breakers)
ORDER_BREAKER_TRIPPED = "order.breaker_tripped"
ORDER_BREAKER_RESET = "order.breaker_reset"
TICKET_OPENED = "ticket.opened"
TICKET_RESOLVED = "ticket.resolved"
ORDERS_EXPORTED = "export.orders"

# --------------------------------------------------------------------------- notification events

STAGE_ENTERED = "stage.entered"
STAGE_OVERDUE = "stage.overdue"
ESCALATION = "escalation"

# what the hooks carry, what an order's history holds, what an outbox message may say
PUBLISHED = (ORDER_CREATED, ORDER_TRANSITIONED, ORDER_FORCED, ORDER_BLOCKED, ORDER_HELD, ORDER_RESUMED,
             ORDER_UPDATED, ORDER_LINES_CHANGED, ORDER_RESTORED, ORDER_CANCELLED, ORDER_ESCALATED,
             TICKET_OPENED, TICKET_RESOLVED, ORDER_CHANGE_REQUESTED, ORDER_CHANGE_APPLIED, ORDER_CHANGE_REJECTED,
             ORDER_RESERVATION_EXPIRED, ORDER_SAFETY_STOCK_LOW, ORDER_BREAKER_TRIPPED, ORDER_BREAKER_RESET)
HISTORY = (*PUBLISHED, ORDER_ATTACHMENT_ADDED, ORDER_DEADLINE_RECOMPUTED, ORDER_CHANGE_DECIDED)
MOVES = (ORDER_TRANSITIONED, ORDER_FORCED)            # a change that leaves one stage for another
LEAVING = (*MOVES, ORDER_CANCELLED)                   # a change after which a stage is left
NOTIFICATIONS = (ORDER_CREATED, STAGE_ENTERED, STAGE_OVERDUE, ESCALATION, TICKET_OPENED,
                 ORDER_CHANGE_REQUESTED, ORDER_CHANGE_APPLIED, ORDER_CHANGE_REJECTED, ORDER_RESERVATION_EXPIRED,
                 ORDER_SAFETY_STOCK_LOW)
ALL = (*HISTORY, ORDERS_EXPORTED, STAGE_ENTERED, STAGE_OVERDUE, ESCALATION)   # every type orders own


# --------------------------------------------------------------------------- building and publishing


def _change(action: str, *, order: Order, actor: Actor, at: datetime, event: AuditEvent,
            **more: Any) -> OrderChange:
    if event.action != action:
        raise ValueError(f"the audit event says {event.action!r}, the change {action!r}")
    return OrderChange(action, order, actor, at, event, **more)


def order_created_change(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                         entered: StageInstance, lines: Sequence[OrderLine]) -> OrderChange:
    """A new order's change, not yet published (a batch publishes its changes with
    :func:`orders_created`)."""
    return _change(ORDER_CREATED, order=order, actor=actor, at=at, event=event, entered=entered,
                   lines=lines)


def orders_created(changes: list[OrderChange]) -> None:
    """Publish the new orders of one batch at once (one call per subscriber), with what the
    orders created one by one in it published (``hooks.held``: their entry actions' changes)."""
    publish(changes)


def order_created(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                  entered: StageInstance, lines: Sequence[OrderLine]) -> OrderChange:
    ch = order_created_change(order=order, actor=actor, at=at, event=event, entered=entered, lines=lines)
    publish([ch])
    return ch


def order_transitioned_change(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                              entered: StageInstance, left_stage: str,
                              lines: Sequence[OrderLine] | None = None) -> OrderChange:
    """A move's change, not yet published (a batch move publishes its changes with
    :func:`orders_moved`)."""
    if event.action not in MOVES:
        raise ValueError(f"{event.action!r} is not a move")
    return _change(event.action, order=order, actor=actor, at=at, event=event, entered=entered,
                   left_stage=left_stage, lines=lines)


def order_transitioned(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                       entered: StageInstance, left_stage: str,
                       lines: Sequence[OrderLine] | None = None) -> OrderChange:
    """A move (``order.transitioned``) or a forced move (``order.forced``): the audit event says
    which."""
    ch = order_transitioned_change(order=order, actor=actor, at=at, event=event, entered=entered,
                                   left_stage=left_stage, lines=lines)
    publish([ch])
    return ch


def order_blocked_change(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                         to: str) -> OrderChange:
    return _change(ORDER_BLOCKED, order=order, actor=actor, at=at, event=event, extra={"to": to})


def order_blocked(*, order: Order, actor: Actor, at: datetime, event: AuditEvent, to: str) -> OrderChange:
    ch = order_blocked_change(order=order, actor=actor, at=at, event=event, to=to)
    publish([ch])
    return ch


def orders_moved(changes: list[OrderChange]) -> None:
    """Publish the moves and blocked attempts of one batch move at once (one call per
    subscriber)."""
    if any(ch.action not in (*MOVES, ORDER_BLOCKED) for ch in changes):
        raise ValueError("orders_moved publishes moves and blocked attempts only")
    publish(changes)


def order_held(*, order: Order, actor: Actor, at: datetime, event: AuditEvent) -> OrderChange:
    ch = _change(ORDER_HELD, order=order, actor=actor, at=at, event=event)
    publish([ch])
    return ch


def order_resumed(*, order: Order, actor: Actor, at: datetime, event: AuditEvent) -> OrderChange:
    ch = _change(ORDER_RESUMED, order=order, actor=actor, at=at, event=event)
    publish([ch])
    return ch


def order_updated(*, order: Order, actor: Actor, at: datetime, event: AuditEvent) -> OrderChange:
    ch = _change(ORDER_UPDATED, order=order, actor=actor, at=at, event=event)
    publish([ch])
    return ch


def order_lines_changed(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                        lines: Sequence[OrderLine]) -> OrderChange:
    ch = _change(ORDER_LINES_CHANGED, order=order, actor=actor, at=at, event=event, lines=lines)
    publish([ch])
    return ch


def order_restored(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                   lines: Sequence[OrderLine]) -> OrderChange:
    ch = _change(ORDER_RESTORED, order=order, actor=actor, at=at, event=event, lines=lines)
    publish([ch])
    return ch


def order_cancelled(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                    left_stage: str) -> OrderChange:
    ch = _change(ORDER_CANCELLED, order=order, actor=actor, at=at, event=event, left_stage=left_stage)
    publish([ch])
    return ch


def order_escalated(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                    updated: AuditEvent | None = None) -> list[OrderChange]:
    """A fired rung, and the ``order.updated`` its ``set_urgency`` made (if any), published in
    one call."""
    changes = [_change(ORDER_ESCALATED, order=order, actor=actor, at=at, event=event,
                       extra=dict(event.data or {}))]
    if updated is not None:
        changes.append(_change(ORDER_UPDATED, order=order, actor=actor, at=at, event=updated))
    publish(changes)
    return changes


def reservation_expired(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                        message: str) -> OrderChange:
    """``extra``: {"message": what was released and what the guards now say, in words}."""
    ch = _change(ORDER_RESERVATION_EXPIRED, order=order, actor=actor, at=at, event=event,
                 extra={"message": message})
    publish([ch])
    return ch


def ticket_opened(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                  ticket: Ticket) -> OrderChange:
    ch = _change(TICKET_OPENED, order=order, actor=actor, at=at, event=event, extra={"ticket": ticket})
    publish([ch])
    return ch


def ticket_resolved(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                    ticket: Ticket) -> OrderChange:
    ch = _change(TICKET_RESOLVED, order=order, actor=actor, at=at, event=event, extra={"ticket": ticket})
    publish([ch])
    return ch


def safety_stock_low(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                     message: str) -> OrderChange:
    """``extra``: {"message": the materials below safety stock and the substitute offer}."""
    ch = _change(ORDER_SAFETY_STOCK_LOW, order=order, actor=actor, at=at, event=event,
                 extra={"message": message})
    publish([ch])
    return ch


def order_breaker_tripped(*, order: Order, actor: Actor, at: datetime, event: AuditEvent) -> OrderChange:
    ch = _change(ORDER_BREAKER_TRIPPED, order=order, actor=actor, at=at, event=event)
    publish([ch])
    return ch


def order_breaker_reset(*, order: Order, actor: Actor, at: datetime, event: AuditEvent) -> OrderChange:
    ch = _change(ORDER_BREAKER_RESET, order=order, actor=actor, at=at, event=event)
    publish([ch])
    return ch


def order_change_requested(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                           request: ChangeRequest) -> OrderChange:
    ch = _change(ORDER_CHANGE_REQUESTED, order=order, actor=actor, at=at, event=event, extra={"request": request})
    publish([ch])
    return ch


def order_change_applied(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                         lines: Sequence[OrderLine]) -> OrderChange:
    ch = _change(ORDER_CHANGE_APPLIED, order=order, actor=actor, at=at, event=event, lines=lines)
    publish([ch])
    return ch


def order_change_rejected(*, order: Order, actor: Actor, at: datetime, event: AuditEvent,
                          request: ChangeRequest) -> OrderChange:
    ch = _change(ORDER_CHANGE_REJECTED, order=order, actor=actor, at=at, event=event, extra={"request": request})
    publish([ch])
    return ch

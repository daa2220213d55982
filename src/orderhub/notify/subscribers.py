"""Order hooks → notifications: a new order tells the owner role of its first stage
(``order.created``), a stage entered tells the owner role of that stage (``stage.entered``);
``ORDERHUB_NOTIFY_DIGEST_FROM`` (20) or more orders that are not red entering one stage in one
change (an import's chunk, a bulk move) are told in one message instead (``orders.entered``).
One call of ``notify_many`` per published batch (one INSERT); no query at all when no change in
the batch opened a stage."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.conf import settings

from orderhub.orders.events import (
    ORDER_CHANGE_APPLIED,
    ORDER_CHANGE_REJECTED,
    ORDER_CHANGE_REQUESTED,
    ORDER_CREATED,
    ORDER_RESERVATION_EXPIRED,
    ORDER_SAFETY_STOCK_LOW,
    STAGE_ENTERED,
)
from orderhub.orders.hooks import OrderChange
from orderhub.workflow.services import compiled

from .common import active_endpoints
from .events import ORDERS_ENTERED
from .models import DeliveryChannel
from .services import NotifyRequest, Recipient, notify_many


def _stage_name(order, code: str) -> str:
    try:
        return compiled(order.workflow_id).stage(code).spec.name
    except Exception:  # an unknown stage or version: the code is still a useful name
        return code


def submitted_at(order) -> datetime:
    """When the customer submitted: the intake's received time if the order carries it, else
    the order's creation time."""
    raw = (order.intake or {}).get("received_at") if isinstance(order.intake, dict) else None
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw)
            if value.tzinfo is not None and value <= order.created_at:
                return value
        except ValueError:
            pass
    return order.created_at


CHANGE_EVENTS = (ORDER_CHANGE_REQUESTED, ORDER_CHANGE_APPLIED, ORDER_CHANGE_REJECTED)


def _change_request(ch: OrderChange) -> NotifyRequest | None:
    """A change request raised (to the owners of affected work), applied (to everyone
    downstream) or rejected (to its requester, with the reason)."""
    data = ch.event.data or {}
    if ch.action == ORDER_CHANGE_REJECTED:
        user = data.get("requested_by_user")
        recipients = [Recipient.user(user)] if user else []
    else:
        recipients = [Recipient.role(r) for r in data.get("notify_roles") or []]
    if not recipients:
        return None
    ctx = {"request": data.get("request"), "actor": ch.actor.label, "comment": data.get("comment", ""),
           "reason": ch.event.reason or "", "stage_name": _stage_name(ch.order, ch.order.stage),
           "version": ch.order.version}
    return NotifyRequest(event=ch.action, recipients=recipients, context=ctx, order=ch.order,
                         severity="red" if ch.action == ORDER_CHANGE_REQUESTED else "info",
                         dedupe_key=f"{ch.action}:{ch.order.pk}:{data.get('request')}")


def _to_owner(ch: OrderChange) -> NotifyRequest:
    """Expired holds released, a material below safety stock: to the order's owner, else the
    owner role of its stage."""
    order = ch.order
    to = Recipient.user(order.owner_id) if order.owner_id else Recipient.role(_stage_owner(order))
    return NotifyRequest(
        event=ch.action, recipients=[to], order=order,
        severity="red" if ch.action == ORDER_SAFETY_STOCK_LOW else "warning",
        context={"stage": order.stage, "stage_name": _stage_name(order, order.stage),
                 "message": ch.extra.get("message", ""), "actor": ch.actor.label},
        dedupe_key=f"{ch.action}:{order.pk}:{ch.event.seq}")


def _workflow_code(order) -> str:
    try:
        return compiled(order.workflow_id).spec.code
    except Exception:  # an unknown version: the link lists the stage in every workflow
        return ""


def _stage_owner(order) -> str:
    try:
        return compiled(order.workflow_id).stage(order.stage).spec.owner_role
    except Exception:  # an unknown stage or version: nobody but the managers
        return "manager"


def _digest_from() -> int:
    """How many orders make a digest (at least 2: one order is told in its own message)."""
    return max(int(getattr(settings, "ORDERHUB_NOTIFY_DIGEST_FROM", 20)), 2)


def on_order_changes(changes: list[OrderChange]) -> None:
    requests: list[NotifyRequest] = []
    # (event, workflow, stage, owner role, stage left) -> this publication's orders entering it
    entered: dict[tuple, list[OrderChange]] = defaultdict(list)
    for ch in changes:
        if ch.action in CHANGE_EVENTS:
            req = _change_request(ch)
            if req is not None:
                requests.append(req)
            continue
        if ch.action in (ORDER_RESERVATION_EXPIRED, ORDER_SAFETY_STOCK_LOW):
            requests.append(_to_owner(ch))
            continue
        inst = ch.entered
        if inst is None:
            continue
        event = ORDER_CREATED if ch.action == ORDER_CREATED else STAGE_ENTERED
        entered[(event, ch.order.workflow_id, inst.stage, inst.owner_role, ch.left_stage or "")].append(ch)
    many = _digest_from()
    for (event, _wf, stage, role, left), group in entered.items():
        # red orders are told one by one; the others, when many entered together (an import's
        # chunk, a bulk move), in one message per owner instead of one per order (the role's
        # webhooks, systems that act on each order, still get one message per order)
        calm = [ch for ch in group if ch.order.urgency != "red"]
        if len(calm) >= many:
            requests.append(_digest(event, stage, role, left, calm))
            if _has_webhook(role):
                requests.extend(_entered(event, ch, channels=[DeliveryChannel.WEBHOOK]) for ch in calm)
            group = [ch for ch in group if ch.order.urgency == "red"]
        requests.extend(_entered(event, ch) for ch in group)
    if requests:
        notify_many(requests)


def _context(ch: OrderChange, stage: str, role: str, due_at) -> dict:
    order, left = ch.order, ch.left_stage or ""
    return {"stage": stage, "stage_name": _stage_name(order, stage), "owner_role": role, "due_at": due_at,
            "left_stage": left, "left_stage_name": _stage_name(order, left) if left else "",
            "actor": ch.actor.label}


def _has_webhook(role: str) -> bool:
    return any(ep.kind == DeliveryChannel.WEBHOOK and role in (ep.roles or []) for ep in active_endpoints())


def _entered(event: str, ch: OrderChange, channels: list[str] | None = None) -> NotifyRequest:
    """A new order (to the owner role of its first stage) or one that entered a stage."""
    order, inst = ch.order, ch.entered
    extra = {}
    if event == ORDER_CREATED:
        extra["first_touch"] = {"submitted_at": submitted_at(order).isoformat()}
    return NotifyRequest(
        event=event, recipients=[Recipient.role(inst.owner_role)],
        context=_context(ch, inst.stage, inst.owner_role, inst.due_at), order=order,
        severity="red" if order.urgency == "red" else "info",
        dedupe_key=f"{event}:{order.pk}:{inst.pk}", extra_payload=extra, channels=channels)


def _digest(event: str, stage: str, role: str, left: str, group: list[OrderChange]) -> NotifyRequest:
    """Many orders that entered one stage in one change: one message (``orders.entered``) naming
    them, the earliest deadline among them; its delivery is each new order's first touch."""
    first = group[0]
    dues = [ch.entered.due_at for ch in group if ch.entered.due_at is not None]
    ctx = {**_context(first, stage, role, min(dues) if dues else None), "created": event == ORDER_CREATED,
           "workflow": _workflow_code(first.order)}
    ids = [ch.entered.pk for ch in group]
    return NotifyRequest(
        event=ORDERS_ENTERED, recipients=[Recipient.role(role)], context=ctx,
        orders=[ch.order for ch in group], severity="info",
        first_touch={ch.order.pk: submitted_at(ch.order).isoformat() for ch in group}
        if event == ORDER_CREATED else None,
        dedupe_key=f"{ORDERS_ENTERED}:{event}:{stage}:{min(ids)}-{max(ids)}:{len(ids)}")

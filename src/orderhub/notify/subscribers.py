"""Order hooks → notifications: a new order tells the owner role of its first stage
(``order.created``), a stage entered tells the owner role of that stage (``stage.entered``).
One call of ``notify_many`` per published batch (one INSERT); no query at all when no change in
the batch opened a stage."""

from __future__ import annotations

from datetime import datetime

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


def _stage_owner(order) -> str:
    try:
        return compiled(order.workflow_id).stage(order.stage).spec.owner_role
    except Exception:  # an unknown stage or version: nobody but the managers
        return "manager"


def on_order_changes(changes: list[OrderChange]) -> None:
    requests = []
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
        order = ch.order
        created = ch.action == ORDER_CREATED
        event = ORDER_CREATED if created else STAGE_ENTERED
        ctx = {"stage": inst.stage, "stage_name": _stage_name(order, inst.stage),
               "owner_role": inst.owner_role, "due_at": inst.due_at, "left_stage": ch.left_stage or "",
               "left_stage_name": _stage_name(order, ch.left_stage) if ch.left_stage else "",
               "actor": ch.actor.label}
        extra = {}
        if created:
            extra["first_touch"] = {"submitted_at": submitted_at(order).isoformat()}
        requests.append(NotifyRequest(
            event=event, recipients=[Recipient.role(inst.owner_role)], context=ctx, order=order,
            severity="red" if order.urgency == "red" else "info",
            dedupe_key=f"{event}:{order.pk}:{inst.pk}", extra_payload=extra))
    if requests:
        notify_many(requests)

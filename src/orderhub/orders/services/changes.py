"""Moving and changing existing orders: transitions, overrides, hold, cancel, edits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import CustomerAddress
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import (
    DomainError,
    PermissionDenied,
    Problem,
    ValidationFailed,
)
from orderhub.core.text import text_fault
from orderhub.inventory.services import stock_release

from .. import events
from ..editing import edit_refusal
from ..locks import lock_order, lock_order_with_lines
from ..models import Order, Urgency
from ..store import write_order_change
from .batch_moves import order_transition_batch
from .common import TransitionResult, make_snapshot, next_event

# --------------------------------------------------------------------------- moves


def order_transition(*, order: Order | str, to: str, actor: Actor, reason: str = "",
                     force: bool = False) -> TransitionResult:
    """Move an order to stage ``to``. Returns ok, or every blocking reason (the attempt is
    recorded on the order and in its history). ``force`` skips guards: it needs the
    override permission and a reason, and is flagged. A batch of one
    (:func:`~orderhub.orders.services.batch_moves.order_transition_batch`): one code path,
    and the stock rows of a reserving stage are locked before its guards read them, so the
    guards' stock figure costs no query of its own."""
    number = order if isinstance(order, str) else order.number
    (result,) = order_transition_batch(numbers=[number], to=to, actor=actor, reason=reason, force=force)
    if result.error is not None:
        raise result.error
    assert result.order is not None  # moved or blocked: the order as saved
    return TransitionResult(result.order, result.ok, result.reasons)


def order_override(*, order: Order | str, to: str, actor: Actor, reason: str) -> TransitionResult:
    """Force an order into ``to`` past its guards (audited, flagged, reason required)."""
    return order_transition(order=order, to=to, actor=actor, reason=reason, force=True)


def _simple_change(number: str, *, actor: Actor, action: str, reason: str,
                   apply: Callable[[Order, datetime], dict[str, list[Any]]],
                   announce: Callable[..., object]) -> Order:
    with transaction.atomic():
        order = lock_order(number)
        now = clock.now()
        changes = apply(order, now)
        order.version += 1
        order.updated_at = now
        changes["version"] = [order.version - 1, order.version]
        ev = next_event(order, action=action, actor=actor, now=now, changes=changes, reason=reason)
        write_order_change(order, None, event=ev)
        announce(order=order, actor=actor, at=now, event=ev)
        return order


def order_hold(*, order: Order | str, actor: Actor, reason: str) -> Order:
    """Take an order out of the flow (e.g. finance: wrong tax id) until resumed."""
    if not actor.has_perm("orders.hold_order"):
        raise PermissionDenied("permission_denied", _("You may not hold orders."))
    if not reason.strip():
        raise ValidationFailed("reason_required", _("Holding an order needs a reason."),
                               problems=[Problem("required", _("Holding an order needs a reason."), field="reason")])

    def apply(o: Order, now: datetime) -> dict[str, list[Any]]:
        if o.status != Order.Status.OPEN:
            raise DomainError("order_closed", _("Only open orders can be held."), status=409)
        if o.on_hold:
            raise DomainError("already_on_hold", _("Order is already on hold."), status=409)
        o.on_hold, o.hold_reason = True, reason.strip()[:300]
        return {"on_hold": [False, True], "hold_reason": ["", o.hold_reason]}

    return _simple_change(order if isinstance(order, str) else order.number, actor=actor,
                          action=events.ORDER_HELD, reason=reason, apply=apply, announce=events.order_held)


def order_resume(*, order: Order | str, actor: Actor, reason: str = "") -> Order:
    if not actor.has_perm("orders.hold_order"):
        raise PermissionDenied("permission_denied", _("You may not resume orders."))

    def apply(o: Order, now: datetime) -> dict[str, list[Any]]:
        if not o.on_hold:
            raise DomainError("not_on_hold", _("Order is not on hold."), status=409)
        before = o.hold_reason
        o.on_hold, o.hold_reason = False, ""
        return {"on_hold": [True, False], "hold_reason": [before, ""]}

    return _simple_change(order if isinstance(order, str) else order.number, actor=actor,
                          action=events.ORDER_RESUMED, reason=reason, apply=apply, announce=events.order_resumed)


def order_cancel(*, order: Order | str, actor: Actor, reason: str) -> Order:
    """Cancel an open order and release every reservation it holds."""
    if not actor.has_perm("orders.cancel_order"):
        raise PermissionDenied("permission_denied", _("You may not cancel orders."))
    if not reason.strip():
        raise ValidationFailed("reason_required", _("Cancelling an order needs a reason."),
                               problems=[Problem("required", _("Cancelling an order needs a reason."), field="reason")])
    number = order if isinstance(order, str) else order.number
    with transaction.atomic():
        locked, lines = lock_order_with_lines(number)
        if locked.status != Order.Status.OPEN:
            raise DomainError("order_closed", _("Only open orders can be cancelled."), status=409)
        now = clock.now()
        released = stock_release(order_id=locked.pk, actor=actor, note=reason)
        locked.status = Order.Status.CANCELLED
        locked.stage_due_at = None
        locked.version += 1
        locked.updated_at = now
        ev = next_event(locked, action=events.ORDER_CANCELLED, actor=actor, now=now, reason=reason,
                        changes={"status": ["open", "cancelled"], "version": [locked.version - 1, locked.version]},
                        data={"released": [{"product_id": r.product_id, "qty": r.qty} for r in released]})
        write_order_change(locked, None, event=ev, close_open_stages_at=now,
                           snapshot=make_snapshot(locked, lines, now))
        events.order_cancelled(order=locked, actor=actor, at=now, event=ev, left_stage=locked.stage)
        return locked


EDITABLE_FIELDS = ("promised_date", "urgency", "remarks", "tags", "required_date",
                   "ship_to_contact", "ship_to_phone", "ship_to_address")
SHIP_TO_LIMITS = {"ship_to_contact": 100, "ship_to_phone": 32, "ship_to_address": 300}


def _update_problems(changes: dict[str, Any]) -> list[Problem]:
    problems = []
    for key, value in changes.items():
        if key in SHIP_TO_LIMITS:
            ok = isinstance(value, str) and len(value) <= SHIP_TO_LIMITS[key] and not text_fault(value)
        else:
            ok = {
                "promised_date": value is None or isinstance(value, date),
                "required_date": isinstance(value, date),
                "urgency": value in Urgency.values,
                "remarks": isinstance(value, str) and not text_fault(value, multiline=True),
                "tags": isinstance(value, list | tuple) and all(isinstance(t, str) and t and not text_fault(t)
                                                               for t in value),
            }.get(key, True)
        if not ok:
            problems.append(Problem("invalid", _("Invalid value for %(field)s.") % {"field": key}, field=key))
    return problems


def _from_address_book(order: Order | str, changes: dict[str, Any]) -> dict[str, Any]:
    """``ship_to_address_id`` (one of the customer's addresses) as the three ship-to fields."""
    if "ship_to_address_id" not in changes:
        return changes
    changes = dict(changes)
    address_id = changes.pop("ship_to_address_id")
    number = order if isinstance(order, str) else order.number
    found = (CustomerAddress.objects.filter(pk=address_id, customer__orders__number=number)
             .values_list("receiver", "phone", "address").first()) if isinstance(address_id, int) else None
    if found is None:
        raise ValidationFailed("invalid", _("The customer has no such address."),
                               problems=[Problem("unknown_address", _("The customer has no such address."),
                                                 field="ship_to_address_id")])
    changes.update(ship_to_contact=found[0][:100], ship_to_phone=found[1][:32], ship_to_address=found[2][:300])
    return changes


_UPDATE_FIELDS = (*EDITABLE_FIELDS, "version", "updated_at", "audit_seq", "audit_head")


def clean_header(order: Order | str, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` checked as header changes (``ship_to_address_id`` turned into the three
    ship-to fields): 422 naming each field that may not be changed or has a bad value."""
    changes = _from_address_book(order, changes)
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed("invalid", _("Field '%(f)s' cannot be changed here.") % {"f": unknown[0]},
                               problems=[Problem("not_editable", _("Not editable."), field=f) for f in unknown])
    problems = _update_problems(changes)
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    return changes


def apply_header(order: Order, changes: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the (clean) header ``changes`` on ``order``; returns {field: [before, after]} of
    those that differ."""
    diff = {}
    for key, value in changes.items():
        if key == "tags":
            value = sorted(set(value))
        elif isinstance(value, str):
            value = value.strip()
        if getattr(order, key) != value:
            diff[key] = [getattr(order, key), value]
            setattr(order, key, value)
    return diff


def order_update(*, order: Order | str, changes: dict[str, Any], actor: Actor, reason: str = "") -> Order:
    """Change header fields and the ship-to address while the order's stage allows it
    (``edit_refusal``). The event records each field's before and after; a snapshot of the
    whole order is kept at the new version, as at a stage change."""
    changes = clean_header(order, changes)
    if not (actor.has_perm("orders.add_order") or actor.has_perm("orders.hold_order")):
        raise PermissionDenied("permission_denied", _("You may not change orders."))
    number = order if isinstance(order, str) else order.number
    with transaction.atomic():
        locked, lines = lock_order_with_lines(number)
        refusal = edit_refusal(locked)
        if refusal:
            raise DomainError("not_editable", refusal, status=409)
        diff: dict[str, Any] = apply_header(locked, changes)
        if not diff:
            raise DomainError("no_change", _("Nothing to change."), status=409)
        now = clock.now()
        locked.version += 1
        locked.updated_at = now
        diff["version"] = [locked.version - 1, locked.version]
        ev = next_event(locked, action=events.ORDER_UPDATED, actor=actor, now=now, changes=diff, reason=reason)
        write_order_change(locked, _UPDATE_FIELDS, event=ev, snapshot=make_snapshot(locked, lines, now))
        events.order_updated(order=locked, actor=actor, at=now, event=ev)
        return locked

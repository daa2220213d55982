"""Trips and resets: where a breaker's decision reaches the order.

A breaker's check records trips (``BreakerTrip`` rows, one per order and subject) and resets
(``reset_at``) set-based, without locking orders: the stock breaker runs inside a stock write
that holds stock rows, and an order lock taken there could deadlock with a move that holds the
order and waits for the stock. :func:`apply_pending` then, per order in its own transaction
(after the check's commit: :func:`apply_after_commit`), locks the order and:

* on a trip: pauses it with the one hold orders have (``Order.on_hold``, the reason prefixed
  ``熔断：``) unless it is already held by hand — the trip remembers whether the breaker holds
  it (``holds``) — appends ``order.breaker_tripped`` (published) and opens a ``breaker``
  ticket for the configured role (substitutes and their stock in its text for the stock breaker);
* on a reset: resolves the trip's ticket, appends ``order.breaker_reset`` and resumes the order
  only when a breaker put the hold there and no other active trip still holds it; a hold
  placed by hand is never released here.

Rows still pending after a crash are applied by the periodic job ``orders.breakers_apply``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from orderhub.catalog.models import Product
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError, NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.locking import lock_own_rows

from .. import events
from ..kitting import fmt_qty
from ..locks import lock_order
from ..models import Breaker, BreakerTrip, Order, Ticket
from ..services.common import next_event
from ..services.tickets import close_ticket, ticket_open
from ..shortages import MaterialShortage, add_substitutes
from ..store import write_order_change
from .config import breaker_config

log = logging.getLogger(__name__)

ACTOR = "circuit-breaker"
HOLD_PREFIX = "熔断："
TICKET_KIND = "breaker"
PENDING = Q(applied_at__isnull=True) | Q(reset_at__isnull=False, reset_applied_at__isnull=True)
BATCH = 200


@dataclass(frozen=True)
class Trip:
    order_id: int
    subject: str
    reason: str
    detail: dict[str, Any]


def system_actor() -> Actor:
    return Actor.system(ACTOR)


def record_trips(kind: str, trips: Iterable[Trip], *, now: datetime) -> set[int]:
    """Insert the trips not already active (one INSERT … ON CONFLICT DO NOTHING on the active
    unique index); the orders named."""
    rows = [BreakerTrip(kind=kind, order_id=t.order_id, subject=t.subject, reason=t.reason[:500],
                        detail=t.detail, tripped_at=now) for t in trips]
    if rows:
        BreakerTrip.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return {r.order_id for r in rows}


def record_resets(trip_ids: Iterable[int], *, now: datetime, by: str, reason: str) -> set[int]:
    """Mark active trips reset (the orders are resumed by :func:`apply_pending`); the orders named."""
    ids = list(trip_ids)
    if not ids:
        return set()
    qs = BreakerTrip.objects.filter(pk__in=ids, reset_at__isnull=True)
    orders = set(qs.values_list("order_id", flat=True))
    qs.update(reset_at=now, reset_by=by[:150], reset_reason=reason[:300])
    return orders


def apply_after_commit(order_ids: Iterable[int]) -> None:
    """Apply the orders' pending trips and resets once the current transaction commits."""
    ids = sorted(set(order_ids))
    if ids:
        transaction.on_commit(lambda: apply_pending(ids))


def apply_pending(order_ids: Iterable[int] | None = None, *, actor: Actor | None = None,
                  limit: int = BATCH) -> list[int]:
    """Apply pending trips and resets (of ``order_ids``, else every pending one up to ``limit``),
    each order in its own transaction; the orders changed. A failing order is logged and left
    pending for the periodic job."""
    if order_ids is None:
        order_ids = list(BreakerTrip.objects.filter(PENDING).order_by("order_id")
                         .values_list("order_id", flat=True).distinct()[:limit])
    who = actor or system_actor()
    done = []
    for oid in sorted(set(order_ids)):
        try:
            if apply_order(oid, actor=who):
                done.append(oid)
        except Exception:  # noqa: BLE001 — one order's failure must not stop the others; retried by the job
            log.exception("breaker: applying the trips of order %s failed", oid)
    return done


def apply_order(order_id: int, *, actor: Actor) -> bool:
    """Apply one order's pending trips and resets (see the module's docstring)."""
    number = Order.objects.filter(pk=order_id).values_list("number", flat=True).first()
    if number is None:
        return False
    with transaction.atomic():
        order = lock_order(number)
        trips = list(lock_own_rows(BreakerTrip.objects.filter(order_id=order_id).filter(PENDING)).order_by("pk"))
        if not trips:
            return False
        now = clock.now()
        changed = order.status == Order.Status.OPEN
        if not changed:  # a closed order: nothing to pause or resume
            for t in trips:
                if t.reset_at is None:
                    t.reset_at, t.reset_by, t.reset_reason = now, ACTOR, _("订单已关闭")
        else:
            tripped = [t for t in trips if t.applied_at is None and t.reset_at is None]
            if tripped:
                _pause(order, tripped, actor, now)
            released = [t for t in trips if t.reset_at is not None and t.applied_at is not None]
            if released:
                _release(number, released, actor, now)
        for t in trips:
            t.applied_at = t.applied_at or now
            if t.reset_at is not None:
                t.reset_applied_at = now
        BreakerTrip.objects.bulk_update(trips, ["applied_at", "reset_at", "reset_by", "reset_reason",
                                                "reset_applied_at", "holds", "ticket", "detail"])
        return changed


def _trip_data(trips: list[BreakerTrip]) -> list[dict[str, Any]]:
    return [{"kind": t.kind, "subject": t.subject, "reason": t.reason, "detail": t.detail} for t in trips]


def _pause(order: Order, tripped: list[BreakerTrip], actor: Actor, now: datetime) -> None:
    breaker_held = BreakerTrip.objects.filter(order_id=order.pk, reset_at__isnull=True, holds=True,
                                              applied_at__isnull=False).exists()
    reasons = "；".join(t.reason for t in tripped)
    changes: dict[str, list[Any]] = {}
    if not order.on_hold:
        before = order.hold_reason
        order.on_hold, order.hold_reason = True, (HOLD_PREFIX + reasons)[:300]
        order.version += 1
        order.updated_at = now
        changes = {"on_hold": [False, True], "hold_reason": [before, order.hold_reason],
                   "version": [order.version - 1, order.version]}
    holds = bool(changes) or breaker_held
    for t in tripped:
        t.holds = holds
    _offer_substitutes([t for t in tripped if t.kind == Breaker.Kind.STOCK])
    ev = next_event(order, action=events.ORDER_BREAKER_TRIPPED, actor=actor, now=now, changes=changes,
                    reason=reasons[:1000], data={"trips": _trip_data(tripped), "holds": holds})
    write_order_change(order, None, event=ev)
    events.order_breaker_tripped(order=order, actor=actor, at=now, event=ev)
    by_kind: dict[str, list[BreakerTrip]] = defaultdict(list)
    for t in tripped:
        by_kind[t.kind].append(t)
    for kind, ts in by_kind.items():
        cfg = breaker_config(kind)
        ticket = ticket_open(order=order.number, kind=TICKET_KIND, actor=actor, owner_role=cfg.ticket_role,
                             business_hours=cfg.ticket_hours, source="breaker",
                             title=_("%(breaker)s：订单 %(number)s 已暂停") % {
                                 "breaker": Breaker.Kind(kind).label, "number": order.number},
                             body="\n".join(_ticket_text(t) for t in ts), extra={"breaker": kind})
        for t in ts:
            t.ticket = ticket


def _offer_substitutes(trips: list[BreakerTrip]) -> None:
    """The stock breaker's offer: each short material's substitutes with their free stock."""
    if not trips:
        return
    products = Product.objects.in_bulk({int(t.subject.split(":")[1]) for t in trips})
    rows = {t.pk: MaterialShortage(products[int(t.subject.split(":")[1])], Decimal(str(t.detail.get("need", 0))),
                                   Decimal(str(t.detail.get("free", 0))), Decimal(0)) for t in trips}
    add_substitutes(list(rows.values()))
    for t in trips:
        t.detail = {**t.detail, "substitutes": [{**s, "available": str(s["available"]), "cost_diff": str(s["cost_diff"])}
                                                for s in rows[t.pk].substitutes]}


def _ticket_text(t: BreakerTrip) -> str:
    text = t.reason
    offers = [_("%(name)s（%(sku)s，可用 %(stock)s）") % {"name": s["name"], "sku": s["sku"],
                                                       "stock": fmt_qty(Decimal(s["available"]))}
              for s in t.detail.get("substitutes", [])]
    if offers:
        text += _("；可用替代料：%(offers)s") % {"offers": "、".join(offers)}
    if t.detail.get("alternative"):
        text += _("；建议改用承运商：%(carrier)s") % {"carrier": t.detail["alternative"]}
    return text


def _release(number: str, released: list[BreakerTrip], actor: Actor, now: datetime) -> None:
    order = lock_order(number)  # afresh: the trip's ticket moved the history's head
    still = list(BreakerTrip.objects.filter(order_id=order.pk, reset_at__isnull=True)
                 .values_list("ticket_id", "holds"))
    keep = {tid for tid, _h in still if tid is not None}
    resolution = "；".join(f"{t.reset_reason}" for t in released if t.reset_reason) or _("熔断已复位")
    for ticket in Ticket.objects.filter(pk__in={t.ticket_id for t in released if t.ticket_id is not None} - keep,
                                        status=Ticket.Status.OPEN).order_by("pk"):
        close_ticket(order, ticket, _("熔断复位：%(why)s") % {"why": resolution}, actor)
    changes: dict[str, list[Any]] = {}
    if order.on_hold and any(t.holds for t in released) and not any(h for _t, h in still):
        before = order.hold_reason
        order.on_hold, order.hold_reason = False, ""
        order.version += 1
        order.updated_at = now
        changes = {"on_hold": [True, False], "hold_reason": [before, ""],
                   "version": [order.version - 1, order.version]}
    ev = next_event(order, action=events.ORDER_BREAKER_RESET, actor=actor, now=now, changes=changes,
                    reason=resolution[:1000], data={"trips": _trip_data(released), "resumed": bool(changes)})
    write_order_change(order, None, event=ev)
    events.order_breaker_reset(order=order, actor=actor, at=now, event=ev)


def reset_kind(kind: str, *, actor: Actor, reason: str) -> list[int]:
    """Reset every active trip of ``kind`` (the breaker was switched off); the orders resumed."""
    ids = list(BreakerTrip.objects.filter(kind=kind, reset_at__isnull=True).values_list("pk", flat=True))
    orders = record_resets(ids, now=clock.now(), by=actor.label, reason=reason)
    return apply_pending(orders, actor=actor)


def breaker_reset(*, trip: BreakerTrip | int, actor: Actor, reason: str) -> BreakerTrip:
    """Reset a trip by hand (reason required, capability ``breakers.reset``). If the condition
    still holds, the breaker trips again at its next check."""
    if not actor.has_perm("orders.hold_order"):
        raise PermissionDenied("permission_denied", _("你无权复位熔断。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason_required", _("手动复位需要填写原因。"),
                               problems=[Problem("required", _("手动复位需要填写原因。"), field="reason")])
    pk = trip if isinstance(trip, int) else trip.pk
    number = BreakerTrip.objects.filter(pk=pk).values_list("order__number", flat=True).first()
    if number is None:
        raise NotFound("trip_not_found", _("没有这条熔断记录。"))
    with transaction.atomic():
        order = lock_order(number)
        row = lock_own_rows(BreakerTrip.objects.filter(pk=pk)).get()
        if row.reset_at is not None:
            raise DomainError("already_reset", _("这条熔断已经复位。"), status=409)
        row.reset_at, row.reset_by, row.reset_reason = clock.now(), actor.label[:150], reason[:300]
        row.save(update_fields=["reset_at", "reset_by", "reset_reason"])
        apply_order(order.pk, actor=actor)
        row.refresh_from_db()
        return row

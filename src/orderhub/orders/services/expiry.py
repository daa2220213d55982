"""Reservation expiry: holds whose ``expires_at`` has passed go back to stock (the periodic job
``orders.expire_reservations`` in ``orders.tasks``).

Each order is its own transaction: its expired holds are released (``inventory``), the guards
of the stage it is in are checked again against what it now holds (their reasons are kept on the
order, as a blocked move's are, so boards show them), and ``order.reservation_expired`` is
appended to its history and published, so notify tells the order's owner (or, without one, the
stage's owner role). Running it twice releases nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Product
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.inventory.services import orders_with_expired_holds, stock_release_expired
from orderhub.workflow.services import compiled

from .. import events
from ..kitting import fmt_qty
from ..locks import lock_order_with_lines
from ..models import Order
from ..store import write_order_change
from .common import next_event
from .stages import evaluate_guards

BATCH = 200
EXPIRY_ACTOR = "reservation-expiry"


def reservations_expire(*, now: datetime | None = None, limit: int = BATCH) -> list[str]:
    """Release every hold expired at ``now`` (default: the clock); the numbers of the orders
    touched."""
    now = now or clock.now()
    actor = Actor.system(EXPIRY_ACTOR)
    ids = orders_with_expired_holds(now=now, limit=limit)
    numbers = list(Order.objects.filter(pk__in=ids).order_by("pk").values_list("number", flat=True))
    done = []
    for number in numbers:
        if _expire_one(number, now=now, actor=actor):
            done.append(number)
    return done


def _expire_one(number: str, *, now: datetime, actor: Actor) -> bool:
    with transaction.atomic():
        order, lines = lock_order_with_lines(number)
        released = stock_release_expired(order_id=order.pk, actor=actor, now=now)
        if not released:
            return False
        reasons = []
        if order.status == Order.Status.OPEN:
            stage = compiled(order.workflow_id).stage(order.stage)
            reasons = [r.as_dict() for r in evaluate_guards(order, lines, stage)]
        before = order.blocked_reasons
        order.blocked_reasons = reasons
        order.version += 1
        order.updated_at = now
        changes: dict[str, list[Any]] = {"version": [order.version - 1, order.version]}
        if before != reasons:
            changes["blocked_reasons"] = [before, reasons]
        ev = next_event(order, action=events.ORDER_RESERVATION_EXPIRED, actor=actor, now=now, changes=changes,
                        data={"released": [{"product_id": r.product_id, "qty": str(r.qty),
                                            "expires_at": r.expires_at.isoformat() if r.expires_at else None}
                                           for r in released],
                              "reasons": reasons})
        write_order_change(order, ["blocked_reasons", "version", "updated_at", "audit_seq", "audit_head"],
                           event=ev)
        names = dict(Product.objects.filter(pk__in={r.product_id for r in released})
                     .values_list("pk", "name"))
        message = _("库存保留已到期，已释放：%(items)s。") % {"items": "、".join(
            f"{names.get(r.product_id, r.product_id)} {fmt_qty(r.qty)}" for r in released)}
        if reasons:
            message += _("当前环节的条件不再满足：%(reasons)s") % {
                "reasons": "；".join(str(r["message"]) for r in reasons)}
        events.reservation_expired(order=order, actor=actor, at=now, event=ev, message=message)
        return True

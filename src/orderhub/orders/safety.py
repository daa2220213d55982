"""Safety stock alerts (issue 18 item 4). When a stock write makes a material's free stock cross
below its safety stock (``inventory.safety`` records the crossing and calls :func:`on_crossings`,
registered in ``OrdersConfig.ready``), every not-yet-started order that needs the material,
directly or through its BOM, gets a :class:`SafetyFlag`: one INSERT … SELECT-like pair of
statements in the stock write's transaction, whatever the number of orders (no order row is
locked or rewritten there, so the stock write never waits on an order). Crossing back up deletes
the material's flags.

Not yet started: open, and holding no stock (its kitting has not reserved anything yet).

Boards show a flagged order red (an ``EXISTS`` on the flag's unique index, per card query); the
order page lists each flagged material with free stock, safety stock and the substitute offer
(``shortages.add_substitutes``: substitute, its stock, cost difference). The owner is told by
:func:`safety_notices_send` (the periodic job ``orders.safety_notices``): per order, in its own
transaction, ``order.safety_stock_low`` is appended to its history and published, and
``notify.subscribers`` sends it to the owner (else the stage's owner role).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from orderhub.catalog.models import BomItem, Product
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.inventory.models import Reservation, SafetyBreach
from orderhub.inventory.safety import Crossings
from orderhub.inventory.selectors import available_by_product

from . import events
from .kitting import bom_requirements, fmt_qty
from .locks import lock_order_with_lines
from .models import Order, OrderLine, SafetyFlag
from .services.common import next_event
from .shortages import MaterialShortage, add_substitutes
from .store import write_order_change

ZERO = Decimal(0)
NOTICE_ACTOR = "safety-stock"
BATCH = 200


def not_started() -> QuerySet[Order]:
    """Open orders holding no stock yet."""
    holding = Reservation.objects.filter(order_id=OuterRef("pk"), status=Reservation.Status.ACTIVE)
    return Order.objects.filter(status=Order.Status.OPEN).exclude(Exists(holding))


def _needers(product_ids: set[int]) -> dict[int, set[int]]:
    """{line product: the materials among ``product_ids`` it needs}: a product without a BOM
    needs itself, a BOM parent its components. One query."""
    bom = list(BomItem.objects.filter(Q(component_id__in=product_ids) | Q(parent_id__in=product_ids))
               .values_list("parent_id", "component_id"))
    with_bom = {parent for parent, _c in bom}
    out: dict[int, set[int]] = defaultdict(set)
    for pid in product_ids - with_bom:
        out[pid].add(pid)
    for parent, comp in bom:
        if comp in product_ids:
            out[parent].add(comp)
    return out


def flag_orders(product_ids: set[int], *, now: datetime | None = None) -> int:
    """Flag every not-yet-started order needing any of ``product_ids``; how many flags were made.
    Three queries whatever the number of orders (BOM, the orders' lines, the INSERT)."""
    needers = _needers(product_ids)
    if not needers:
        return 0
    holding = Reservation.objects.filter(order_id=OuterRef("order_id"), status=Reservation.Status.ACTIVE)
    pairs = set()
    rows = (OrderLine.objects.filter(product_id__in=needers, order__status=Order.Status.OPEN)
            .exclude(Exists(holding)).values_list("order_id", "product_id"))
    for order_id, line_product in rows:
        for material in needers[line_product]:
            pairs.add((order_id, material))
    if not pairs:
        return 0
    at = now or clock.now()
    SafetyFlag.objects.bulk_create([SafetyFlag(order_id=o, product_id=m, since=at) for o, m in pairs],
                                   ignore_conflicts=True, batch_size=5000)
    return len(pairs)


def on_crossings(crossings: Crossings) -> None:
    """The listener ``inventory.safety`` calls in the stock write's transaction."""
    if crossings.up:
        SafetyFlag.objects.filter(product_id__in=crossings.up).delete()
    if crossings.down:
        flag_orders(set(crossings.down))


@dataclass
class SafetyAlert:
    product: Product
    free: Decimal
    safety_stock: Decimal
    since: datetime
    needed: Decimal = ZERO
    orders: list[str] = field(default_factory=list)
    substitutes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        p = self.product
        return {"sku": p.sku, "name": p.name, "unit": p.unit, "free": self.free, "safety_stock": self.safety_stock,
                "since": self.since, "needed": self.needed, "orders": self.orders, "substitutes": self.substitutes}


def _alerts(breaches: list[SafetyBreach], needed: dict[int, Decimal]) -> list[SafetyAlert]:
    free = available_by_product(b.product_id for b in breaches)
    alerts = [SafetyAlert(b.product, free.get(b.product_id, ZERO), b.product.safety_stock, b.since,
                          needed.get(b.product_id, ZERO)) for b in breaches]
    # the substitute offer: what replaces the order's need (or the shortfall below safety stock)
    rows = [MaterialShortage(a.product, a.needed or a.safety_stock, a.free, ZERO) for a in alerts]
    add_substitutes(rows)
    for a, r in zip(alerts, rows, strict=True):
        a.substitutes = r.substitutes
    return alerts


def order_alerts(order: Order, lines: list[OrderLine] | None = None) -> list[SafetyAlert]:
    """The order's flagged materials: free and safety stock, its need, the substitute offer
    (none once it has started: it holds stock)."""
    pids = set(SafetyFlag.objects.filter(order=order).values_list("product_id", flat=True))
    if not pids or Reservation.objects.filter(order=order, status=Reservation.Status.ACTIVE).exists():
        return []
    if lines is None:
        lines = list(OrderLine.objects.filter(order=order).select_related("product"))
    needed: dict[int, Decimal] = defaultdict(Decimal)
    for r in bom_requirements(lines)[0]:
        if r.product_id in pids:
            needed[r.product_id] += r.qty
    breaches = list(SafetyBreach.objects.filter(product_id__in=pids).select_related("product")
                    .order_by("product__sku"))
    return _alerts(breaches, needed)


def safety_overview() -> list[SafetyAlert]:
    """Every material below safety stock with the not-yet-started orders flagged for it
    (numbers, required date first)."""
    breaches = list(SafetyBreach.objects.select_related("product").order_by("since", "product__sku"))
    alerts = _alerts(breaches, {})
    by_pid = {a.product.pk: a for a in alerts}
    for pid, number in (SafetyFlag.objects.filter(product_id__in=by_pid, order__in=not_started())
                        .order_by("order__required_date", "order__number")
                        .values_list("product_id", "order__number")):
        by_pid[pid].orders.append(number)
    return alerts


def safety_notices_send(*, limit: int = BATCH) -> list[str]:
    """Tell the owners of newly flagged orders (the periodic job); the numbers told."""
    ids = list(SafetyFlag.objects.filter(notified_at__isnull=True).order_by("order_id")
               .values_list("order_id", flat=True).distinct()[:limit])
    numbers = list(Order.objects.filter(pk__in=ids).order_by("pk").values_list("number", flat=True))
    actor = Actor.system(NOTICE_ACTOR)
    return [n for n in numbers if _notify_one(n, actor=actor)]


def _notify_one(number: str, *, actor: Actor) -> bool:
    with transaction.atomic():
        order, lines = lock_order_with_lines(number)
        now = clock.now()
        todo = SafetyFlag.objects.filter(order=order, notified_at__isnull=True)
        if not todo.exists():
            return False
        if order.status != Order.Status.OPEN:
            todo.update(notified_at=now)
            return False
        alerts = order_alerts(order, lines)
        todo.update(notified_at=now)
        if not alerts:
            return False
        message = "；".join(_alert_text(a) for a in alerts)
        ev = next_event(order, action=events.ORDER_SAFETY_STOCK_LOW, actor=actor, now=now,
                        data={"materials": [{"sku": a.product.sku, "free": str(a.free),
                                             "safety_stock": str(a.safety_stock)} for a in alerts]})
        # a notice, not a change: the order's updated_at (stalled orders, change stamps) stays
        write_order_change(order, ["audit_seq", "audit_head"], event=ev)
        events.safety_stock_low(order=order, actor=actor, at=now, event=ev, message=message)
        return True


def _alert_text(a: SafetyAlert) -> str:
    text = _("“%(name)s” has %(free)s %(unit)s free, below the safety stock of %(ss)s %(unit)s") % {
        "name": a.product.name, "free": fmt_qty(a.free), "ss": fmt_qty(a.safety_stock), "unit": a.product.unit}
    offers = [_("%(name)s (stock %(stock)s, cost difference per unit %(diff)s)") % {
        "name": s["name"], "stock": fmt_qty(s["available"]), "diff": s["cost_diff"]} for s in a.substitutes]
    if offers:
        text += _("; substitutes available: %(offers)s") % {"offers": "、".join(offers)}
    return text

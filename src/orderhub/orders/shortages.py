"""Shortage lists: per order, and overall for the open orders that hold no stock yet. Each short
component with what is free, what open POs bring (and when), what is still missing, MOQ, lead time,
and the substitutes with their stock and cost difference. A fixed number of queries whatever the
number of orders and lines (orders, lines, BOM, stock, POs, substitutes, their stock).

The purchaser's home shows the top 3 of the overall list (the earliest required date first, then
the largest quantity missing); the order page its own list with a button to raise a purchase
request for what is missing (``purchasing.services.request_raise``, source ``shortage``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from orderhub.catalog.models import Product, Substitute
from orderhub.core.actors import Actor
from orderhub.core.errors import ValidationFailed
from orderhub.inventory.models import Reservation
from orderhub.inventory.selectors import available_by_product, reserved_for_order
from orderhub.purchasing.models import PurchaseRequest
from orderhub.purchasing.selectors import Incoming, incoming_for_order
from orderhub.purchasing.services import request_raise

from .kitting import bom_requirements, day_label, fmt_qty
from .models import Order, OrderLine
from .selectors import get_order

ZERO = Decimal(0)


@dataclass
class MaterialShortage:
    product: Product
    needed: Decimal
    free: Decimal                     # free stock (plus what the order holds, per order)
    on_order: Decimal                 # open PO quantity counted
    incoming: list[Incoming] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    earliest: date | None = None      # the earliest required date of the orders that need it
    substitutes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def missing(self) -> Decimal:
        return max(ZERO, self.needed - self.free - self.on_order)

    @property
    def short_on_stock(self) -> Decimal:
        return max(ZERO, self.needed - self.free)

    def as_dict(self) -> dict[str, Any]:
        p = self.product
        return {"sku": p.sku, "name": p.name, "unit": p.unit, "needed": self.needed, "free": self.free,
                "on_order": self.on_order, "missing": self.missing, "moq": p.moq,
                "lead_time_days": p.lead_time_days, "orders": self.orders, "earliest": self.earliest,
                "purchase_orders": [{"po": i.po, "qty": i.qty, "expected_date": i.expected_date}
                                    for i in self.incoming],
                "substitutes": self.substitutes}

    @property
    def po_text(self) -> str:
        return "；".join(f"{i.po} {day_label(i.expected_date)} {fmt_qty(i.qty)}" for i in self.incoming)


def add_substitutes(rows: list[MaterialShortage]) -> None:
    """Each short material's substitutes: stock and cost difference per unit replaced."""
    by_pid = {r.product.pk: r for r in rows}
    subs = list(Substitute.objects.filter(product_id__in=by_pid).select_related("substitute")
                .order_by("priority", "pk"))
    free = available_by_product({s.substitute_id for s in subs}) if subs else {}
    for s in subs:
        row = by_pid[s.product_id]
        row.substitutes.append({
            "sku": s.substitute.sku, "name": s.substitute.name, "unit": s.substitute.unit,
            "available": free.get(s.substitute_id, ZERO), "note": s.note,
            "enough": free.get(s.substitute_id, ZERO) >= row.missing * s.ratio,
            "cost_diff": (s.substitute.list_price * s.ratio - row.product.list_price).quantize(Decimal("0.01"))})


def _collect(lines: list[OrderLine], held: dict[int, Decimal], order_id: int | None) -> list[MaterialShortage]:
    reqs, products = bom_requirements(lines)
    order_of = {ln.pk: ln.order for ln in lines}
    needed: dict[int, Decimal] = defaultdict(Decimal)
    orders: dict[int, dict[str, Order]] = defaultdict(dict)
    for r in reqs:
        needed[r.product_id] += r.qty
        if r.line_id is not None:
            o = order_of[r.line_id]
            orders[r.product_id][o.number] = o
    free = available_by_product(needed)
    short = [pid for pid, q in needed.items() if q > free.get(pid, ZERO) + held.get(pid, ZERO)]
    incoming = incoming_for_order(short, order_id=order_id, every_order=order_id is None)
    rows = []
    for pid in short:
        inc = incoming.get(pid, [])
        by_order = sorted(orders[pid].values(), key=lambda o: (o.required_date, o.number))
        rows.append(MaterialShortage(products[pid], needed[pid], free.get(pid, ZERO) + held.get(pid, ZERO),
                                     sum((i.qty for i in inc), ZERO), inc, [o.number for o in by_order],
                                     by_order[0].required_date if by_order else None))
    add_substitutes(rows)
    return sorted(rows, key=lambda r: (r.missing == 0, r.earliest or date.max, -r.missing, r.product.sku))


def order_shortages(order: Order, lines: list[OrderLine] | None = None) -> list[MaterialShortage]:
    """The order's components short on stock (counting what it holds), with the POs it may count on."""
    if lines is None:
        lines = list(OrderLine.objects.filter(order=order).select_related("product", "order"))
    for ln in lines:
        ln.order = order
    return _collect(lines, reserved_for_order(order.pk), order.pk)


def shortage_overview(*, limit: int | None = None) -> list[MaterialShortage]:
    """Materials the open orders that hold no stock yet need beyond free stock, all POs counted;
    those POs do not make up first (earliest required date, then most missing)."""
    holding = Reservation.objects.filter(status=Reservation.Status.ACTIVE).values("order_id")
    lines = list(OrderLine.objects.filter(order__status=Order.Status.OPEN, order__on_hold=False)
                 .exclude(order_id__in=holding).select_related("product", "order"))
    rows = _collect(lines, {}, None)
    return rows[:limit] if limit else rows


def raise_for_shortage(*, actor: Actor, number: str, sku: str, qty: Decimal | None = None,
                       needed_by: date | None = None, reason: str = "") -> PurchaseRequest:
    """A purchase request (source: shortage) for what order ``number`` is missing of ``sku``."""
    order = get_order(number, actor=actor)
    row = next((r for r in order_shortages(order) if r.product.sku == sku), None)
    if row is None:
        raise ValidationFailed("not_short", _("Order %(n)s is not short of “%(sku)s”.") % {"n": number, "sku": sku})
    amount = qty or max(row.missing or row.short_on_stock, row.product.moq)
    return request_raise(actor=actor, product_id=row.product.pk, qty=amount, order_id=order.pk,
                         needed_by=needed_by or order.promised_date or order.required_date,
                         source=PurchaseRequest.Source.SHORTAGE,
                         reason=reason or _("Order %(n)s is short of materials") % {"n": number})

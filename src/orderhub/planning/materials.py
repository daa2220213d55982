"""When an order's materials are there: stock on hand, what it already holds, and open purchase
orders by their expected date (kitting by date, as ``orders.kitting`` counts them), for any
number of orders in a fixed number of queries (lines, BOMs, holds, free stock, PO lines, what
the PO lines serve).

Each order is looked at on its own (as the kitting guard does): free stock (on hand − reserved,
every warehouse) plus its own holds. A short material is ready on the expected date of the PO
line that completes it (a line counts for an order with what it serves for that order plus what
it serves for no order); one no PO makes up is ready after its lead time and is *uncovered* (a
delivery risk).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import pgettext

from orderhub.catalog.models import BomItem, Product
from orderhub.inventory.models import Reservation
from orderhub.inventory.selectors import available_by_product
from orderhub.orders.models import OrderLine
from orderhub.purchasing.models import LineOrder, PurchaseOrder, PurchaseOrderLine

ZERO = Decimal(0)


def names_list(names: Iterable[str]) -> str:
    """Material names run together as a sentence lists them (、 in Chinese)."""
    return pgettext("list separator", ", ").join(names)


@dataclass
class Materials:
    ready: date
    uncovered: list[str] = field(default_factory=list)     # material names no PO makes up
    waiting_for: list[str] = field(default_factory=list)   # PO numbers the date waits for


@dataclass(frozen=True)
class _PoLine:
    pk: int
    number: str
    product_id: int
    open_qty: Decimal
    unallotted: Decimal
    expected: date


def requirements(order_ids: Iterable[int]) -> dict[int, dict[int, Decimal]]:
    """{order: {component: base quantity}}: the BOM exploded (a product without a BOM stands for
    itself). Two queries."""
    lines = list(OrderLine.objects.filter(order_id__in=set(order_ids))
                 .values_list("order_id", "product_id", "base_qty"))
    boms: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for parent, comp, per in BomItem.objects.filter(parent_id__in={p for _, p, _ in lines}).values_list(
            "parent_id", "component_id", "qty_per_unit"):
        boms[parent].append((comp, per))
    out: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for oid, pid, qty in lines:
        for comp, per in boms.get(pid) or [(pid, Decimal(1))]:
            out[oid][comp] += qty * per
    return out


def _po_lines(product_ids: set[int]) -> tuple[dict[int, list[_PoLine]], dict[tuple[int, int], Decimal]]:
    rows = list(PurchaseOrderLine.objects
                .filter(product_id__in=product_ids, purchase_order__status=PurchaseOrder.Status.OPEN)
                .values_list("pk", "purchase_order__number", "product_id", "qty", "received", "expected_date")
                .order_by("expected_date", "pk"))
    serves: dict[tuple[int, int], Decimal] = {}
    allotted: dict[int, Decimal] = defaultdict(Decimal)
    for line_id, order_id, qty in LineOrder.objects.filter(line_id__in=[r[0] for r in rows]).values_list(
            "line_id", "order_id", "qty"):
        serves[(line_id, order_id)] = qty
        allotted[line_id] += qty
    out: dict[int, list[_PoLine]] = defaultdict(list)
    for pk, number, pid, qty, received, expected in rows:
        if qty - received > 0:
            out[pid].append(_PoLine(pk, number, pid, qty - received, max(ZERO, qty - allotted[pk]), expected))
    return out, serves


def materials_dates(order_ids: Iterable[int], *, today: date) -> dict[int, Materials]:
    """{order: when its materials are there}. Six queries whatever the number of orders."""
    ids = set(order_ids)
    needs = requirements(ids)
    comps = {c for need in needs.values() for c in need}
    held: dict[tuple[int, int], Decimal] = {
        (o, p): q for o, p, q in Reservation.objects.filter(order_id__in=ids, status=Reservation.Status.ACTIVE)
        .values("order_id", "product_id").annotate(q=Sum("qty")).values_list("order_id", "product_id", "q")}
    free = available_by_product(comps)
    short_any = {c for oid, need in needs.items() for c, q in need.items()
                 if q > free.get(c, ZERO) + held.get((oid, c), ZERO)}
    incoming, serves = _po_lines(short_any) if short_any else ({}, {})
    products = dict(Product.objects.filter(pk__in=short_any).values_list("pk", "lead_time_days")) if short_any else {}
    names = dict(Product.objects.filter(pk__in=short_any).values_list("pk", "name")) if short_any else {}
    out: dict[int, Materials] = {}
    for oid in ids:
        m = Materials(today)
        for comp, qty in needs.get(oid, {}).items():
            miss = qty - free.get(comp, ZERO) - held.get((oid, comp), ZERO)
            if miss <= 0:
                continue
            for line in incoming.get(comp, []):
                miss -= min(line.open_qty, serves.get((line.pk, oid), ZERO) + line.unallotted)
                if line.number not in m.waiting_for:
                    m.waiting_for.append(line.number)
                m.ready = max(m.ready, line.expected)
                if miss <= 0:
                    break
            if miss > 0:
                m.uncovered.append(names.get(comp, str(comp)))
                m.ready = max(m.ready, today + timedelta(days=products.get(comp, 0)))
        out[oid] = m
    return out

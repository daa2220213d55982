"""Purchasing reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from .models import PurchaseOrder, PurchaseOrderLine, PurchaseRequest, Supplier

ZERO = Decimal("0")


@dataclass(frozen=True)
class Incoming:
    """What an open PO line still brings of a material, as far as one order may count on it."""

    po: str
    line_no: int
    product_id: int
    qty: Decimal                # open quantity this order may count on
    expected_date: date


def incoming_for_order(product_ids: Iterable[int], *, order_id: int | None,
                       every_order: bool = False) -> dict[int, list[Incoming]]:
    """Open PO lines of ``product_ids``, earliest first, each with the open quantity ``order_id``
    may count on: what the line serves for that order plus what it serves for no order (never
    more than is still open); ``every_order``: the whole open quantity (the overall shortage
    list). One query whatever the number of materials."""
    ids = set(product_ids)
    if not ids:
        return {}
    mine = Q(serves__order_id=order_id) if order_id else Q(pk__in=[])
    rows = (PurchaseOrderLine.objects
            .filter(product_id__in=ids, purchase_order__status=PurchaseOrder.Status.OPEN)
            .values("pk", "purchase_order__number", "line_no", "product_id", "qty", "received", "expected_date")
            .annotate(mine=Coalesce(Sum("serves__qty", filter=mine), ZERO),
                      allotted=Coalesce(Sum("serves__qty"), ZERO))
            .order_by("expected_date", "pk"))
    out: dict[int, list[Incoming]] = defaultdict(list)
    for r in rows:
        open_qty = r["qty"] - r["received"]
        free = max(ZERO, r["qty"] - r["allotted"])
        usable = open_qty if every_order else min(open_qty, r["mine"] + free)
        if usable > 0:
            out[r["product_id"]].append(Incoming(r["purchase_order__number"], r["line_no"], r["product_id"],
                                                 usable, r["expected_date"]))
    return out


def purchase_orders(*, status: str = "") -> QuerySet[PurchaseOrder]:
    qs = PurchaseOrder.objects.select_related("supplier", "warehouse")
    return qs.filter(status=status) if status else qs


def purchase_order(number: str) -> PurchaseOrder | None:
    return PurchaseOrder.objects.select_related("supplier", "warehouse").filter(number=number).first()


def po_lines(po: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(PurchaseOrderLine.objects.filter(purchase_order=po).select_related("product")
                .prefetch_related("serves__order").order_by("line_no"))


def purchase_requests(*, status: str = "") -> QuerySet[PurchaseRequest]:
    qs = PurchaseRequest.objects.select_related("product", "supplier", "order", "purchase_order")
    return qs.filter(status=status) if status else qs


def suppliers() -> QuerySet[Supplier]:
    return Supplier.objects.filter(is_active=True).prefetch_related("items__product")



@dataclass(frozen=True)
class Todo:
    due: date
    kind: str            # "order" (place a PO for an approved request), "approve", "chase" (PO line due)
    text: str
    number: str          # the request or PO it is about


def purchasing_todo(*, may_order: bool, may_approve: bool, limit: int = 20) -> list[Todo]:
    """What purchasing has to do, soonest first: approved requests to order (by needed-by date),
    pending requests to approve, open PO lines to chase or receive (by expected date)."""
    out: list[Todo] = []
    if may_order:
        for pr in PurchaseRequest.objects.filter(status=PurchaseRequest.Status.APPROVED).select_related("product")[:limit]:
            out.append(Todo(pr.needed_by or pr.raised_at.date(), "order",
                            f"{pr.product.name} × {pr.qty.normalize():f} {pr.product.unit}", pr.number))
    if may_approve:
        for pr in PurchaseRequest.objects.filter(status=PurchaseRequest.Status.PENDING).select_related("product")[:limit]:
            out.append(Todo(pr.needed_by or pr.raised_at.date(), "approve",
                            f"{pr.product.name} × {pr.qty.normalize():f} {pr.product.unit}", pr.number))
    if may_order:
        lines = (PurchaseOrderLine.objects.filter(purchase_order__status=PurchaseOrder.Status.OPEN,
                                                  received__lt=F("qty"))
                 .select_related("product", "purchase_order").order_by("expected_date")[:limit])
        for ln in lines:
            out.append(Todo(ln.expected_date, "chase",
                            f"{ln.product.name} {(ln.qty - ln.received).normalize():f} {ln.product.unit}",
                            ln.purchase_order.number))
    return sorted(out, key=lambda t: (t.due, t.number))[:limit]

"""Reads of shipments, always within the orders the actor may see (``orders.selectors.visible``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.core.errors import NotFound
from orderhub.orders.models import Order, OrderLine
from orderhub.orders.selectors import get_order, visible

from .models import Shipment, ShipmentLine

ZERO = Decimal("0")


def shipments(actor: Actor, *, status: str | None = None) -> QuerySet[Shipment]:
    qs = visible(Shipment.objects.select_related("order", "order__customer"), actor, via="order__")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def get_shipment(number: str, *, actor: Actor) -> Shipment:
    sh = shipments(actor).filter(number=number).first()
    if sh is None:
        raise NotFound("shipment_not_found", _("Shipment %(n)s does not exist.") % {"n": number})
    return sh


def shipment_lines(sh: Shipment) -> list[ShipmentLine]:
    return list(sh.lines.select_related("order_line__product").order_by("order_line__line_no"))


def line_progress(order: Order, lines: list[OrderLine] | None = None) -> list[dict[str, Any]]:
    """Each order line with what is planned, shipped and still open (the backorder); ``lines``:
    the order's lines with their products when the caller has them already (the order page)."""
    planned: dict[int, Decimal] = {}
    shipped: dict[int, Decimal] = {}
    for lid, status, qty in ShipmentLine.objects.filter(shipment__order=order).values_list(
            "order_line_id", "shipment__status", "qty"):
        into = shipped if status == Shipment.Status.SHIPPED else planned
        into[lid] = into.get(lid, ZERO) + qty
    out = []
    if lines is None:
        lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("line_no"))
    for ln in lines:
        p, s = planned.get(ln.pk, ZERO), shipped.get(ln.pk, ZERO)
        out.append({"line_no": ln.line_no, "sku": ln.product.sku, "name": ln.product.name,
                    "unit": ln.unit, "qty": ln.qty, "planned": p, "shipped": s,
                    "open": ln.qty - p - s})
    return out


def invoice_refusal(sh: Shipment) -> str:
    """Why an invoice may not be issued for ``sh`` yet ("" when it may): it must be shipped,
    with its proof of delivery and the customer's acceptance (the finance gate of issue 19)."""
    missing = []
    if sh.status != Shipment.Status.SHIPPED:
        missing.append(_("not shipped yet"))
    if not sh.pod_sha256:
        missing.append(_("no proof of delivery"))
    if sh.accepted_at is None:
        missing.append(_("no customer acceptance"))
    return _("Shipment %(n)s cannot be invoiced: %(why)s.") % {"n": sh.number, "why": "、".join(missing)} if missing else ""


def shipment_dict(sh: Shipment, lines: list[ShipmentLine] | None = None) -> dict[str, Any]:
    rows = lines if lines is not None else shipment_lines(sh)
    return {
        "number": sh.number, "order": sh.order.number, "status": sh.status,
        "carrier": sh.carrier, "waybill": sh.waybill, "packages": sh.packages,
        "weight_kg": sh.weight_kg, "ship_to_contact": sh.ship_to_contact,
        "ship_to_phone": sh.ship_to_phone, "ship_to_address": sh.ship_to_address,
        "remarks": sh.remarks, "created_at": sh.created_at, "created_by": sh.created_by,
        "notice_at": sh.notice_at, "shipped_at": sh.shipped_at, "shipped_by": sh.shipped_by,
        "pod_name": sh.pod_name, "pod_at": sh.pod_at, "accepted_at": sh.accepted_at,
        "accepted_by": sh.accepted_by, "acceptance_note": sh.acceptance_note,
        "invoice_refusal": invoice_refusal(sh),
        "lines": [{"line_no": r.order_line.line_no, "sku": r.order_line.product.sku,
                   "name": r.order_line.product.name, "unit": r.order_line.unit, "qty": r.qty}
                  for r in rows],
    }


def order_shipments(number: str, *, actor: Actor) -> tuple[Order, list[Shipment]]:
    order = get_order(number, actor=actor)
    return order, list(Shipment.objects.filter(order=order).select_related("order")
                       .prefetch_related("lines__order_line__product").order_by("seq"))


def customer_shipments(order: Order) -> list[dict[str, Any]]:
    """What the customer sees of ``order``'s shipments (the portal): number, state, carrier and
    waybill, packages, when it left and was delivered, quantities per line; never who handled
    it or internal remarks. Two queries."""
    rows = list(Shipment.objects.filter(order_id=order.pk).order_by("seq"))
    lines: dict[int, list[dict[str, Any]]] = {}
    for sid, line_no, name, unit, qty in (ShipmentLine.objects.filter(shipment__order_id=order.pk)
                                          .order_by("order_line__line_no")
                                          .values_list("shipment_id", "order_line__line_no",
                                                       "order_line__product__name", "order_line__unit", "qty")):
        lines.setdefault(sid, []).append({"line_no": line_no, "product": name, "unit": unit,
                                          "qty": qty.normalize()})
    return [{"number": sh.number, "status": sh.status, "status_label": sh.get_status_display(),
             "shipped": sh.status == Shipment.Status.SHIPPED, "carrier": sh.carrier, "waybill": sh.waybill,
             "packages": sh.packages, "shipped_at": sh.shipped_at, "delivered_at": sh.pod_at or sh.accepted_at,
             "lines": lines.get(sh.pk, [])} for sh in rows]


def customer_shipment(order: Order, number: str) -> Shipment:
    """Shipment ``number`` of ``order`` once it has left (its documents are the customer's);
    NotFound otherwise, as for one that does not exist."""
    sh = (Shipment.objects.filter(order_id=order.pk, number=number, status=Shipment.Status.SHIPPED)
          .select_related("order").first())
    if sh is None:
        raise NotFound("not_found", _("No such shipment."))
    return sh

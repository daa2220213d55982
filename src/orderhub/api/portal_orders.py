"""The portal customer's ordering API (mounted at /api/portal beside ``portal.api``; here, above
portal and intake, because placing an order goes through intake's quick-order path, which the
portal app may not import): place an order with drawings, reorder an earlier order, ask for a
change of an order. Cookie of the signed-in contact only; every order within its customer."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from orderhub.core.downloads import download_response
from orderhub.core.errors import Problem, ValidationFailed
from orderhub.core.http.schemas import ERRORS, BizDate, Line, Text
from orderhub.intake.models import InboundMessage, InboundOrder
from orderhub.intake.services import portal_order_submit
from orderhub.portal import ordering
from orderhub.portal import selectors as portal_selectors
from orderhub.portal.api import CUSTOMER, _ctx, _me
from orderhub.shipping import documents
from orderhub.shipping import selectors as shipping_selectors

router = Router(tags=["portal"])


class PortalLineIn(Schema):
    sku: Line = Field(description="product code (or the customer's alias of it)")
    qty: str = Field(description="quantity in the product's unit, above zero")


class PortalFileIn(Schema):
    name: Line
    content_type: Line = ""
    base64: str = Field(description="the file's bytes, base64 (at most 20 MB)")


class PortalOrderIn(Schema):
    lines: list[PortalLineIn]
    due_date: BizDate
    remark: Text = ""
    files: list[PortalFileIn] = Field(default_factory=list, description="drawings, at most 5")


class ReorderIn(Schema):
    due_date: BizDate
    remark: Text = ""


class PlacedOut(Schema):
    message: int = Field(description="the intake message the order was stored as (raw first)")
    status: str = Field(description="parsed: a new order; duplicate: the same order sent again today; failed")
    order: str | None = Field(description="the order's number (null when it failed)")


class PortalChangeIn(Schema):
    reason: Text
    required_date: date | None = None
    quantities: dict[int, str] = Field(default_factory=dict, description="line number → new quantity")


class PortalChangeOut(Schema):
    id: int
    status: str
    requested_at: datetime


class PortalShipmentLineOut(Schema):
    line_no: int
    product: str
    unit: str
    qty: str


class PortalShipmentOut(Schema):
    number: str
    status: str = Field(description="planned (待发货) or shipped (已发货)")
    status_label: str
    carrier: str
    waybill: str
    packages: int | None
    shipped_at: datetime | None
    delivered_at: datetime | None = Field(description="proof of delivery or acceptance recorded")
    lines: list[PortalShipmentLineOut]


def _files(files: list[PortalFileIn]) -> list[tuple[str, bytes, str]]:
    out = []
    for i, f in enumerate(files[:ordering.MAX_FILES + 1]):
        try:
            content = base64.b64decode(f.base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed("invalid", _("A file is not valid base64."),
                                   problems=[Problem("invalid", _("A file is not valid base64."),
                                                     field=f"files[{i}].base64")]) from None
        out.append((f.name[:200], content, f.content_type))
    ordering.check_files(out)
    return out


def _place(request: HttpRequest, lines: list[tuple[str, Any]], due: date, remark: str,
           files: list[tuple[str, bytes, str]], reorder_of: str = "") -> Status:
    contact = _me(request)
    msg = portal_order_submit(customer=contact.customer.code, contact_id=contact.pk,
                              contact_label=f"{contact.name} ({contact.customer.code})", due_date=due, lines=lines,
                              remark=remark, files=files, reorder_of=reorder_of, context=_ctx(request))
    number = InboundOrder.objects.filter(message=msg).values_list("order__number", flat=True).first()
    ordering.order_placed_record(contact=contact, message_id=msg.pk, order=number, reorder_of=reorder_of,
                                 files=len(files), context=_ctx(request))
    return Status(201 if msg.status == InboundMessage.Status.PARSED else 200,
                  {"message": msg.pk, "status": msg.status, "order": number})


@router.post("/me/new-orders", auth=CUSTOMER, response={201: PlacedOut, 200: PlacedOut, **ERRORS})
def place_order(request: HttpRequest, payload: PortalOrderIn) -> Status:
    """Place an order: products and quantities, the date needed, a remark and drawings (base64).
    Stored raw first through the quick-order intake path; the same order sent twice on one day
    is one order (200, status duplicate)."""
    return _place(request, [(ln.sku, ln.qty) for ln in payload.lines], payload.due_date, payload.remark,
                  _files(payload.files))


@router.post("/me/orders/{number}/reorder", auth=CUSTOMER, response={201: PlacedOut, 200: PlacedOut, **ERRORS})
def reorder(request: HttpRequest, number: str, payload: ReorderIn) -> Status:
    """Order again what one of your orders held (its products and quantities), for a new date."""
    rows = ordering.reorder_lines(_me(request), number)
    return _place(request, [(r["sku"], r["qty"]) for r in rows], payload.due_date, payload.remark, [],
                  reorder_of=number)


@router.post("/me/orders/{number}/change-requests", auth=CUSTOMER, response={201: PortalChangeOut, **ERRORS})
def ask_change(request: HttpRequest, number: str, payload: PortalChangeIn) -> Status:
    """Ask for a change of one of your orders (new date, quantities by line, why). It enters the
    staff's approval flow; 409 when the order's stage allows no change."""
    r = ordering.change_request_raise_for(contact=_me(request), number=number, reason=payload.reason,
                                          required_date=payload.required_date, quantities=payload.quantities,
                                          context=_ctx(request))
    return Status(201, {"id": r.pk, "status": r.status, "requested_at": r.requested_at})


@router.get("/me/orders/{number}/shipments", auth=CUSTOMER, response={200: list[PortalShipmentOut], **ERRORS})
def my_shipments(request: HttpRequest, number: str) -> list[dict[str, Any]]:
    """The shipments of one of your orders: state, carrier and waybill, when it left and was
    delivered, quantities per line (another customer's order: 404)."""
    order = portal_selectors.my_order(_me(request), number)
    return [{**sh, "lines": [{**ln, "qty": str(ln["qty"])} for ln in sh["lines"]]}
            for sh in shipping_selectors.customer_shipments(order)]


@router.get("/me/orders/{number}/confirmation", auth=CUSTOMER, response={200: None, **ERRORS})
def my_confirmation(request: HttpRequest, number: str) -> HttpResponseBase:
    """The order confirmation of one of your orders, as a PDF download."""
    order = portal_selectors.my_order(_me(request), number)
    return download_response(documents.order_pdf(order, "confirmation"),
                             filename=documents.filename("confirmation", order.number), fallback="document.pdf",
                             content_type="application/pdf")


@router.get("/me/orders/{number}/shipments/{shipment}/{kind}", auth=CUSTOMER, response={200: None, **ERRORS})
def my_shipment_document(request: HttpRequest, number: str, shipment: str,
                         kind: Literal["delivery-note", "packing-list"]) -> HttpResponseBase:
    """The delivery note or packing list of a shipment of one of your orders that has left, as
    a PDF download (a shipment not yet shipped, or another customer's: 404)."""
    order = portal_selectors.my_order(_me(request), number)
    sh = shipping_selectors.customer_shipment(order, shipment)
    return download_response(documents.shipment_pdf(sh, kind), filename=documents.filename(kind, sh.number),
                             fallback="document.pdf", content_type="application/pdf")

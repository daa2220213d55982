"""Shipping API: /api/orders/{number}/shipments (an order's shipments and what is still open;
create one) and /api/shipping/... (every shipment, one, mark it shipped, print documents)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile

from orderhub.core.downloads import download_response
from orderhub.core.errors import NotFound, Problem, ValidationFailed
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS
from orderhub.orders.schemas import OrderNumber
from orderhub.orders.selectors import get_order

from . import documents, selectors, services
from .doc_templates import DEFAULTS
from .models import DocumentTemplate, Letterhead
from .schemas import (
    AcceptanceIn,
    DocumentKind,
    LetterheadIn,
    LetterheadOut,
    OrderDocument,
    OrderShipmentsOut,
    ShipIn,
    ShipmentDocument,
    ShipmentIn,
    ShipmentNumber,
    ShipmentOut,
    ShipmentPage,
    ShipmentStatus,
    TemplateIn,
    TemplateOut,
)

router = Router(tags=["shipping"])          # mounted at /shipping
order_router = Router(tags=["shipping"])    # mounted at /orders


@order_router.get("/{number}/shipments", auth=requires("shipping.view"),
                  response={200: OrderShipmentsOut, **ERRORS})
def order_shipments(request: ActorRequest, number: OrderNumber) -> dict[str, Any]:
    """The order's shipments and, per line, what is planned, shipped and still open."""
    order, found = selectors.order_shipments(number, actor=request.actor)
    return {"order": order.number, "lines": selectors.line_progress(order),
            "shipments": [selectors.shipment_dict(s, list(s.lines.all())) for s in found]}


@order_router.post("/{number}/shipments", auth=requires("shipping.ship"),
                   response={201: ShipmentOut, **ERRORS})
def create_shipment(request: ActorRequest, number: OrderNumber, payload: ShipmentIn) -> Status:
    """Plan a shipment of some quantities of the order's lines; the rest stays open. The ship-to
    is copied from the order; the customer's e-mail gets a shipping notice (`notice_at`).
    409 `over_shipped`: more than ordered less what other shipments take (each line named in
    `errors[].field`, with `data.remaining`)."""
    qty: dict[int, Any] = {}
    for ln in payload.lines:
        qty[ln.line_no] = qty.get(ln.line_no, 0) + ln.qty
    sh = services.shipment_create(order=number, actor=request.actor, data=services.ShipmentInput(
        quantities=qty, carrier=payload.carrier, waybill=payload.waybill, packages=payload.packages,
        weight_kg=payload.weight_kg, remarks=payload.remarks))
    return Status(201, selectors.shipment_dict(sh))


@router.get("/shipments", auth=requires("shipping.view"), response={200: ShipmentPage, **ERRORS})
def list_shipments(request: ActorRequest, status: ShipmentStatus | None = None,
                   page: int = Query(1, ge=1, le=1_000_000),
                   page_size: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Shipments of the orders the caller sees, newest first."""
    qs = selectors.shipments(request.actor, status=status).prefetch_related("lines__order_line__product")
    start = (page - 1) * page_size
    items = [selectors.shipment_dict(s, list(s.lines.all())) for s in qs[start:start + page_size]]
    return {"count": qs.count(), "page": page, "page_size": page_size, "items": items}


@router.get("/shipments/{number}", auth=requires("shipping.view"), response={200: ShipmentOut, **ERRORS})
def get_shipment(request: ActorRequest, number: ShipmentNumber) -> dict[str, Any]:
    return selectors.shipment_dict(selectors.get_shipment(number, actor=request.actor))


@router.post("/shipments/{number}/ship", auth=requires("shipping.ship"),
             response={200: ShipmentOut, **ERRORS})
def ship(request: ActorRequest, number: ShipmentNumber, payload: ShipIn) -> dict[str, Any]:
    """The shipment leaves: stock consumed (the lines' reservations first, then free stock).
    409 `already_shipped`, `stock_short`."""
    sh = services.shipment_ship(shipment=number, actor=request.actor, carrier=payload.carrier,
                                waybill=payload.waybill)
    return selectors.shipment_dict(sh)


# --------------------------------------------------------------------------- documents

PDF = "application/pdf"


def _pdf(content: bytes, name: str) -> HttpResponseBase:
    return download_response(content, filename=name, fallback="document.pdf", content_type=PDF)


@order_router.get("/{number}/documents/{kind}", auth=requires("documents.print"),
                  response={200: None, **ERRORS})
def order_document(request: ActorRequest, number: OrderNumber, kind: OrderDocument) -> HttpResponseBase:
    """The order confirmation (`confirmation`) or quotation (`quotation`) as a PDF download,
    with the letterhead and a QR code linking to the order. 409 `template_error`: the admin's
    template is broken (the message says where)."""
    order = get_order(number, actor=request.actor)
    return _pdf(documents.order_pdf(order, kind), documents.filename(kind, order.number))


@router.get("/shipments/{number}/documents/{kind}", auth=requires("documents.print"),
            response={200: None, **ERRORS})
def shipment_document(request: ActorRequest, number: ShipmentNumber,
                      kind: ShipmentDocument) -> HttpResponseBase:
    """The delivery note (`delivery-note`) or packing list (`packing-list`) as a PDF download."""
    sh = selectors.get_shipment(number, actor=request.actor)
    return _pdf(documents.shipment_pdf(sh, kind), documents.filename(kind, sh.number))


def _letterhead_out() -> dict[str, Any]:
    lh = Letterhead.objects.first()
    return {"name": lh.name if lh else "", "address": lh.address if lh else "",
            "phone": lh.phone if lh else "", "has_logo": bool(lh and lh.logo)}


@router.get("/letterhead", auth=requires("documents.manage"), response={200: LetterheadOut, **ERRORS})
def get_letterhead(request: ActorRequest) -> dict[str, Any]:
    return _letterhead_out()


@router.put("/letterhead", auth=requires("documents.manage"), response={200: LetterheadOut, **ERRORS})
def put_letterhead(request: ActorRequest, payload: LetterheadIn) -> dict[str, Any]:
    """The company name, address, phone and logo (`logo_base64`: PNG or JPEG, at most 1 MB) on
    every printed document."""
    logo = None
    if payload.logo_base64:
        try:
            logo = base64.b64decode(payload.logo_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed("logo_type", _("The logo must be a base64-encoded PNG or JPEG image."), problems=[
                Problem("logo_type", _("The logo must be a base64-encoded PNG or JPEG image."), field="logo_base64")]) from None
    services.letterhead_save(actor=request.actor, name=payload.name, address=payload.address,
                             phone=payload.phone, logo=logo, remove_logo=payload.remove_logo)
    return _letterhead_out()


@router.get("/templates/{kind}", auth=requires("documents.manage"), response={200: TemplateOut, **ERRORS})
def get_template(request: ActorRequest, kind: DocumentKind) -> dict[str, Any]:
    """A document's body template (a Django template over `company`, `doc`, `order`, `lines`,
    `totals` and `shipment`) and whether it is the shipped one."""
    row = DocumentTemplate.objects.filter(kind=kind).first()
    return {"kind": kind, "body": row.body if row else DEFAULTS[kind], "custom": row is not None}


@router.put("/templates/{kind}", auth=requires("documents.manage"), response={200: TemplateOut, **ERRORS})
def put_template(request: ActorRequest, kind: DocumentKind, payload: TemplateIn) -> dict[str, Any]:
    """Replace the body (checked: 422 `template_error` with the line and the fault, in Chinese),
    or `body: null` to go back to the shipped one."""
    services.document_template_save(kind=kind, body=payload.body, actor=request.actor)
    return get_template(request, kind)


# --------------------------------------------------------------------------- proof of delivery


@router.post("/shipments/{number}/pod", auth=requires("shipping.ship"), response={200: ShipmentOut, **ERRORS})
def upload_pod(request: ActorRequest, number: ShipmentNumber, file: File[UploadedFile]) -> dict[str, Any]:
    """Keep the proof of delivery (a photo or the signed delivery note, scanned; at most 20 MB)
    with a shipped shipment (multipart field `file`). 409 `not_shipped`."""
    selectors.get_shipment(number, actor=request.actor)
    sh = services.shipment_pod(shipment=number, name=file.name or "pod", content=file.read(), actor=request.actor)
    return selectors.shipment_dict(sh)


@router.get("/shipments/{number}/pod", auth=requires("shipping.view"), response={200: None, **ERRORS})
def download_pod(request: ActorRequest, number: ShipmentNumber) -> HttpResponseBase:
    """The proof of delivery as it was uploaded (always a download)."""
    sh = selectors.get_shipment(number, actor=request.actor)
    if not sh.pod_file:
        raise NotFound("no_pod", _("Shipment %(n)s has no proof of delivery yet.") % {"n": sh.number})
    return download_response(sh.pod_file.open("rb"), filename=sh.pod_name, fallback="pod.bin")


@router.post("/shipments/{number}/acceptance", auth=requires("shipping.ship"),
             response={200: ShipmentOut, **ERRORS})
def accept(request: ActorRequest, number: ShipmentNumber, payload: AcceptanceIn) -> dict[str, Any]:
    """Record the customer's acceptance of a shipped shipment. 409 `not_shipped`,
    `already_accepted`."""
    selectors.get_shipment(number, actor=request.actor)
    sh = services.shipment_accept(shipment=number, accepted_by=payload.accepted_by, note=payload.note,
                                  actor=request.actor)
    return selectors.shipment_dict(sh)

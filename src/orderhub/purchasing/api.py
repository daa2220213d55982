"""Purchasing API (mounted at /api/purchasing): suppliers and their prices, purchase requests
and their approval, purchase orders, goods receipts and ERP file imports. Every write goes
through ``purchasing.services`` (audited); who may do what is ``core.permissions``
(``purchasing.*`` capabilities; approvers: ``ORDERHUB_PURCHASE_APPROVER_ROLES``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from orderhub.catalog.models import Product
from orderhub.core.errors import NotFound, Problem, ValidationFailed
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, STRICT, BizDate, Line, RequiredReason, Text
from orderhub.inventory.models import Warehouse

from . import selectors, services
from .imports import erp_import
from .links import order_ids
from .models import PurchaseOrder, PurchaseRequest, Supplier
from .replenishment import rule_get, rule_save

router = Router(tags=["purchasing"])

Qty = Field(gt=0, max_digits=18, decimal_places=4)


class PriceIn(Schema):
    model_config = STRICT
    sku: Line = Field(max_length=64)
    unit_price: Decimal = Field(ge=0, max_digits=16, decimal_places=2)
    lead_time_days: int = Field(0, ge=0, le=3650)
    moq: Decimal = Field(Decimal(0), ge=0, max_digits=18, decimal_places=4)


class SupplierIn(Schema):
    model_config = STRICT
    name: Line = Field(min_length=1, max_length=200)
    contact: Line = Field("", max_length=200)
    prices: list[PriceIn] = Field(default_factory=list, max_length=500)


class PriceOut(Schema):
    sku: str
    name: str
    unit_price: Decimal
    lead_time_days: int
    moq: Decimal


class SupplierOut(Schema):
    code: str
    name: str
    contact: str
    prices: list[PriceOut]


class RequestIn(Schema):
    model_config = STRICT
    sku: Line = Field(max_length=64)
    qty: Decimal = Qty
    needed_by: BizDate | None = None
    supplier: Line | None = Field(None, max_length=32, description="Supplier code (default: the cheapest)")
    order: Line | None = Field(None, max_length=40, description="The order the material is for")
    reason: Text = Field("", max_length=300)


class DecisionIn(Schema):
    model_config = STRICT
    note: Text = Field("", max_length=300)


class RejectIn(Schema):
    model_config = STRICT
    note: RequiredReason


class RequestOut(Schema):
    number: str
    sku: str
    name: str
    qty: Decimal
    needed_by: date | None
    supplier: str | None
    order: str | None
    source: str
    status: str
    status_label: str
    reason: str
    raised_by: str
    decided_by: str
    decision_note: str
    purchase_order: str | None


class PurchaseLineIn(Schema):
    model_config = STRICT
    sku: Line = Field(max_length=64)
    qty: Decimal = Qty
    expected_date: BizDate | None = Field(None, description="Default: today + the supplier's lead time")
    unit_price: Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=2)
    orders: dict[str, Decimal] = Field(default_factory=dict, description="Order number → quantity it serves")


class PurchaseOrderIn(Schema):
    model_config = STRICT
    supplier: Line = Field(max_length=32)
    warehouse: Line | None = Field(None, max_length=32, description="Receiving warehouse code")
    lines: list[PurchaseLineIn] = Field(default_factory=list, max_length=500)
    requests: list[Line] = Field(default_factory=list, max_length=500,
                                 description="Approved purchase requests that become lines")
    note: Text = Field("", max_length=300)


class ServesOut(Schema):
    order: str
    qty: Decimal


class PurchaseLineOut(Schema):
    line_no: int
    sku: str
    name: str
    unit: str
    qty: Decimal
    received: Decimal
    open_qty: Decimal
    unit_price: Decimal
    expected_date: date
    serves: list[ServesOut]


class PurchaseOrderOut(Schema):
    number: str
    supplier: str
    supplier_name: str
    status: str
    status_label: str
    warehouse: str
    erp_ref: str
    note: str
    created_by: str
    lines: list[PurchaseLineOut] = []


class ReceiptLineIn(Schema):
    model_config = STRICT
    line_no: int = Field(ge=1)
    qty: Decimal = Qty


class ReceiptIn(Schema):
    model_config = STRICT
    receipts: list[ReceiptLineIn] = Field(min_length=1, max_length=500)
    note: Text = Field("", max_length=200)


class ImportRowOut(Schema):
    row: int
    ok: bool
    message: str


class ImportOut(Schema):
    kind: str
    applied: bool
    errors: int
    rows: list[ImportRowOut]


# --------------------------------------------------------------------------- outputs

def supplier_dict(s: Supplier) -> dict[str, Any]:
    return {"code": s.code, "name": s.name, "contact": s.contact,
            "prices": [{"sku": i.product.sku, "name": i.product.name, "unit_price": i.unit_price,
                        "lead_time_days": i.lead_time_days, "moq": i.moq} for i in s.items.all()]}


def request_dict(p: PurchaseRequest) -> dict[str, Any]:
    return {"number": p.number, "sku": p.product.sku, "name": p.product.name, "qty": p.qty,
            "needed_by": p.needed_by, "supplier": p.supplier.code if p.supplier else None,
            "order": p.order.number if p.order else None, "source": p.source, "status": p.status,
            "status_label": str(p.get_status_display()), "reason": p.reason, "raised_by": p.raised_by,
            "decided_by": p.decided_by, "decision_note": p.decision_note,
            "purchase_order": p.purchase_order.number if p.purchase_order else None}


def po_dict(po: PurchaseOrder, *, lines: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": po.number, "supplier": po.supplier.code, "supplier_name": po.supplier.name,
        "status": po.status, "status_label": str(po.get_status_display()), "warehouse": po.warehouse.code,
        "erp_ref": po.erp_ref, "note": po.note, "created_by": po.created_by}
    if lines:
        out["lines"] = [{"line_no": ln.line_no, "sku": ln.product.sku, "name": ln.product.name,
                         "unit": ln.product.unit, "qty": ln.qty, "received": ln.received,
                         "open_qty": ln.open_qty, "unit_price": ln.unit_price, "expected_date": ln.expected_date,
                         "serves": [{"order": s.order.number, "qty": s.qty} for s in ln.serves.all()]}
                        for ln in selectors.po_lines(po)]
    return out


def _product_ids(skus: set[str]) -> dict[str, int]:
    found = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
    missing = sorted(skus - set(found))
    if missing:
        raise ValidationFailed("unknown_product", _("Product “%(sku)s” does not exist.") % {"sku": missing[0]})
    return found


def _order_id(number: str | None) -> int | None:
    if not number:
        return None
    found = order_ids([number])
    if number not in found:
        raise ValidationFailed("unknown_order", _("Order “%(n)s” does not exist or is closed.") % {"n": number})
    return found[number]


def _supplier_id(code: str | None) -> int | None:
    if not code:
        return None
    sup = Supplier.objects.filter(code=code).values_list("pk", flat=True).first()
    if sup is None:
        raise ValidationFailed("unknown_supplier", _("Supplier “%(c)s” does not exist.") % {"c": code})
    return sup


# --------------------------------------------------------------------------- suppliers

@router.get("/suppliers", auth=requires("purchasing.view"), response={200: list[SupplierOut], **ERRORS})
def list_suppliers(request: ActorRequest) -> list[dict[str, Any]]:
    """Active suppliers with their price, lead time and MOQ per material."""
    return [supplier_dict(s) for s in selectors.suppliers()]


@router.put("/suppliers/{code}", auth=requires("purchasing.order"), response={200: SupplierOut, **ERRORS})
def save_supplier(request: ActorRequest, code: str, payload: SupplierIn) -> dict[str, Any]:
    """Create or change a supplier and set the prices given (audited)."""
    ids = _product_ids({p.sku for p in payload.prices})
    sup = services.supplier_save(actor=request.actor, code=code, name=payload.name, contact=payload.contact,
                                 prices=[services.SupplierPrice(ids[p.sku], p.unit_price, p.lead_time_days, p.moq)
                                         for p in payload.prices])
    return supplier_dict(selectors.suppliers().get(pk=sup.pk))


# --------------------------------------------------------------------------- requests

@router.get("/requests", auth=requires("purchasing.view"), response={200: list[RequestOut], **ERRORS})
def list_requests(request: ActorRequest, status: Line = "") -> list[dict[str, Any]]:
    """Purchase requests, newest first (`status`: pending, approved, rejected, ordered); at most 500."""
    return [request_dict(p) for p in selectors.purchase_requests(status=status)[:500]]


@router.post("/requests", auth=requires("purchasing.request"), response={201: RequestOut, **ERRORS})
def raise_request(request: ActorRequest, payload: RequestIn) -> Status:
    """Raise a purchase request (by hand, optionally for an order); it awaits approval by one of
    the configured roles."""
    pr = services.request_raise(
        actor=request.actor, product_id=_product_ids({payload.sku})[payload.sku], qty=payload.qty,
        needed_by=payload.needed_by, order_id=_order_id(payload.order), supplier_id=_supplier_id(payload.supplier),
        reason=payload.reason)
    return Status(201, request_dict(selectors.purchase_requests().get(pk=pr.pk)))


def _decide(request: ActorRequest, number: str, approve: bool, note: str) -> dict[str, Any]:
    pr = services.request_decide(actor=request.actor, number=number, approve=approve, note=note)
    return request_dict(selectors.purchase_requests().get(pk=pr.pk))


@router.post("/requests/{number}/approve", auth=requires("purchasing.approve"),
             response={200: RequestOut, **ERRORS})
def approve_request(request: ActorRequest, number: str, payload: DecisionIn) -> dict[str, Any]:
    """Approve a pending request (the configured approver roles; never one's own request)."""
    return _decide(request, number, True, payload.note)


@router.post("/requests/{number}/reject", auth=requires("purchasing.approve"),
             response={200: RequestOut, **ERRORS})
def reject_request(request: ActorRequest, number: str, payload: RejectIn) -> dict[str, Any]:
    """Reject a pending request, saying why."""
    return _decide(request, number, False, payload.note)


# --------------------------------------------------------------------------- purchase orders

@router.get("/orders", auth=requires("purchasing.view"), response={200: list[PurchaseOrderOut], **ERRORS})
def list_purchase_orders(request: ActorRequest, status: Line = "") -> list[dict[str, Any]]:
    """Purchase orders, newest first (`status`: open, received, cancelled); at most 500."""
    return [po_dict(po) for po in selectors.purchase_orders(status=status)[:500]]


@router.post("/orders", auth=requires("purchasing.order"), response={201: PurchaseOrderOut, **ERRORS})
def place_purchase_order(request: ActorRequest, payload: PurchaseOrderIn) -> Status:
    """Place a purchase order: lines given here and/or approved requests (each becomes a line
    serving the request's order). Prices and expected dates default from the supplier's list."""
    supplier = _supplier_id(payload.supplier)
    if supplier is None:
        raise ValidationFailed("invalid", _("Choose a supplier."),
                               problems=[Problem("required", _("Choose a supplier."), field="supplier")])
    ids = _product_ids({ln.sku for ln in payload.lines}) if payload.lines else {}
    orders = order_ids(n for ln in payload.lines for n in ln.orders)
    unknown = sorted({n for ln in payload.lines for n in ln.orders} - set(orders))
    if unknown:
        raise ValidationFailed("unknown_order", _("Order “%(n)s” does not exist or is closed.") % {"n": unknown[0]})
    warehouse = None
    if payload.warehouse:
        warehouse = Warehouse.objects.filter(code=payload.warehouse).values_list("pk", flat=True).first()
        if warehouse is None:
            raise ValidationFailed("unknown_warehouse", _("Warehouse “%(c)s” does not exist.") % {"c": payload.warehouse})
    po = services.po_place(
        actor=request.actor, supplier_id=supplier, warehouse_id=warehouse, note=payload.note,
        requests=payload.requests,
        lines=[services.LineIn(ids[ln.sku], ln.qty, ln.expected_date, ln.unit_price,
                               {orders[n]: q for n, q in ln.orders.items()}) for ln in payload.lines])
    return Status(201, po_dict(po, lines=True))


@router.get("/orders/{number}", auth=requires("purchasing.view"), response={200: PurchaseOrderOut, **ERRORS})
def get_purchase_order(request: ActorRequest, number: str) -> dict[str, Any]:
    """A purchase order with its lines: ordered, received, open, expected date, orders served."""
    po = selectors.purchase_order(number)
    if po is None:
        raise NotFound("not_found", _("The purchase order does not exist."))
    return po_dict(po, lines=True)


@router.post("/orders/{number}/receipts", auth=requires("purchasing.receive"),
             response={200: PurchaseOrderOut, **ERRORS})
def receive_goods(request: ActorRequest, number: str, payload: ReceiptIn) -> dict[str, Any]:
    """Receive goods against lines (partial receipts allowed; 409 `over_receipt` naming the line
    when more than is still open). Stock goes on hand in the PO's warehouse."""
    services.po_receive(actor=request.actor, number=number, note=payload.note,
                        receipts=[services.ReceiptIn(r.line_no, r.qty) for r in payload.receipts])
    return get_purchase_order(request, number)


@router.post("/imports/orders", auth=requires("purchasing.order"), response={200: ImportOut, **ERRORS})
def import_purchase_orders(request: ActorRequest, file: File[UploadedFile]) -> dict[str, Any]:
    """Purchase orders from the ERP (CSV or XLSX: 采购单号, 供应商编码, 物料编码, 数量, 预计到货,
    optional 单价, 订单号). Every row reported; nothing applied if any row is bad."""
    return erp_import(actor=request.actor, kind="orders", content=file.read(), filename=file.name or "").as_dict()


@router.post("/imports/receipts", auth=requires("purchasing.receive"), response={200: ImportOut, **ERRORS})
def import_receipts(request: ActorRequest, file: File[UploadedFile]) -> dict[str, Any]:
    """Goods receipts from the ERP (CSV or XLSX: 采购单号, 行号, 数量). Every row reported;
    nothing applied if any row is bad."""
    return erp_import(actor=request.actor, kind="receipts", content=file.read(), filename=file.name or "").as_dict()


# --------------------------------------------------------------------------- replenishment rule


class EvidenceDayOut(Schema):
    date: date
    qty: Decimal = Field(description="Ordered that day (base unit)")
    peer_avg: Decimal = Field(description="Average of the peers that day")
    ratio: Decimal | None = Field(description="qty ÷ peer average (none when the peers ordered nothing)")


class EvidenceOut(Schema):
    days: list[EvidenceDayOut]
    multiple: Decimal
    window: int
    peers: str
    free: Decimal = Field(description="Free stock when the rule fired")
    safety_stock: Decimal


class RequestDetailOut(RequestOut):
    evidence: EvidenceOut | None = Field(description="Why the replenishment rule raised it (its source only)")


class RuleIn(Schema):
    model_config = STRICT
    multiple: Decimal = Field(ge=1, le=100, max_digits=6, decimal_places=2,
                              description="A SKU must be ordered more than this × its peers' average")
    days: int = Field(ge=1, le=30, description="… on this many consecutive complete days")
    peers: str = Field(description="unit: SKUs with the same base unit; all: every SKU ordered")
    enabled: bool = True


class ReplenishmentRuleOut(Schema):
    multiple: Decimal
    days: int
    peers: str
    peers_label: str
    enabled: bool
    updated_by: str


def rule_dict(rule: Any) -> dict[str, Any]:
    return {"multiple": rule.multiple, "days": rule.days, "peers": rule.peers,
            "peers_label": str(rule.get_peers_display()), "enabled": rule.enabled, "updated_by": rule.updated_by}


@router.get("/requests/{number}", auth=requires("purchasing.view"), response={200: RequestDetailOut, **ERRORS})
def get_request(request: ActorRequest, number: str) -> dict[str, Any]:
    """One purchase request, with the replenishment rule's evidence when the rule raised it."""
    pr = (PurchaseRequest.objects.select_related("product", "supplier", "order", "purchase_order")
          .filter(number=number).first())
    if pr is None:
        raise NotFound("not_found", _("The purchase request does not exist."))
    return request_dict(pr) | {"evidence": pr.evidence or None}


@router.get("/replenishment", auth=requires("purchasing.view"), response={200: ReplenishmentRuleOut, **ERRORS})
def get_replenishment_rule(request: ActorRequest) -> dict[str, Any]:
    """The replenishment rule's numbers (multiple of the peers, consecutive days, peer group)."""
    return rule_dict(rule_get())


@router.put("/replenishment", auth=requires("purchasing.order"), response={200: ReplenishmentRuleOut, **ERRORS})
def save_replenishment_rule(request: ActorRequest, payload: RuleIn) -> dict[str, Any]:
    """Change the replenishment rule's numbers (audited)."""
    return rule_dict(rule_save(actor=request.actor, multiple=payload.multiple, days=payload.days,
                               peers=payload.peers, enabled=payload.enabled))

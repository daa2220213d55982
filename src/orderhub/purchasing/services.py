"""Purchasing writes: suppliers, requests and their approval, purchase orders, goods receipts.

Each function is keyword-only, takes the actor, checks the capability (``core.permissions``),
validates, writes and appends its audit event in one transaction. Goods go on hand through
``inventory.services.stock_receive``; a receipt locks its purchase order, then its lines, so
concurrent receipts serialise and never receive more than was ordered (and the database's CHECK
``received <= qty`` is the last line of defence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from orderhub.catalog.models import Product
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.errors import DomainError, NotFound, Problem, ValidationFailed
from orderhub.core.models import Counter
from orderhub.core.permissions import check
from orderhub.inventory.models import Warehouse
from orderhub.inventory.services import stock_receive

from . import events
from .models import (
    SUBJECT_ORDER,
    SUBJECT_REQUEST,
    SUBJECT_SUPPLIER,
    LineOrder,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseRequest,
    Receipt,
    Supplier,
    SupplierItem,
)

ZERO = Decimal("0")


def next_number(prefix: str) -> str:
    """PR-0001, PO-0001…: a counter row bumped in the caller's transaction (no gaps)."""
    name = f"purchasing.{prefix}"
    Counter.objects.get_or_create(name=name)
    Counter.objects.filter(name=name).update(value=F("value") + 1)
    value = Counter.objects.values_list("value", flat=True).get(name=name)
    return f"{prefix}-{value:04d}"


def _invalid(code: str, message: str, field: str | None = None) -> ValidationFailed:
    return ValidationFailed(code, message, problems=[Problem(code, message, field=field)])


def _positive(qty: Decimal, field: str) -> Decimal:
    if not isinstance(qty, Decimal) or not qty.is_finite() or qty <= 0:
        raise _invalid("invalid_quantity", _("Quantity must be greater than zero."), field)
    return qty


# --------------------------------------------------------------------------- suppliers

@dataclass(frozen=True)
class SupplierPrice:
    product_id: int
    unit_price: Decimal
    lead_time_days: int = 0
    moq: Decimal = ZERO


@transaction.atomic
def supplier_save(*, actor: Actor, code: str, name: str, contact: str = "",
                  prices: Sequence[SupplierPrice] = ()) -> Supplier:
    """Create or change a supplier and set its prices per material (those given)."""
    check(actor, "purchasing.order")
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise _invalid("required", _("The supplier code and name are required."), "code" if not code else "name")
    sup = Supplier.objects.select_for_update().filter(code=code).first()
    before = None if sup is None else {"name": sup.name, "contact": sup.contact}
    sup, created = Supplier.objects.update_or_create(code=code, defaults={"name": name, "contact": contact})
    changes: dict[str, Any] = {k: [None if before is None else before[k], v]
                               for k, v in {"name": name, "contact": contact}.items()
                               if before is None or before[k] != v}
    for p in prices:
        if p.unit_price < 0:
            raise _invalid("invalid_price", _("Unit price cannot be negative."), "prices")
        item, _made = SupplierItem.objects.update_or_create(
            supplier=sup, product_id=p.product_id,
            defaults={"unit_price": p.unit_price, "lead_time_days": p.lead_time_days, "moq": p.moq})
        changes[f"price:{p.product_id}"] = [None, {"unit_price": str(p.unit_price),
                                                   "lead_time_days": p.lead_time_days, "moq": str(p.moq)}]
    if created or changes:
        append_event(subject_type=SUBJECT_SUPPLIER, subject_id=sup.pk, action=events.SUPPLIER_SAVED,
                     actor=actor, changes=changes)
    return sup


# --------------------------------------------------------------------------- requests

def approver_roles() -> list[str]:
    """The roles configured to approve purchase requests (``ORDERHUB_PURCHASE_APPROVER_ROLES``)."""
    return list(settings.ORDERHUB_PURCHASE_APPROVER_ROLES)


@transaction.atomic
def request_raise(*, actor: Actor, product_id: int, qty: Decimal, needed_by: date | None = None,
                  order_id: int | None = None, supplier_id: int | None = None, reason: str = "",
                  source: str = PurchaseRequest.Source.MANUAL,
                  evidence: dict[str, Any] | None = None) -> PurchaseRequest:
    """A purchase request awaiting approval by one of the configured roles."""
    check(actor, "purchasing.request")
    _positive(qty, "qty")
    if not Product.objects.filter(pk=product_id).exists():
        raise _invalid("unknown_product", _("The product does not exist."), "sku")
    if supplier_id is None:
        best = (SupplierItem.objects.filter(product_id=product_id, supplier__is_active=True)
                .order_by("unit_price", "lead_time_days").values_list("supplier_id", flat=True).first())
        supplier_id = best
    now = clock.now()
    pr = PurchaseRequest.objects.create(
        number=next_number("PR"), product_id=product_id, qty=qty, needed_by=needed_by,
        supplier_id=supplier_id, order_id=order_id, source=source, reason=reason.strip()[:300],
        evidence=evidence or {},
        raised_at=now, raised_by=actor.label[:150], raised_by_user=actor.user)
    append_event(subject_type=SUBJECT_REQUEST, subject_id=pr.pk, action=events.REQUEST_RAISED,
                 actor=actor, data={"number": pr.number, "product_id": product_id, "qty": str(qty),
                                    "order_id": order_id, "source": source}, reason=pr.reason)
    return pr


@transaction.atomic
def request_decide(*, actor: Actor, number: str, approve: bool, note: str = "") -> PurchaseRequest:
    """Approve or reject a pending request: only the configured roles, never one's own request."""
    check(actor, "purchasing.approve")
    pr = PurchaseRequest.objects.select_for_update().filter(number=number).first()
    if pr is None:
        raise NotFound("not_found", _("The purchase request does not exist."))
    if pr.status != PurchaseRequest.Status.PENDING:
        raise DomainError("already_decided", _("This purchase request has already been handled."), status=409)
    if actor.user is not None and pr.raised_by_user_id == actor.user.pk:
        raise DomainError("own_request", _("You cannot approve a purchase request you raised yourself."), status=403)
    if not approve and not note.strip():
        raise _invalid("reason_required", _("A rejection needs a reason."), "note")
    status = PurchaseRequest.Status.APPROVED if approve else PurchaseRequest.Status.REJECTED
    pr.status, pr.decided_at, pr.decided_by = status, clock.now(), actor.label[:150]
    pr.decision_note = note.strip()[:300]
    pr.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    append_event(subject_type=SUBJECT_REQUEST, subject_id=pr.pk,
                 action=events.REQUEST_APPROVED if approve else events.REQUEST_REJECTED, actor=actor,
                 changes={"status": [PurchaseRequest.Status.PENDING.value, status.value]}, reason=pr.decision_note)
    return pr


# --------------------------------------------------------------------------- purchase orders

@dataclass
class LineIn:
    product_id: int
    qty: Decimal
    expected_date: date | None = None
    unit_price: Decimal | None = None
    orders: dict[int, Decimal] = field(default_factory=dict)   # order id -> quantity it serves


def _line_defaults(supplier_id: int, lines: Sequence[LineIn], today: date) -> None:
    """Fill each line's price and expected date from the supplier's price list (lead time)."""
    items = {i.product_id: i for i in SupplierItem.objects.filter(
        supplier_id=supplier_id, product_id__in={ln.product_id for ln in lines})}
    for i, ln in enumerate(lines):
        _positive(ln.qty, f"lines[{i}].qty")
        item = items.get(ln.product_id)
        if ln.unit_price is None:
            ln.unit_price = item.unit_price if item else ZERO
        if ln.expected_date is None:
            ln.expected_date = today + timedelta(days=item.lead_time_days if item else 0)
        if sum(ln.orders.values(), ZERO) > ln.qty:
            raise _invalid("over_allocated", _("The quantity allotted to orders exceeds the quantity purchased."), f"lines[{i}].orders")


@transaction.atomic
def po_place(*, actor: Actor, supplier_id: int, lines: Sequence[LineIn] = (), warehouse_id: int | None = None,
             requests: Sequence[str] = (), erp_ref: str = "", note: str = "", source: str = "manual",
             number: str | None = None) -> PurchaseOrder:
    """A purchase order with its lines; approved ``requests`` become its lines (one each, serving
    the request's order) and are marked ordered."""
    check(actor, "purchasing.order")
    supplier = Supplier.objects.filter(pk=supplier_id, is_active=True).first()
    if supplier is None:
        raise _invalid("unknown_supplier", _("The supplier does not exist or is inactive."), "supplier")
    prs = list(PurchaseRequest.objects.select_for_update().filter(number__in=list(requests)).order_by("pk"))
    if len(prs) != len(set(requests)):
        raise _invalid("unknown_request", _("The purchase request does not exist."), "requests")
    bad = [p.number for p in prs if p.status != PurchaseRequest.Status.APPROVED]
    if bad:
        raise DomainError("request_not_approved", _("Purchase request %(n)s is not approved yet and cannot be ordered.") % {"n": bad[0]},
                          status=409)
    all_lines = [*lines, *(LineIn(p.product_id, p.qty, p.needed_by,
                                  orders={p.order_id: p.qty} if p.order_id else {}) for p in prs)]
    if not all_lines:
        raise _invalid("no_lines", _("A purchase order needs at least one line."), "lines")
    now = clock.now()
    _line_defaults(supplier.pk, all_lines, now.date())
    wh = warehouse_id or Warehouse.objects.order_by("priority", "code").values_list("pk", flat=True).first()
    if wh is None:
        raise _invalid("no_warehouse", _("There is no warehouse to receive into."), "warehouse")
    po = PurchaseOrder.objects.create(number=number or next_number("PO"), supplier=supplier, warehouse_id=wh,
                                      erp_ref=erp_ref[:60], note=note[:300], created_at=now,
                                      created_by=actor.label[:150])
    made = PurchaseOrderLine.objects.bulk_create([
        PurchaseOrderLine(purchase_order=po, line_no=i + 1, product_id=ln.product_id, qty=ln.qty,
                          unit_price=ln.unit_price or ZERO, expected_date=ln.expected_date or now.date())
        for i, ln in enumerate(all_lines)])
    LineOrder.objects.bulk_create([LineOrder(line=row, order_id=oid, qty=q)
                                   for row, ln in zip(made, all_lines, strict=True)
                                   for oid, q in ln.orders.items()])
    if prs:
        PurchaseRequest.objects.filter(pk__in=[p.pk for p in prs]).update(
            status=PurchaseRequest.Status.ORDERED, purchase_order=po)
    append_event(subject_type=SUBJECT_ORDER, subject_id=po.pk, action=events.ORDER_PLACED, actor=actor,
                 data={"number": po.number, "supplier": supplier.code, "source": source,
                       "requests": [p.number for p in prs],
                       "lines": [{"line": r.line_no, "product_id": r.product_id, "qty": str(r.qty),
                                  "expected_date": str(r.expected_date)} for r in made]})
    return po


@dataclass(frozen=True)
class ReceiptIn:
    line_no: int
    qty: Decimal


def po_receive(*, actor: Actor, number: str, receipts: Sequence[ReceiptIn], note: str = "") -> list[Receipt]:
    """Receive goods against lines of an open PO (partial receipts allowed). Refused as a whole,
    naming the line, when any quantity exceeds what is still open."""
    check(actor, "purchasing.receive")
    if not receipts:
        raise _invalid("no_lines", _("Enter a received quantity for at least one line."), "receipts")
    for i, r in enumerate(receipts):
        _positive(r.qty, f"receipts[{i}].qty")
    with transaction.atomic():
        po = PurchaseOrder.objects.select_for_update().filter(number=number).first()
        if po is None:
            raise NotFound("not_found", _("The purchase order does not exist."))
        if po.status != PurchaseOrder.Status.OPEN:
            raise DomainError("po_closed", _("The purchase order is closed and cannot receive more goods."), status=409)
        lines = {ln.line_no: ln for ln in PurchaseOrderLine.objects.select_for_update()
                 .filter(purchase_order=po).select_related("product").order_by("pk")}
        now = clock.now()
        made, problems = [], []
        for i, r in enumerate(receipts):
            ln = lines.get(r.line_no)
            if ln is None:
                problems.append(Problem("unknown_line", _("The purchase order has no line %(n)s.") % {"n": r.line_no},
                                        field=f"receipts[{i}].line_no"))
                continue
            if r.qty > ln.open_qty:
                problems.append(Problem("over_receipt", _("Line %(n)s %(name)s can receive at most %(open)s more, not %(qty)s.") % {
                    "n": ln.line_no, "name": ln.product.name, "open": fmt_qty(ln.open_qty), "qty": fmt_qty(r.qty)},
                    field=f"receipts[{i}].qty", data={"open": str(ln.open_qty)}))
                continue
            ln.received += r.qty
            stock_receive(product_id=ln.product_id, warehouse_id=po.warehouse_id, qty=r.qty, actor=actor,
                          note=_("Purchase receipt %(po)s") % {"po": po.number})
            made.append(Receipt(line=ln, qty=r.qty, warehouse_id=po.warehouse_id, at=now,
                                by=actor.label[:150], note=note[:200]))
        if problems:
            raise ValidationFailed("over_receipt", problems[0].message, problems=problems, status=409)
        PurchaseOrderLine.objects.bulk_update(list(lines.values()), ["received"])
        Receipt.objects.bulk_create(made)
        if all(ln.received >= ln.qty for ln in lines.values()):
            po.status = PurchaseOrder.Status.RECEIVED
            po.save(update_fields=["status"])
        append_event(subject_type=SUBJECT_ORDER, subject_id=po.pk, action=events.GOODS_RECEIVED,
                     actor=actor, reason=note,
                     data={"number": po.number, "status": po.status,
                           "receipts": [{"line": m.line.line_no, "product_id": m.line.product_id,
                                         "qty": str(m.qty), "received": str(m.line.received)} for m in made]})
        return made


def fmt_qty(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"

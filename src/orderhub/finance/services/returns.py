"""Returns: raised against an order's shipped lines (never more than shipped less what earlier
returns take, counted under the order's lock), checked by QC (pass or fail, a remark, the
report file), received by the warehouse: stock goes back, through ``inventory.services``, to
the warehouse each line shipped from, and a credit note follows that settles the customer's open
invoices (so their unpaid amount drops through ``credit.unpaid_changed``)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from orderhub.core import clock, permissions
from orderhub.core.actors import Actor
from orderhub.core.errors import Conflict, NotFound, Problem, ValidationFailed
from orderhub.core.locking import lock_own_rows
from orderhub.inventory.models import StockMove, Warehouse
from orderhub.inventory.services import stock_receive
from orderhub.orders.locks import lock_order
from orderhub.orders.models import Order, OrderLine
from orderhub.orders.selectors import check_visible
from orderhub.shipping.models import Shipment, ShipmentLine

from .. import events
from ..models import CreditNote, Invoice, QCReport, ReturnLine, ReturnOrder
from .common import allocate, audit, invalid, lock_customer, lock_invoices, mark_kept, money, today
from .credit import unpaid_changed
from .invoices import DEFAULT_TAX_RATE

Q4 = Decimal("0.0001")
MAX_QC_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class ReturnInput:
    """``quantities``: order line number → quantity (the line's unit) coming back."""

    quantities: Mapping[int, Decimal]
    reason: str


def returnable(order: Order) -> dict[int, Decimal]:
    """Order line id → shipped less what returns (not rejected by QC) already take."""
    shipped = dict(ShipmentLine.objects.filter(shipment__order=order, shipment__status=Shipment.Status.SHIPPED)
                   .values("order_line_id").annotate(q=Sum("qty")).values_list("order_line_id", "q"))
    returned = dict(ReturnLine.objects.filter(return_order__order=order)
                    .exclude(return_order__status=ReturnOrder.Status.REJECTED)
                    .values("order_line_id").annotate(q=Sum("qty")).values_list("order_line_id", "q"))
    return {lid: q - returned.get(lid, Decimal("0")) for lid, q in shipped.items()}


def _lines(data: ReturnInput, lines: list[OrderLine], left: dict[int, Decimal]) -> list[ReturnLine]:
    by_no = {ln.line_no: ln for ln in lines}
    problems, out = [], []
    for line_no, qty in sorted(data.quantities.items()):
        f, ln = f"quantities.{line_no}", by_no.get(line_no)
        if ln is None:
            problems.append(Problem("unknown_line", _("The order has no line %(n)s.") % {"n": line_no}, field=f))
            continue
        if not qty.is_finite() or qty < 0 or qty != qty.quantize(Q4):
            problems.append(Problem("invalid_quantity", _("The quantity on line %(n)s is invalid.") % {"n": line_no}, field=f))
            continue
        if qty == 0:
            continue
        can = left.get(ln.pk, Decimal("0"))
        if qty > can:
            problems.append(Problem("over_returned", _("Line %(n)s (%(sku)s) has only %(can)s shipped and not returned; %(qty)s cannot be returned.") % {
                "n": line_no, "sku": ln.product.sku, "can": format(can.normalize(), "f"),
                "qty": format(qty.normalize(), "f")}, field=f, data={"returnable": str(can)}))
            continue
        out.append(ReturnLine(order_line=ln, qty=qty, base_qty=(qty * ln.base_qty / ln.qty).quantize(Q4),
                              amount=money(qty * ln.unit_price)))
    if problems:
        over = any(p.code == "over_returned" for p in problems)
        raise (Conflict if over else ValidationFailed)("over_returned" if over else "invalid",
                                                       str(problems[0].message), problems=problems)
    if not out:
        raise invalid("nothing_to_return", _("Enter a return quantity for at least one line."), "quantities")
    return out


def return_create(*, order: str, data: ReturnInput, actor: Actor) -> ReturnOrder:
    """Raise a return of some shipped quantities of the order's lines, with the reason."""
    permissions.check(actor, "returns.create")
    reason = data.reason.strip()
    if not reason:
        raise invalid("required", _("Enter the reason for the return."), "reason")
    check_visible(order, actor)
    with transaction.atomic():
        locked = lock_order(order)
        lines = list(lock_own_rows(OrderLine.objects.select_related("product")).filter(order=locked).order_by("pk"))
        rows = _lines(data, lines, returnable(locked))
        seq = (ReturnOrder.objects.filter(order=locked).count()) + 1
        ret = ReturnOrder.objects.create(number=f"{locked.number}-T{seq}", order=locked,
                                         customer_id=locked.customer_id, reason=reason[:500],
                                         created_at=clock.now(), created_by=actor.label[:150])
        for r in rows:
            r.return_order = ret
        ReturnLine.objects.bulk_create(rows)
        audit("return", ret.pk, events.RETURN_CREATED, actor, number=ret.number, order=locked.number,
              lines=[{"line_no": r.order_line.line_no, "qty": str(r.qty)} for r in rows])
        return ret


def _locked_return(number: str, actor: Actor) -> ReturnOrder:
    ret = ReturnOrder.objects.filter(number=number).select_related("order").first()
    if ret is None:
        raise NotFound("return_not_found", _("Return %(n)s does not exist.") % {"n": number})
    check_visible(ret.order.number, actor)
    return lock_own_rows(ReturnOrder.objects.filter(pk=ret.pk).select_related("order")).get()


def return_qc(*, ret: str, passed: bool, remark: str, actor: Actor, file_name: str = "",
              content: bytes | None = None) -> QCReport:
    """Record the QC result of a return (once): pass (the warehouse may receive it) or fail
    (the return is rejected), a remark, optionally the report file."""
    permissions.check(actor, "returns.qc")
    remark = remark.strip()
    if not remark:
        raise invalid("required", _("Enter the inspection remarks."), "remark")
    if content is not None and len(content) > MAX_QC_BYTES:
        raise invalid("too_large", _("A file may be at most 20 MB."), "file")
    with transaction.atomic():
        r = _locked_return(ret, actor)
        if r.status != ReturnOrder.Status.REQUESTED:
            raise Conflict("qc_done", _("Return %(n)s already has an inspection recorded.") % {"n": r.number})
        qc = QCReport(return_order=r, passed=passed, remark=remark[:500], recorded_at=clock.now(),
                      recorded_by=actor.label[:150])
        if content:
            safe = (file_name or "qc").replace("/", "_").replace("\\", "_")[:200]
            qc.file_sha256 = hashlib.sha256(content).hexdigest()
            qc.file_name = safe
            qc.file.save(f"{qc.file_sha256[:16]}-{safe}", ContentFile(content), save=False)
        qc.save()
        r.status = ReturnOrder.Status.CHECKED if passed else ReturnOrder.Status.REJECTED
        r.save(update_fields=["status"])
        audit("return", r.pk, events.RETURN_QC_RECORDED, actor, passed=passed, remark=qc.remark,
              file=qc.file_name, sha256=qc.file_sha256)
        return qc


def shipped_from(order_id: int, product_id: int) -> int:
    """The warehouse the order's shipments of ``product_id`` left from (the most, if several)."""
    row = (StockMove.objects.filter(order_id=order_id, kind=StockMove.Kind.SHIPMENT, stock__product_id=product_id)
           .values("stock__warehouse_id").annotate(q=Sum("qty")).order_by("q", "stock__warehouse_id").first())
    if row is not None:
        return int(row["stock__warehouse_id"])
    return Warehouse.objects.order_by("priority", "code").values_list("pk", flat=True).first() or 0


def return_receive(*, ret: str, actor: Actor) -> CreditNote:
    """The warehouse receives a return that passed QC: each line back on hand in the warehouse
    it shipped from, then the credit note (``HZ<return>``) that settles open invoices of the
    order first, then the customer's others, oldest first. 409 ``qc_required``."""
    permissions.check(actor, "returns.receive")
    with transaction.atomic():
        r = _locked_return(ret, actor)
        lock_customer(r.customer_id)
        if r.status == ReturnOrder.Status.RECEIVED:
            raise Conflict("already_received", _("Return %(n)s has already been received into stock.") % {"n": r.number})
        if r.status != ReturnOrder.Status.CHECKED:
            msg = (_("Return %(n)s failed inspection and cannot be received into stock.") if r.status == ReturnOrder.Status.REJECTED
                   else _("Return %(n)s has no inspection report yet and cannot be received into stock.")) % {"n": r.number}
            raise Conflict("qc_required", msg, problems=[Problem("qc_required", msg, field="qc")])
        lines = list(r.lines.select_related("order_line"))
        for ln in lines:
            ln.warehouse_id = shipped_from(r.order_id, ln.order_line.product_id)
            stock_receive(product_id=ln.order_line.product_id, warehouse_id=ln.warehouse_id, qty=ln.base_qty,
                          actor=actor, note=_("Return %(n)s") % {"n": r.number})
        ReturnLine.objects.bulk_update(lines, ["warehouse"])
        r.status, r.received_at, r.received_by = ReturnOrder.Status.RECEIVED, clock.now(), actor.label[:150]
        r.save(update_fields=["status", "received_at", "received_by"])
        audit("return", r.pk, events.RETURN_RECEIVED, actor, number=r.number,
              lines=[{"line": ln.order_line.line_no, "qty": str(ln.qty), "warehouse": ln.warehouse_id} for ln in lines])
        note = _credit_note(r, sum((ln.amount for ln in lines), Decimal("0")), actor)
        unpaid_changed(r.customer_id, actor)
        return note


def _credit_note(r: ReturnOrder, amount: Decimal, actor: Actor) -> CreditNote:
    rate = (Invoice.objects.filter(order_id=r.order_id).order_by("pk").values_list("tax_rate", flat=True).first()
            or DEFAULT_TAX_RATE)
    note = CreditNote.objects.create(
        number=f"HZ{r.number}", customer_id=r.customer_id, order_id=r.order_id, return_order=r,
        amount=amount, tax_rate=rate, tax_amount=money(amount * rate / (1 + rate)), issued_on=today(),
        issued_at=clock.now(), issued_by=actor.label[:150])
    open_ids = list(Invoice.objects.filter(customer_id=r.customer_id, settled__lt=F("amount"))
                    .values_list("pk", flat=True))
    invoices = lock_invoices(open_ids)
    ordered = sorted(invoices.values(), key=lambda i: (i.order_id != r.order_id, i.issued_on, i.pk))
    for inv in ordered:
        left = note.amount - note.applied
        if left <= 0:
            break
        take = min(left, inv.balance)
        if take > 0:
            allocate(invoice=inv, amount=take, actor=actor, credit_note=note)
            mark_kept(inv)
    audit("credit_note", note.pk, events.CREDIT_NOTE_ISSUED, actor, number=note.number, amount=amount,
          applied=note.applied)
    return note

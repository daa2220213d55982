"""Finance API (mounted at /api/finance): invoices (issue one for a shipment through the gate),
payments (record, apply, bank statement import), payment promises, returns (raise, QC,
receive), credit notes, a customer's finance summary and the voucher export."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Status
from ninja.files import UploadedFile

from orderhub.core.downloads import download_response
from orderhub.core.errors import NotFound, ValidationFailed
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, BizDate
from orderhub.orders.schemas import OrderNumber
from orderhub.shipping.selectors import get_shipment

from . import selectors, services, vouchers
from .models import Payment
from .schemas import (
    CustomerCode,
    DocNumber,
    FinAllocationOut,
    FinApplyIn,
    FinBankImportOut,
    FinCreditNoteOut,
    FinCustomerOut,
    FinInvoiceIn,
    FinInvoiceOut,
    FinInvoicePage,
    FinPaymentIn,
    FinPaymentOut,
    FinPaymentPage,
    FinPromiseIn,
    FinPromiseOut,
    FinReturnIn,
    FinReturnOut,
    InvoiceStatus,
    ReturnStatus,
    VoucherSystem,
)
from .statement import MAX_BYTES

router = Router(tags=["finance"])   # mounted at /finance
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/invoices", auth=requires("finance.view"), response={200: FinInvoicePage, **ERRORS})
def list_invoices(request: ActorRequest, status: InvoiceStatus | None = None, customer: CustomerCode | None = None,
                  limit: int = Query(100, ge=1, le=500)) -> dict[str, Any]:
    """Invoices of the orders the caller sees, newest first (`status`: open or paid)."""
    qs = selectors.invoices(request.actor, status=status, customer=customer)
    return {"count": qs.count(), "items": [selectors.invoice_dict(i) for i in qs[:limit]]}


@router.get("/invoices/{number}", auth=requires("finance.view"), response={200: FinInvoiceOut, **ERRORS})
def get_invoice(request: ActorRequest, number: DocNumber) -> dict[str, Any]:
    return selectors.invoice_dict(selectors.get_invoice(number, actor=request.actor))


@router.post("/shipments/{number}/invoice", auth=requires("finance.manage"),
             response={201: FinInvoiceOut, **ERRORS})
def issue_invoice(request: ActorRequest, number: DocNumber, payload: FinInvoiceIn) -> Status:
    """Issue the shipment's invoice (tax and bank details from the customer). 409 `invoice_gate`
    with the reason (`缺少签收凭证`, `缺少客户验收`), `already_invoiced`; 422
    `customer_details_missing` naming the customer field."""
    get_shipment(number, actor=request.actor)
    inv = services.invoice_issue(shipment=number, kind=payload.kind, tax_rate=payload.tax_rate,
                                 due_days=payload.due_days, actor=request.actor)
    return Status(201, selectors.invoice_dict(inv))


@router.post("/invoices/{number}/promises", auth=requires("finance.manage"),
             response={201: FinPromiseOut, **ERRORS})
def create_promise(request: ActorRequest, number: DocNumber, payload: FinPromiseIn) -> Status:
    """The customer promises to pay (part of) the invoice by a date; if it passes unpaid the
    sales owner and finance are alerted once."""
    selectors.get_invoice(number, actor=request.actor)
    p = services.promise_create(invoice=number, promised_on=payload.promised_on, amount=payload.amount,
                                note=payload.note, actor=request.actor)
    return Status(201, selectors.promise_dict(p))


@router.get("/promises", auth=requires("finance.view"), response={200: list[FinPromiseOut], **ERRORS})
def list_promises(request: ActorRequest, overdue: bool = False) -> list[dict[str, Any]]:
    """Payment promises (`overdue`: the date passed, still unpaid)."""
    return [selectors.promise_dict(p) for p in selectors.promises(request.actor, overdue=overdue)[:500]]


@router.get("/payments", auth=requires("finance.view"), response={200: FinPaymentPage, **ERRORS})
def list_payments(request: ActorRequest, unmatched: bool = False, customer: CustomerCode | None = None,
                  limit: int = Query(100, ge=1, le=500)) -> dict[str, Any]:
    """Payments and deposits (`unmatched`: with money not yet applied to invoices)."""
    qs = selectors.payments(request.actor, unmatched=unmatched, customer=customer)
    return {"count": qs.count(), "items": [selectors.payment_dict(p) for p in qs[:limit]]}


@router.post("/payments", auth=requires("finance.manage"), response={201: FinPaymentOut, **ERRORS})
def record_payment(request: ActorRequest, payload: FinPaymentIn) -> Status:
    """Record a payment or deposit by hand; with `invoice` it settles that invoice at once."""
    p = services.payment_record(customer=payload.customer, amount=payload.amount, received_on=payload.received_on,
                                kind=payload.kind, order=payload.order, payer=payload.payer, memo=payload.memo,
                                invoice=payload.invoice, actor=request.actor)
    p.refresh_from_db()
    return Status(201, selectors.payment_dict(p))


@router.post("/payments/{number}/apply", auth=requires("finance.manage"),
             response={200: FinAllocationOut, **ERRORS})
def apply_payment(request: ActorRequest, number: DocNumber, payload: FinApplyIn) -> dict[str, Any]:
    """Settle an invoice with (part of) a payment: never more than either has left (409
    `over_applied`), never another customer's (409 `customer_mismatch`)."""
    alloc = services.payment_apply(payment=number, invoice=payload.invoice, amount=payload.amount,
                                   actor=request.actor)
    pay = Payment.objects.get(number=number)
    alloc.invoice.refresh_from_db()
    return {"invoice": alloc.invoice.number, "payment": pay.number, "amount": alloc.amount,
            "invoice_balance": alloc.invoice.balance, "payment_unapplied": pay.unapplied}


@router.post("/bank-imports", auth=requires("finance.manage"), response={201: FinBankImportOut, **ERRORS})
def import_statement(request: ActorRequest, file: File[UploadedFile]) -> Status:
    """Import a bank statement (CSV in UTF-8/GBK or XLSX; columns 交易日期, 金额, 付款方, 摘要,
    流水号 or the banks' other names for them). Every row or none: 422 `bad_rows` lists each bad
    row (`errors[].field` = `rows.<n>`) and nothing is written."""
    content = file.read(MAX_BYTES + 1)
    imp = services.bank_import(name=file.name or "statement", content=content, actor=request.actor)
    return Status(201, _import_out(imp))


def _import_out(imp: Any) -> dict[str, Any]:
    return {"id": imp.pk, "name": imp.name, "rows": imp.rows, "matched": imp.matched, "unmatched": imp.unmatched,
            "created_at": imp.created_at, "created_by": imp.created_by,
            "results": [{**r, "message": r.get("message", "")} for r in imp.results]}


@router.get("/bank-imports", auth=requires("finance.view"), response={200: list[FinBankImportOut], **ERRORS})
def list_imports(request: ActorRequest) -> list[dict[str, Any]]:
    """The latest bank statement imports with the result of each row."""
    return [_import_out(i) for i in selectors.bank_imports()]


@router.get("/credit-notes", auth=requires("finance.view"), response={200: list[FinCreditNoteOut], **ERRORS})
def list_credit_notes(request: ActorRequest) -> list[dict[str, Any]]:
    return [selectors.credit_note_dict(c) for c in selectors.credit_notes(request.actor)[:500]]


@router.get("/customers/{code}", auth=requires("finance.view"), response={200: FinCustomerOut, **ERRORS})
def customer_finance(request: ActorRequest, code: CustomerCode) -> dict[str, Any]:
    """The customer's unpaid amount (= open invoice balances), overdue part, unapplied money
    and invoice details."""
    return selectors.customer_summary(selectors.get_customer(code, actor=request.actor))


@router.get("/vouchers/{system}", auth=requires("finance.manage"), response={200: None, **ERRORS})
def export_vouchers(request: ActorRequest, system: VoucherSystem, start: BizDate, end: BizDate) -> HttpResponseBase:
    """Vouchers of the invoices, receipts and credit notes dated `start`..`end` as an Excel file
    in Kingdee's (`kingdee`) or Yonyou's (`yonyou`) import layout (docs/finance.md)."""
    _check_range(start, end)
    content = vouchers.export(system, start, end, maker=request.actor.label)
    return download_response(content, filename=vouchers.filename(system, start, end), fallback="vouchers.xlsx",
                             content_type=XLSX)


def _check_range(start: date, end: date) -> None:
    if end < start or (end - start).days > 366:
        raise ValidationFailed("invalid_range", _("The date range must be within one year, and the end may not be before the start."))


# --------------------------------------------------------------------------- returns


@router.get("/returns", auth=requires("returns.view"), response={200: list[FinReturnOut], **ERRORS})
def list_returns(request: ActorRequest, status: ReturnStatus | None = None) -> list[dict[str, Any]]:
    return [selectors.return_dict(r) for r in selectors.returns(request.actor, status=status)[:200]]


@router.get("/returns/{number}", auth=requires("returns.view"), response={200: FinReturnOut, **ERRORS})
def get_return(request: ActorRequest, number: DocNumber) -> dict[str, Any]:
    return selectors.return_dict(selectors.get_return(number, actor=request.actor))


@router.post("/orders/{number}/returns", auth=requires("returns.create"), response={201: FinReturnOut, **ERRORS})
def create_return(request: ActorRequest, number: OrderNumber, payload: FinReturnIn) -> Status:
    """Raise a return of shipped quantities (never more than shipped less earlier returns: 409
    `over_returned` naming each line with `data.returnable`)."""
    qty: dict[int, Any] = {}
    for ln in payload.lines:
        qty[ln.line_no] = qty.get(ln.line_no, 0) + ln.qty
    r = services.return_create(order=number, data=services.ReturnInput(qty, payload.reason), actor=request.actor)
    return Status(201, selectors.return_dict(r))


@router.post("/returns/{number}/qc", auth=requires("returns.qc"), response={200: FinReturnOut, **ERRORS})
def record_qc(request: ActorRequest, number: DocNumber, passed: Form[bool], remark: Form[str],
              file: UploadedFile | None = File(None)) -> dict[str, Any]:  # noqa: B008
    """Record the QC result (multipart: `passed`, `remark`, optional `file`, the report, at most
    20 MB, kept as bytes and served only as a download)."""
    selectors.get_return(number, actor=request.actor)
    content = file.read(services.returns.MAX_QC_BYTES + 1) if file is not None else None
    services.return_qc(ret=number, passed=passed, remark=remark[:500], file_name=(file.name or "") if file else "",
                       content=content, actor=request.actor)
    return selectors.return_dict(selectors.get_return(number, actor=request.actor))


@router.get("/returns/{number}/qc/file", auth=requires("returns.view"), response={200: None, **ERRORS})
def qc_file(request: ActorRequest, number: DocNumber) -> HttpResponseBase:
    """The QC report file as uploaded (always a download)."""
    r = selectors.get_return(number, actor=request.actor)
    qc = getattr(r, "qc", None)
    if qc is None or not qc.file:
        raise NotFound("no_qc_file", _("Return %(n)s has no quality inspection report file.") % {"n": r.number})
    return download_response(qc.file.open("rb"), filename=qc.file_name, fallback="qc.bin")


@router.post("/returns/{number}/receive", auth=requires("returns.receive"), response={200: FinReturnOut, **ERRORS})
def receive_return(request: ActorRequest, number: DocNumber) -> dict[str, Any]:
    """Receive a return that passed QC: stock back where it shipped from, the credit note issued
    (and applied to open invoices). 409 `qc_required`, `already_received`."""
    selectors.get_return(number, actor=request.actor)
    services.return_receive(ret=number, actor=request.actor)
    return selectors.return_dict(selectors.get_return(number, actor=request.actor))

"""Reads of finance, always within what the actor may see: documents of orders they see
(``orders.selectors.visible``), payments of customers whose orders they see."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core.actors import Actor
from orderhub.core.errors import NotFound
from orderhub.orders.models import Order
from orderhub.orders.selectors import scope_q, visible
from orderhub.shipping.models import Shipment
from orderhub.shipping.selectors import invoice_refusal

from .models import BankImport, CreditNote, Invoice, Payment, PaymentPromise, ReturnOrder
from .services.common import today
from .services.returns import returnable

ZERO = Decimal("0.00")


def _customers(qs: QuerySet, actor: Actor, via: str = "customer__") -> QuerySet:
    """Rows of customers whose orders the actor sees (a sales rep: their own customers)."""
    q = scope_q(actor, via="")
    if q is None:
        return qs
    uid = actor.user.pk if actor.user else 0
    return qs.filter(**{f"{via}sales_owner_id": uid})


def invoices(actor: Actor, *, status: str | None = None, customer: str | None = None) -> QuerySet[Invoice]:
    qs = visible(Invoice.objects.select_related("customer", "order", "shipment"), actor, via="order__")
    if status == "open":
        qs = qs.filter(settled__lt=F("amount"))
    elif status == "paid":
        qs = qs.filter(settled__gte=F("amount"))
    if customer:
        qs = qs.filter(customer__code=customer.strip().upper())
    return qs.order_by("-issued_at", "-pk")


def get_invoice(number: str, *, actor: Actor) -> Invoice:
    inv = invoices(actor).filter(number=number).first()
    if inv is None:
        raise NotFound("invoice_not_found", _("Invoice %(n)s does not exist.") % {"n": number})
    return inv


def payments(actor: Actor, *, unmatched: bool = False, customer: str | None = None) -> QuerySet[Payment]:
    qs = Payment.objects.select_related("customer", "order")
    q = scope_q(actor, via="")
    if q is not None:   # own customers only; payments nobody has matched are finance's to see
        qs = _customers(qs, actor)
    if unmatched:
        qs = qs.filter(applied__lt=F("amount"))
    if customer:
        qs = qs.filter(customer__code=customer.strip().upper())
    return qs.order_by("-received_on", "-pk")


def promises(actor: Actor, *, overdue: bool = False) -> QuerySet[PaymentPromise]:
    qs = visible(PaymentPromise.objects.select_related("invoice", "customer"), actor, via="invoice__order__")
    if overdue:
        qs = qs.filter(kept_at__isnull=True, promised_on__lt=today(), invoice__settled__lt=F("invoice__amount"))
    return qs.order_by("promised_on", "pk")


def credit_notes(actor: Actor) -> QuerySet[CreditNote]:
    return visible(CreditNote.objects.select_related("customer", "return_order"), actor, via="order__").order_by(
        "-issued_at", "-pk")


def returns(actor: Actor, *, status: str | None = None) -> QuerySet[ReturnOrder]:
    qs = visible(ReturnOrder.objects.select_related("order", "customer"), actor, via="order__")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def get_return(number: str, *, actor: Actor) -> ReturnOrder:
    r = returns(actor).filter(number=number).first()
    if r is None:
        raise NotFound("return_not_found", _("Return %(n)s does not exist.") % {"n": number})
    return r


def bank_imports(limit: int = 20) -> list[BankImport]:
    return list(BankImport.objects.order_by("-created_at", "-pk")[:limit])


def get_customer(code: str, *, actor: Actor) -> Customer:
    c = _customers(Customer.objects.all(), actor, via="").filter(code=code.strip().upper()).first()
    if c is None:
        raise NotFound("customer_not_found", _("Customer %(c)s does not exist.") % {"c": code})
    return c


# --------------------------------------------------------------------------- shapes


def invoice_dict(inv: Invoice) -> dict[str, Any]:
    return {"number": inv.number, "shipment": inv.shipment.number, "order": inv.order.number,
            "customer": inv.customer.code, "customer_name": inv.customer.name, "kind": inv.kind,
            "title": inv.title, "tax_no": inv.tax_no, "bank_name": inv.bank_name,
            "bank_account": inv.bank_account, "address_phone": inv.address_phone, "amount": inv.amount,
            "tax_rate": inv.tax_rate, "tax_amount": inv.tax_amount, "settled": inv.settled,
            "balance": inv.balance, "issued_on": inv.issued_on, "due_on": inv.due_on,
            "issued_by": inv.issued_by}


def payment_dict(p: Payment) -> dict[str, Any]:
    return {"number": p.number, "customer": p.customer.code if p.customer else None, "kind": p.kind,
            "source": p.source, "amount": p.amount, "applied": p.applied, "unapplied": p.unapplied,
            "received_on": p.received_on, "payer": p.payer, "memo": p.memo, "bank_ref": p.bank_ref,
            "order": p.order.number if p.order else None}


def promise_dict(p: PaymentPromise) -> dict[str, Any]:
    return {"id": p.pk, "invoice": p.invoice.number, "customer": p.customer.code, "amount": p.amount,
            "promised_on": p.promised_on, "note": p.note, "kept_at": p.kept_at, "alerted_at": p.alerted_at,
            "balance": p.invoice.balance}


def return_dict(r: ReturnOrder) -> dict[str, Any]:
    qc = getattr(r, "qc", None)
    note = getattr(r, "credit_note", None)
    return {"number": r.number, "order": r.order.number, "customer": r.customer.code, "status": r.status,
            "reason": r.reason, "created_at": r.created_at, "received_at": r.received_at,
            "lines": [{"line_no": ln.order_line.line_no, "sku": ln.order_line.product.sku, "qty": ln.qty,
                       "amount": ln.amount, "warehouse": ln.warehouse.code if ln.warehouse else None}
                      for ln in r.lines.select_related("order_line__product", "warehouse")],
            "qc": None if qc is None else {"passed": qc.passed, "remark": qc.remark, "file_name": qc.file_name,
                                           "recorded_by": qc.recorded_by, "recorded_at": qc.recorded_at},
            "credit_note": None if note is None else {"number": note.number, "amount": note.amount,
                                                      "applied": note.applied}}


def credit_note_dict(c: CreditNote) -> dict[str, Any]:
    return {"number": c.number, "customer": c.customer.code, "return_order": c.return_order.number,
            "amount": c.amount, "tax_amount": c.tax_amount, "applied": c.applied, "issued_on": c.issued_on}


# --------------------------------------------------------------------------- pages


def order_finance(order: Order) -> dict[str, Any]:
    """The order page's finance card: each shipment with its invoice (or why not yet), the
    returns and what may still come back per line."""
    ships = list(Shipment.objects.filter(order=order).select_related("invoice").order_by("seq"))
    rows = []
    for sh in ships:
        inv = getattr(sh, "invoice", None)
        rows.append({"shipment": sh, "invoice": inv, "refusal": "" if inv else invoice_refusal(sh)})
    left = returnable(order)
    lines = [{"line": ln, "returnable": left.get(ln.pk, ZERO)} for ln in order.lines.select_related("product")
             .order_by("line_no")]
    return {"shipments": rows, "returns": list(ReturnOrder.objects.filter(order=order).order_by("-pk")),
            "lines": lines, "any_returnable": any(v > 0 for v in left.values())}


def customer_summary(c: Customer) -> dict[str, Any]:
    open_inv = Invoice.objects.filter(customer=c, settled__lt=F("amount"))
    agg = open_inv.aggregate(s=Sum(F("amount") - F("settled")))
    overdue = open_inv.filter(due_on__lt=today()).aggregate(s=Sum(F("amount") - F("settled")))
    unapplied = Payment.objects.filter(customer=c, applied__lt=F("amount")).aggregate(s=Sum(F("amount") - F("applied")))
    return {"code": c.code, "name": c.name, "credit_limit": c.credit_limit, "unpaid_amount": c.unpaid_amount,
            "unpaid_external": c.unpaid_external, "open_balance": agg["s"] or ZERO, "overdue_balance": overdue["s"] or ZERO,
            "unapplied_payments": unapplied["s"] or ZERO, "tax_no": c.tax_no, "bank_name": c.bank_name,
            "bank_account": c.bank_account, "billing_address": c.billing_address,
            "billing_phone": c.billing_phone}


def overdue_invoices_q() -> Q:
    return Q(settled__lt=F("amount"), due_on__lt=today())

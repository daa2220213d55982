"""Payments and deposits recorded by hand, and settling invoices with them (核销): never more
than the payment has left, never more than the invoice owes (rows locked: customer, invoice,
payment; and the check constraints behind it)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock, permissions
from orderhub.core.actors import Actor
from orderhub.core.errors import Conflict, NotFound
from orderhub.core.locking import lock_own_rows
from orderhub.orders.models import Order

from .. import events
from ..models import Allocation, Invoice, Payment
from .common import (
    CENT,
    allocate,
    audit,
    create_numbered,
    invalid,
    lock_customer,
    lock_invoices,
    mark_kept,
    over_apply,
)
from .credit import unpaid_changed


def check_amount(amount: Decimal, field: str = "amount") -> Decimal:
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT) or amount >= Decimal("1e13"):
        raise invalid("invalid_amount", _("The amount must be a number above 0 with at most two decimals."), field)
    return amount


def payment_record(*, customer: str, amount: Decimal, received_on: date, actor: Actor,
                   kind: str = Payment.Kind.PAYMENT, order: str | None = None, payer: str = "",
                   memo: str = "", invoice: str | None = None) -> Payment:
    """Record money received from ``customer`` (a deposit may name its ``order``); with
    ``invoice`` it settles that invoice at once (as much as both allow)."""
    permissions.check(actor, "finance.manage")
    check_amount(amount)
    if kind not in Payment.Kind.values:
        raise invalid("invalid_kind", _("The payment type must be payment for goods or deposit."), "kind")
    cust = Customer.objects.filter(code=customer.strip().upper()).first()
    if cust is None:
        raise NotFound("customer_not_found", _("Customer %(c)s does not exist.") % {"c": customer})
    linked = None
    if order:
        linked = Order.objects.filter(number=order, customer=cust).first()
        if linked is None:
            raise invalid("order_not_found", _("Customer %(c)s has no order %(o)s.") % {"c": cust.code, "o": order}, "order")
    with transaction.atomic():
        lock_customer(cust.pk)
        pay = create_numbered(Payment, f"SK{received_on:%y%m%d}", customer=cust, order=linked, kind=kind,
                              amount=amount, received_on=received_on, payer=(payer or cust.name)[:200],
                              memo=memo[:300], recorded_at=clock.now(), recorded_by=actor.label[:150])
        audit("payment", pay.pk, events.PAYMENT_RECORDED, actor, number=pay.number, amount=amount,
              customer=cust.code, source=pay.source, bank_ref="")
        if invoice:
            payment_apply(payment=pay.number, invoice=invoice, actor=actor)
        return pay


def payment_apply(*, payment: str, invoice: str, actor: Actor, amount: Decimal | None = None) -> Allocation:
    """Settle ``invoice`` with ``amount`` of ``payment`` (default: as much as both allow). A
    payment without a customer (an unmatched bank row) takes the invoice's. 409 ``over_applied``
    naming what is left; ``customer_mismatch``."""
    permissions.check(actor, "finance.manage")
    if amount is not None:
        check_amount(amount)
    inv_row = Invoice.objects.filter(number=invoice).values_list("pk", "customer_id").first()
    if inv_row is None:
        raise NotFound("invoice_not_found", _("Invoice %(n)s does not exist.") % {"n": invoice})
    if not Payment.objects.filter(number=payment).exists():
        raise NotFound("payment_not_found", _("Payment %(n)s does not exist.") % {"n": payment})
    with transaction.atomic():
        lock_customer(inv_row[1])
        inv = lock_invoices([inv_row[0]])[inv_row[0]]
        pay = lock_own_rows(Payment.objects.filter(number=payment)).get()
        if pay.customer_id is not None and pay.customer_id != inv.customer_id:
            raise Conflict("customer_mismatch", _("Payment %(p)s and invoice %(i)s belong to different customers.") % {
                "p": pay.number, "i": inv.number})
        take = amount if amount is not None else min(pay.unapplied, inv.balance)
        if take > pay.unapplied or pay.unapplied <= 0:
            raise over_apply(_("Payment %(n)s") % {"n": pay.number}, pay.unapplied)
        if take > inv.balance or inv.balance <= 0:
            raise over_apply(_("Invoice %(n)s") % {"n": inv.number}, inv.balance)
        if pay.customer_id is None:
            Payment.objects.filter(pk=pay.pk).update(customer_id=inv.customer_id)
        alloc = allocate(invoice=inv, amount=take, actor=actor, payment=pay)
        audit("payment", pay.pk, events.PAYMENT_APPLIED, actor, invoice=inv.number, amount=take)
        mark_kept(inv)
        unpaid_changed(inv.customer_id, actor)
        return alloc

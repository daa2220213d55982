"""Issue the invoice of a shipment: only through the gate (shipped, proof of delivery and the
customer's acceptance: ``shipping.selectors.invoice_refusal``), never twice for one shipment
(the shipment row is locked and ``Invoice.shipment`` is unique), with the buyer's tax and bank
details copied from the customer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock, permissions
from orderhub.core.actors import Actor
from orderhub.core.errors import Conflict, NotFound, Problem, ValidationFailed
from orderhub.orders.selectors import check_visible
from orderhub.shipping.models import Shipment
from orderhub.shipping.selectors import invoice_refusal

from .. import events
from ..models import Invoice
from .common import audit, invalid, lock_customer, money, today
from .credit import unpaid_changed

DEFAULT_TAX_RATE = Decimal("0.13")
MAX_DUE_DAYS = 365


def _details_missing(customer: Customer, kind: str) -> list[Problem]:
    """What the customer's record lacks for this kind of invoice (专票 needs bank and address)."""
    need = [("tax_no", _("Taxpayer ID"))]
    if kind == Invoice.Kind.SPECIAL:
        need += [("bank_name", _("Bank")), ("bank_account", _("Bank account")),
                 ("billing_address", _("Invoice address")), ("billing_phone", _("Invoice phone"))]
    out = []
    for field, label in need:
        if not getattr(customer, field).strip():
            msg = _("Customer %(c)s lacks %(what)s, so no %(kind)s can be issued (fill it in on the customer's record first).") % {
                "c": customer.name, "what": label, "kind": Invoice.Kind(kind).label}
            out.append(Problem("customer_details_missing", msg, field=f"customer.{field}"))
    return out


def invoice_issue(*, shipment: str, kind: str, actor: Actor, tax_rate: Decimal = DEFAULT_TAX_RATE,
                  due_days: int = 30) -> Invoice:
    """Issue the VAT invoice (``kind`` "normal" 普票 or "special" 专票) of a shipment: the amount is
    its quantities at the order lines' prices (tax included). Refused, with the reason in
    Chinese: 409 ``invoice_gate`` (no POD or acceptance yet), ``already_invoiced``,
    ``customer_details_missing`` (422)."""
    permissions.check(actor, "finance.manage")
    if kind not in Invoice.Kind.values:
        raise invalid("invalid_kind", _("The invoice type must be ordinary or special."), "kind")
    if not (Decimal("0") <= tax_rate < Decimal("1")) or tax_rate != tax_rate.quantize(Decimal("0.0001")):
        raise invalid("invalid_tax_rate", _("The tax rate must be between 0 and 1 (e.g. 0.13)."), "tax_rate")
    if not 0 <= due_days <= MAX_DUE_DAYS:
        raise invalid("invalid_due_days", _("Payment terms must be between 0 and 365 days."), "due_days")
    found = Shipment.objects.filter(number=shipment).values_list("order__number", "order__customer_id").first()
    if found is None:
        raise NotFound("shipment_not_found", _("Shipment %(n)s does not exist.") % {"n": shipment})
    check_visible(found[0], actor)
    with transaction.atomic():
        lock_customer(found[1])
        sh = Shipment.objects.select_for_update().select_related("order__customer").get(number=shipment)
        if Invoice.objects.filter(shipment=sh).exists():
            raise Conflict("already_invoiced", _("Shipment %(n)s has already been invoiced.") % {"n": sh.number})
        refusal = invoice_refusal(sh)
        if refusal:
            raise Conflict("invoice_gate", refusal, problems=[Problem("invoice_gate", refusal, field="shipment")])
        customer = sh.order.customer
        missing = _details_missing(customer, kind)
        if missing:
            raise ValidationFailed("customer_details_missing", str(missing[0].message), problems=missing)
        invoice = _create(sh, customer, kind, tax_rate, due_days, actor)
        audit("invoice", invoice.pk, events.INVOICE_ISSUED, actor, number=invoice.number,
              shipment=sh.number, order=sh.order.number, kind=kind, amount=invoice.amount,
              tax_amount=invoice.tax_amount)
        unpaid_changed(customer.pk, actor)
        return invoice


def _create(sh: Shipment, customer: Customer, kind: str, tax_rate: Decimal, due_days: int,
            actor: Actor) -> Invoice:
    amount = money(sum((r.qty * r.order_line.unit_price for r in sh.lines.select_related("order_line")),
                       Decimal("0")))
    if amount <= 0:
        raise Conflict("nothing_to_invoice", _("Shipment %(n)s has a zero amount; no invoice is needed.") % {"n": sh.number})
    issued_on = today()
    address_phone = " ".join(p for p in (customer.billing_address.strip(), customer.billing_phone.strip()) if p)
    try:
        with transaction.atomic():
            return Invoice.objects.create(
                number=f"FP{sh.number}", shipment=sh, order=sh.order, customer=customer, kind=kind,
                title=customer.name[:200], tax_no=customer.tax_no.strip(), bank_name=customer.bank_name,
                bank_account=customer.bank_account, address_phone=address_phone[:300],
                amount=amount, tax_rate=tax_rate, tax_amount=money(amount * tax_rate / (1 + tax_rate)),
                issued_on=issued_on, due_on=issued_on + timedelta(days=due_days),
                issued_at=clock.now(), issued_by=actor.label[:150])
    except IntegrityError as e:   # the unique shipment: a second issuer that got past the lock
        raise Conflict("already_invoiced", _("Shipment %(n)s has already been invoiced.") % {"n": sh.number}) from e

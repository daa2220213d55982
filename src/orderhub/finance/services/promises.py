"""Payment promises: the customer says they will pay an invoice by a date. The sweep (a periodic
job) marks a promise kept once the invoice is settled, and when the date has passed with money
still owed tells the customer's sales owner and the finance role, once per promise (the
outbox's dedupe key and ``alerted_at``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock, permissions
from orderhub.core.actors import Actor
from orderhub.core.errors import Conflict, NotFound
from orderhub.core.locking import lock_own_rows
from orderhub.notify.services import Recipient, notify

from .. import events
from ..models import Invoice, PaymentPromise
from .common import audit, invalid, today
from .payments import check_amount

SWEEP_BATCH = 500


def promise_create(*, invoice: str, promised_on: date, actor: Actor, amount: Decimal | None = None,
                   note: str = "") -> PaymentPromise:
    """Record that the customer promised to pay ``amount`` (default: what the invoice still
    owes) of ``invoice`` by ``promised_on`` (today or later)."""
    permissions.check(actor, "finance.manage")
    if amount is not None:
        check_amount(amount)
    if promised_on < today():
        raise invalid("date_in_past", _("The promised payment date cannot be before today."), "promised_on")
    with transaction.atomic():
        inv = lock_own_rows(Invoice.objects.filter(number=invoice)).first()
        if inv is None:
            raise NotFound("invoice_not_found", _("Invoice %(n)s does not exist.") % {"n": invoice})
        if inv.balance <= 0:
            raise Conflict("invoice_settled", _("Invoice %(n)s is settled; no payment promise is needed.") % {"n": inv.number})
        take = amount if amount is not None else inv.balance
        if take > inv.balance:
            raise invalid("over_balance", _("The promised amount cannot exceed the invoice's outstanding %(b)s yuan.") % {"b": f"{inv.balance:,.2f}"},
                          "amount")
        p = PaymentPromise.objects.create(invoice=inv, customer_id=inv.customer_id, amount=take,
                                          promised_on=promised_on, note=note.strip()[:300],
                                          created_at=clock.now(), created_by=actor.label[:150])
        audit("invoice", inv.pk, events.PROMISE_CREATED, actor, promise=p.pk, amount=take,
              promised_on=promised_on)
        return p


def promises_sweep() -> int:
    """Alert on promises whose date passed unpaid; how many alerts were queued. Safe to run on
    several machines at once (rows claimed with SKIP LOCKED) and to run twice."""
    actor = Actor.system("finance.promises")
    due = today()
    sent = 0
    with transaction.atomic():
        rows = list(lock_own_rows(
            PaymentPromise.objects.filter(kept_at__isnull=True, alerted_at__isnull=True, promised_on__lt=due)
            .select_related("invoice__customer", "invoice__order"), skip_locked=True).order_by("pk")[:SWEEP_BATCH])
        now = clock.now()
        for p in rows:
            inv = p.invoice
            if inv.balance <= 0:
                PaymentPromise.objects.filter(pk=p.pk).update(kept_at=now)
                continue
            sent += _alert(p, inv, actor)
            PaymentPromise.objects.filter(pk=p.pk).update(alerted_at=now)
            audit("invoice", inv.pk, events.PROMISE_BROKEN, actor, promise=p.pk, balance=inv.balance,
                  promised_on=p.promised_on)
    return sent


def _alert(p: PaymentPromise, inv: Invoice, actor: Actor) -> int:
    customer = inv.customer
    recipients = [Recipient.role("finance")]
    if customer.sales_owner_id:
        recipients.insert(0, Recipient.user(customer.sales_owner_id))
    subject = _("Payment promise overdue: %(c)s invoice %(n)s") % {"c": customer.name, "n": inv.number}
    body = _("Customer %(c)s promised to pay %(a)s yuan of invoice %(n)s by %(d)s and still owes %(b)s yuan; please follow up.") % {
        "c": customer.name, "d": f"{p.promised_on:%Y年%m月%d日}", "n": inv.number,
        "a": f"{p.amount:,.2f}", "b": f"{inv.balance:,.2f}"}
    return notify(event=events.PROMISE_OVERDUE, recipients=recipients, order=inv.order, severity="info",
                  context={"subject": subject, "message": body, "invoice": inv.number},
                  dedupe_key=f"promise-overdue:{p.pk}")

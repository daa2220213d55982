"""What the finance services share: money rounding, document numbers, the audit entry,
locking invoices in one order, and the one allocation write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.errors import Conflict, Problem, ValidationFailed
from orderhub.core.locking import lock_own_rows

from ..models import Allocation, CreditNote, Invoice, Payment, PaymentPromise

CENT = Decimal("0.01")
ZERO = Decimal("0")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def invalid(code: str, message: str, field: str) -> ValidationFailed:
    return ValidationFailed(code, message, problems=[Problem(code, message, field=field)])


def today() -> date:
    """The business day (local time) of ``clock.now()``."""
    return timezone.localtime(clock.now()).date()


def audit(subject_type: str, subject_id: int, action: str, actor: Actor, **data: Any) -> None:
    append_event(subject_type=subject_type, subject_id=subject_id, action=action, actor=actor,
                 data={k: (str(v) if isinstance(v, Decimal | date) else v) for k, v in data.items()})


def lock_customer(customer_id: int) -> None:
    """Lock the customer's row first (finance writes lock customer, invoices by pk, then the
    payment or credit note), so two writes for one customer serialise and the unpaid sum each
    computes sees the other's committed work."""
    list(lock_own_rows(Customer.objects.filter(pk=customer_id)).values_list("pk", flat=True))


def lock_invoices(pks: Iterable[int]) -> dict[int, Invoice]:
    """Invoices locked in primary-key order (every finance write locks them this way)."""
    rows = lock_own_rows(Invoice.objects.filter(pk__in=set(pks))).order_by("pk")
    return {inv.pk: inv for inv in rows}


def allocate(*, invoice: Invoice, amount: Decimal, actor: Actor, payment: Payment | None = None,
             credit_note: CreditNote | None = None) -> Allocation:
    """Settle ``amount`` of a locked ``invoice`` from a locked payment or credit note; the
    caller has checked both have that much left (the check constraints refuse otherwise)."""
    now, who = clock.now(), actor.label[:150]
    Invoice.objects.filter(pk=invoice.pk).update(settled=F("settled") + amount)
    invoice.settled += amount
    if payment is not None:
        Payment.objects.filter(pk=payment.pk).update(applied=F("applied") + amount)
        payment.applied += amount
    if credit_note is not None:
        CreditNote.objects.filter(pk=credit_note.pk).update(applied=F("applied") + amount)
        credit_note.applied += amount
    return Allocation.objects.create(invoice=invoice, payment=payment, credit_note=credit_note,
                                     amount=amount, at=now, by=who)


def over_apply(what: str, left: Decimal) -> Conflict:
    msg = _("%(what)s can settle at most %(left)s yuan more.") % {"what": what, "left": f"{left:,.2f}"}
    return Conflict("over_applied", msg, problems=[Problem("over_applied", msg, field="amount")])


def create_numbered(model: Any, prefix: str, **fields: Any) -> Any:
    """Create a row numbered ``<prefix>-NNNN`` (the next after the highest with that prefix); two
    writers that pick the same number: the second retries with the next one."""
    for _attempt in range(20):
        last = (model.objects.filter(number__startswith=f"{prefix}-").order_by("-number")
                .values_list("number", flat=True).first())
        n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
        try:
            with transaction.atomic():
                return model.objects.create(number=f"{prefix}-{n:04d}", **fields)
        except IntegrityError:
            if model.objects.filter(number=f"{prefix}-{n:04d}").exists():
                continue
            raise
    raise Conflict("busy", _("Number conflict, please try again."))


def mark_kept(invoice: Invoice) -> None:
    """Promises on a settled invoice are kept."""
    if invoice.settled >= invoice.amount:
        PaymentPromise.objects.filter(invoice=invoice, kept_at__isnull=True).update(kept_at=clock.now())

"""A bank statement applied: every row becomes a payment and is matched to an invoice (by the
invoice number in the memo, else by the payer's customer and the exact open amount); rows that
match nothing stay unapplied for a person to match. All rows or none: a file with one bad row is
refused with every fault listed by row, and the rows are applied in one transaction."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock, permissions
from orderhub.core.actors import Actor
from orderhub.core.errors import Conflict, Problem, ValidationFailed

from .. import events
from ..models import BankImport, Invoice, Payment
from ..statement import StatementRow, parse
from .common import allocate, audit, create_numbered, lock_customer, lock_invoices, mark_kept
from .credit import unpaid_changed

INVOICE_NO = re.compile(r"FP[0-9A-Za-z-]+")


class BankRowError(ValidationFailed):
    """The statement was refused: ``problems`` names each bad row (``rows.<n>``)."""


@dataclass
class _Plan:
    row: StatementRow
    customer_id: int | None = None
    invoice_id: int | None = None
    how: str = ""
    result: dict[str, Any] = field(default_factory=dict)


def _plan(rows: list[StatementRow]) -> list[_Plan]:
    """Which customer and invoice each row looks like (read only; applied under locks later)."""
    numbers = {m for r in rows for m in INVOICE_NO.findall(r.memo)}
    by_number = {i.number: i for i in Invoice.objects.filter(number__in=numbers)}
    names = {r.payer for r in rows if r.payer}
    by_name = {c.name: c.pk for c in Customer.objects.filter(name__in=names)}
    plans = []
    for r in rows:
        p = _Plan(r, customer_id=by_name.get(r.payer))
        for m in INVOICE_NO.findall(r.memo):
            if m in by_number:
                p.invoice_id, p.customer_id, p.how = by_number[m].pk, by_number[m].customer_id, "memo"
                break
        if p.invoice_id is None and p.customer_id is not None:
            inv = (Invoice.objects.filter(customer_id=p.customer_id, settled__lt=F("amount"))
                   .annotate(bal=F("amount") - F("settled")).filter(bal=r.amount)
                   .order_by("issued_on", "pk").first())
            if inv is not None:
                p.invoice_id, p.how = inv.pk, "amount"
        plans.append(p)
    return plans


def bank_import(*, name: str, content: bytes, actor: Actor) -> BankImport:
    """Apply a bank statement file (CSV or XLSX). 422 ``bad_rows`` (nothing written) with one
    problem per bad row; 409 ``already_imported`` for the same file or a row whose bank
    reference was imported before."""
    permissions.check(actor, "finance.manage")
    rows, problems = parse(name, content)
    digest = hashlib.sha256(content).hexdigest()
    if not problems:
        known = set(Payment.objects.filter(bank_ref__in=[r.ref for r in rows]).values_list("bank_ref", flat=True))
        problems = [Problem("already_imported", _("Row %(n)s: transaction %(r)s has already been imported.") % {"n": r.row, "r": r.ref},
                            field=f"rows.{r.row}") for r in rows if r.ref in known]
    if problems:
        raise BankRowError("bad_rows", _("The bank statement has %(n)s errors; nothing in the file was imported: %(first)s") % {
            "n": len(problems), "first": problems[0].message}, problems=problems)
    if BankImport.objects.filter(sha256=digest).exists():
        raise Conflict("already_imported", _("This bank statement has already been imported."))
    with transaction.atomic():
        plans = _plan(rows)
        customers = sorted({p.customer_id for p in plans if p.customer_id is not None})
        for cid in customers:
            lock_customer(cid)
        invoices = lock_invoices(p.invoice_id for p in plans if p.invoice_id is not None)
        imp = BankImport.objects.create(name=name[:200], sha256=digest, rows=len(rows), matched=0,
                                        unmatched=0, created_at=clock.now(), created_by=actor.label[:150])
        for p in plans:
            _apply_row(imp, p, invoices, actor)
        imp.matched = sum(1 for p in plans if p.result["result"] == "matched")
        imp.unmatched = len(plans) - imp.matched
        imp.results = [p.result for p in plans]
        imp.save(update_fields=["matched", "unmatched", "results"])
        for cid in customers:
            unpaid_changed(cid, actor)
        audit("bank_import", imp.pk, events.BANK_IMPORT_APPLIED, actor, name=imp.name, rows=imp.rows,
              matched=imp.matched, unmatched=imp.unmatched)
        return imp


def _apply_row(imp: BankImport, p: _Plan, invoices: dict[int, Invoice], actor: Actor) -> None:
    r = p.row
    pay = create_numbered(Payment, f"SK{r.on:%y%m%d}", customer_id=p.customer_id, amount=r.amount,
                          received_on=r.on, payer=r.payer, memo=r.memo, bank_ref=r.ref,
                          source=Payment.Source.BANK, bank_import=imp, recorded_at=clock.now(),
                          recorded_by=actor.label[:150])
    audit("payment", pay.pk, events.PAYMENT_RECORDED, actor, number=pay.number, amount=r.amount,
          customer=p.customer_id, source=pay.source, bank_ref=r.ref)
    inv = invoices.get(p.invoice_id) if p.invoice_id is not None else None
    take = min(r.amount, inv.balance) if inv is not None else Decimal("0")
    p.result = {"row": r.row, "ref": r.ref, "amount": str(r.amount), "payer": r.payer,
                "payment": pay.number, "result": "unmatched", "invoice": "", "applied": "0.00"}
    if inv is None or take <= 0:
        p.result["message"] = _("No invoice matched; please settle by hand.")
        return
    allocate(invoice=inv, amount=take, actor=actor, payment=pay)
    audit("payment", pay.pk, events.PAYMENT_APPLIED, actor, invoice=inv.number, amount=take)
    mark_kept(inv)
    p.result.update(result="matched", invoice=inv.number, applied=str(take), message=(
        _("Matched by the invoice number in the summary") if p.how == "memo" else _("Matched by customer and amount")))

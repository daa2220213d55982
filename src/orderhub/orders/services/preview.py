"""What an order would be before it is saved: every problem at once, the line amounts and the
total, and the warnings a person should confirm (a date already past, credit exceeded). Writes
nothing; the new-order form and ``POST /api/orders/preview`` show it as the user types."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.errors import DomainError, Problem
from orderhub.core.permissions import check_line_prices
from orderhub.workflow.spec import CompiledWorkflow

from ..facts import OrderFacts, open_order_amount
from ..inputs import OrderInput
from ..models import Order, OrderLine
from .create import _assemble, _master, _workflow_for
from .stages import evaluate_guards


@dataclass
class Preview:
    lines: list[OrderLine]
    total: Decimal
    currency: str = "CNY"
    customer: Customer | None = None
    credit_available: Decimal | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _money(value: Decimal) -> str:
    return f"¥{value:,.2f}"


def order_preview(*, data: OrderInput, actor: Actor) -> Preview:
    """The order ``data`` would make for ``actor``: its lines and total, every error (the same
    checks as ``order_create``, all at once) and the warnings to confirm before saving."""
    lk = _master([data])
    order, lines, errors = _assemble(data, lk)
    wf = None
    try:
        _definition, wf = _workflow_for(data)
    except DomainError as e:
        errors.extend(e.problems)
    if order is not None and lines:
        try:
            check_line_prices(actor=actor, customer=order.customer, lines=lines,
                              prices=lk.price_book(order.customer))
        except DomainError as e:
            errors.extend(e.problems)
    total = sum((ln.amount for ln in lines), Decimal("0"))
    out = Preview(lines=lines, total=total, errors=errors)
    today = clock.now().astimezone(get_business_calendar().tz).date()
    for name, value, label in (("required_date", data.required_date, _("The required date")),
                               ("promised_date", data.promised_date, _("The promised date"))):
        if value is not None and value < today:
            out.warnings.append(Problem("past_date", _("%(what)s %(date)s is already past (today is %(today)s).")
                                        % {"what": label, "date": value.isoformat(), "today": today.isoformat()},
                                        field=name))
    if order is None:
        return out
    cust = order.customer
    out.customer = cust
    if cust.credit_limit > 0:
        available = cust.credit_limit - open_order_amount(cust.pk) - cust.unpaid_amount
        out.credit_available = available
        if total > available:
            out.warnings.append(Problem(
                "credit_exceeded",
                _("This order (%(total)s) exceeds the credit left to %(customer)s: limit %(limit)s, "
                  "open orders and unpaid invoices leave %(available)s.")
                % {"total": _money(total), "customer": cust.name, "limit": _money(cust.credit_limit),
                   "available": _money(available)},
                field="customer", data={"available": str(available), "total": str(total)}))
    if wf is not None and lines and not errors:
        out.warnings.extend(_guards_ahead(order, lines, wf))
    return out


def _guards_ahead(order: Order, lines: list[OrderLine], wf: CompiledWorkflow) -> list[Problem]:
    """The workflow's credit guards this order would fail later on (as the credit rule says):
    named by the stage where they will stop it."""
    facts = OrderFacts(order, lines)
    found = []
    for stage in wf.stages.values():
        credit = [g for g in stage.guards if g.spec.expr and "credit" in g.spec.expr]
        if not credit:
            continue
        for reason in evaluate_guards(order, lines, replace(stage, guards=tuple(credit)), facts=facts):
            found.append(Problem("credit_guard", _("At stage %(stage)s this order will be stopped: %(reason)s")
                                 % {"stage": stage.spec.name, "reason": reason.message}, field="customer"))
    return found


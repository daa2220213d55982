"""The credit breaker. A customer's available credit is the credit limit − the amount of their
open orders − their unpaid invoices (the figure of ``OrderFacts.credit_available`` and the order
preview; a limit of 0 means none is set, and the breaker does not watch that customer). Below
zero, every open order of the customer at a stage the breaker watches (set the stage range to
the stages before shipping) is paused and finance gets a ticket; back at or above zero the
breaker resets and the orders it paused resume.

:func:`recheck_customer` is the one entry point. It is called whenever a customer's credit
figures change: ``catalog.services.customer_save`` tells the listeners registered at start-up
(``OrdersConfig.ready``) when ``credit_limit`` or ``unpaid_amount`` changed, so the settings
page, the customer import and anything else saving a customer reach it; invoices and payments
should call it after changing ``unpaid_amount`` (inside their transaction). An order's own
amount is the other input: a line edit, an approved change or a restore that changes an open
order's total is heard by :func:`on_order_changes` (an ``orders.hooks`` subscriber), which calls
:func:`recheck_after_commit` (the trips recorded in its transaction, the orders paused once it
commits: the edited order is locked by it). The amount also falls when an
order is cancelled or completed; the periodic job ``orders.breakers_apply`` rechecks every
customer with an active credit trip (:func:`recheck_tripped`), so those trips reset within a
minute."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.core.actors import Actor

from ..facts import open_order_amount
from ..models import Breaker, BreakerTrip, Order
from .config import breaker_config
from .trips import Trip, apply_after_commit, apply_pending, record_resets, record_trips

if TYPE_CHECKING:
    from ..hooks import OrderChange

KIND = Breaker.Kind.CREDIT


def available_credit(customer: Customer) -> Decimal | None:
    """Limit − open orders − unpaid; None when the customer has no limit set."""
    if customer.credit_limit <= 0:
        return None
    return customer.credit_limit - open_order_amount(customer.pk) - customer.unpaid_amount


def _money(v: Decimal) -> str:
    return f"{v:,.2f}"


def recheck_customer(customer_id: int, *, actor: Actor) -> list[int]:
    """Trip or reset the credit breaker for one customer, in the caller's transaction (or its
    own): pauses their watched open orders when the available credit is below zero, resumes
    the orders it paused when it is not. Returns the ids of the orders paused or resumed.
    Safe to call any number of times (a trip already active is kept)."""
    with transaction.atomic():
        return apply_pending(_record(customer_id, actor=actor), actor=actor)


def recheck_after_commit(customer_id: int, *, actor: Actor) -> None:
    """The same check with the trips and resets recorded in the caller's transaction and
    applied to the orders once it commits (for a caller that holds one of them locked)."""
    apply_after_commit(_record(customer_id, actor=actor))


def recheck_tripped(*, actor: Actor) -> list[int]:
    """Recheck every customer with an active credit trip (the periodic job: an order cancelled
    or completed frees credit without a customer change). Returns the orders paused or resumed."""
    subjects = (BreakerTrip.objects.filter(kind=KIND, reset_at__isnull=True).order_by()
                .values_list("subject", flat=True).distinct())
    out: list[int] = []
    for subject in subjects:
        out += recheck_customer(int(subject.removeprefix("customer:")), actor=actor)
    return out


def _record(customer_id: int, *, actor: Actor) -> set[int]:
    """Record the trips and resets of one customer's orders; the orders touched."""
    with transaction.atomic():
        customer = Customer.objects.get(pk=customer_id)
        cfg = breaker_config(KIND)
        available = available_credit(customer) if cfg.enabled else None
        subj = f"customer:{customer_id}"
        active = dict(BreakerTrip.objects.filter(kind=KIND, subject=subj, reset_at__isnull=True)
                      .order_by().values_list("order_id", "pk"))
        now = clock.now()
        touched: set[int] = set()
        if available is not None and available < 0:
            orders = Order.objects.filter(customer_id=customer_id, status=Order.Status.OPEN)
            if cfg.stages:
                orders = orders.filter(stage__in=cfg.stages)
            ids = set(orders.values_list("pk", flat=True))
            reason = _("客户「%(name)s」可用信用 %(avail)s 元（额度 %(limit)s，未结订单 %(open)s，未付 %(unpaid)s）") % {
                "name": customer.name, "avail": _money(available), "limit": _money(customer.credit_limit),
                "open": _money(customer.credit_limit - available - customer.unpaid_amount),
                "unpaid": _money(customer.unpaid_amount)}
            detail = {"customer": customer.code, "available": str(available)}
            touched |= record_trips(KIND, [Trip(oid, subj, reason, detail) for oid in sorted(ids - set(active))],
                                    now=now)
            gone = [pk for oid, pk in active.items() if oid not in ids]
        else:
            gone = list(active.values())
        touched |= record_resets(gone, now=now, by=actor.label,
                                 reason=_("客户信用已恢复") if cfg.enabled else _("熔断器已停用"))
        return touched


def on_order_changes(changes: list[OrderChange]) -> None:
    """The order-change subscriber (``orders.hooks``): an open order whose total changed (lines
    edited, a change applied, a snapshot restored) rechecks its customer, the orders paused
    once the change commits. No query when no total changed."""
    customers = {c.order.customer_id: c.actor for c in changes
                 if "total_amount" in c.changes and c.order.status == Order.Status.OPEN}
    for customer_id in sorted(customers):
        recheck_after_commit(customer_id, actor=customers[customer_id])


def on_customer_credit_changed(customer_id: int, actor: Actor) -> None:
    """The listener ``catalog.services.customer_save`` calls when the credit figures changed."""
    recheck_customer(customer_id, actor=actor)

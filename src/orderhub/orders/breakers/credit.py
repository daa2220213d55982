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
should call it after changing ``unpaid_amount`` (inside their transaction)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.core.actors import Actor

from ..facts import open_order_amount
from ..models import Breaker, BreakerTrip, Order
from .config import breaker_config
from .trips import Trip, apply_pending, record_resets, record_trips

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
        return apply_pending(touched, actor=actor)


def on_customer_credit_changed(customer_id: int, actor: Actor) -> None:
    """The listener ``catalog.services.customer_save`` calls when the credit figures changed."""
    recheck_customer(customer_id, actor=actor)

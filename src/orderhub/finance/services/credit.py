"""The one door to ``Customer.unpaid_amount``: every finance write that changes an invoice's
balance (issue, payment, credit note) calls ``unpaid_changed`` in its own transaction, so the
customer's unpaid amount is always the sum of their open invoice balances plus what they owe
outside OrderHub (``Customer.unpaid_external``: typed on the customer page or sent by the ERP),
and available credit (``credit_limit − open orders − unpaid``) follows."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F, Sum

from orderhub.catalog.services import customer_unpaid_set
from orderhub.core.actors import Actor

from ..models import Invoice
from .common import lock_customer

# what the customer's history says changed the amount
_REASON = "finance: open invoice balances"


def open_balance(customer_id: int) -> Decimal:
    """The sum of the customer's open invoice balances (amount − settled)."""
    total = (Invoice.objects.filter(customer_id=customer_id, settled__lt=F("amount"))
             .aggregate(s=Sum(F("amount") - F("settled")))["s"])
    return total or Decimal("0.00")


def unpaid_changed(customer_id: int, actor: Actor) -> Decimal:
    """Set the customer's unpaid amount to their open invoice balances plus what they owe
    outside OrderHub (in the caller's transaction; the customer row is locked by
    ``customer_unpaid_set``) and return the open invoice balances."""
    lock_customer(customer_id)   # then the sum sees every committed change before ours
    unpaid = open_balance(customer_id)
    customer_unpaid_set(customer_id=customer_id, invoiced=unpaid, actor=actor, reason=_REASON)
    # the credit breaker (orders.breakers.credit) hears of the change through the catalog's
    # credit listeners, in this transaction: a customer now over its limit has its orders paused
    return unpaid

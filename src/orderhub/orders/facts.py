"""What guards and messages may ask about an order, computed lazily.

A guard names the facts it needs (``Expression.names``); only those are computed, each with
at most one query for all lines together, so a 1,000-line order costs the same queries as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, time
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from orderhub.core import clock
from orderhub.inventory.models import Reservation
from orderhub.inventory.selectors import available_by_product, reserved_for_order
from orderhub.inventory.services import Shortage, stock_reserve

from .kitting import bom_requirements
from .models import Order, OrderLine


def open_order_amount(customer_id: int, *, exclude_order_id: int | None = None) -> Decimal:
    qs = Order.objects.filter(customer_id=customer_id, status=Order.Status.OPEN)
    if exclude_order_id:
        qs = qs.exclude(pk=exclude_order_id)
    return qs.aggregate(s=Sum("total_amount"))["s"] or Decimal("0")


class OrderFacts:
    def __init__(self, order: Order, lines: list[OrderLine]):
        self.order = order
        self.lines = lines
        # kitting by date: what open POs make up per material, and the notes naming them
        self.po_covered: dict[int, Decimal] = {}
        self.kitting_notes: list[str] = []

    @cached_property
    def credit_available(self) -> Decimal:
        """Limit − other open orders − unpaid invoices. The order itself is left out so the
        guard compares the room left with this order's total."""
        cust = self.order.customer
        return (cust.credit_limit - open_order_amount(cust.pk, exclude_order_id=self.order.pk)
                - cust.unpaid_amount)

    @cached_property
    def held_by_order(self) -> dict[int, Decimal]:
        return reserved_for_order(self.order.pk) if self.order.pk else {}

    @cached_property
    def stock(self) -> dict[int, Decimal]:
        """Free stock per product plus what this order already holds of it."""
        free = self.free_stock({line.product_id for line in self.lines})
        held = self.held_by_order
        return {pid: free.get(pid, Decimal("0")) + held.get(pid, Decimal("0"))
                for pid in {line.product_id for line in self.lines}}

    def free_stock(self, product_ids: Iterable[int]) -> dict[int, Decimal]:
        """Free stock of these products (a batch move reads its locked stock book instead)."""
        return available_by_product(product_ids)

    def reserve(self, **kw: Any) -> tuple[list[Reservation], list[Shortage]]:
        """Reserve for the order (``stock_reserve``; a batch move reserves in its stock book)."""
        return stock_reserve(**kw)

    @cached_property
    def bom(self):
        """(requirements, products by id) of the BOM explosion, computed once per move."""
        return bom_requirements(self.lines)

    @cached_property
    def total_qty(self) -> Decimal:
        return sum((line.base_qty for line in self.lines), Decimal("0"))

    def hours_to_due(self) -> Decimal:
        tz = timezone.get_current_timezone()
        due = datetime.combine(self.order.required_date, time(23, 59, 59), tzinfo=tz)
        return Decimal(str(round((due - clock.now()).total_seconds() / 3600, 2)))

    def order_values(self) -> LazyValues:
        o = self.order
        return LazyValues({
            "total": lambda: o.total_amount,
            "qty": lambda: self.total_qty,
            "line_count": lambda: Decimal(len(self.lines)),
            "credit_limit": lambda: o.customer.credit_limit,
            "credit_available": lambda: self.credit_available,
            "unpaid": lambda: o.customer.unpaid_amount,
            "hours_to_due": self.hours_to_due,
            "urgency": lambda: o.urgency,
            "channel": lambda: o.channel,
            "customer": lambda: o.customer.code,
            "customer_tier": lambda: o.customer.tier,
            "stage": lambda: o.stage,
            "tags": lambda: tuple(o.tags),
        })

    def line_values(self, line: OrderLine, base: LazyValues) -> LazyValues:
        return LazyValues({
            "sku": lambda: line.product.sku,
            "qty": lambda: line.base_qty,
            "stock": lambda: self.stock.get(line.product_id, Decimal("0")),
            "amount": lambda: line.amount,
            "unit_price": lambda: line.unit_price,
        }, parent=base)


class LazyValues(Mapping):
    """A mapping whose values are computed on first access."""

    def __init__(self, factories: dict[str, Any], parent: LazyValues | None = None):
        self._factories = factories
        self._parent = parent
        self._cache: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self._cache:
            return self._cache[key]
        if key in self._factories:
            value = self._factories[key]()
            self._cache[key] = value
            return value
        if self._parent is not None:
            return self._parent[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        keys = dict.fromkeys(self._factories)
        if self._parent is not None:
            keys.update(dict.fromkeys(self._parent))
        return iter(keys)

    def __len__(self) -> int:
        return len(list(iter(self)))

"""Purchasing refers to orders only by foreign key. Where a person or a file names an order by
its number (an ERP import's 订单号 column, a form's field), the number is turned into the id by
the function orders registers here at start-up (``OrdersConfig.ready``), the way lower layers
reach upper ones in this codebase (a registry filled at start-up)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

OrderLookup = Callable[[Iterable[str]], dict[str, int]]
_lookup: list[OrderLookup] = []


def register_order_lookup(fn: OrderLookup) -> None:
    _lookup[:] = [fn]


def order_ids(numbers: Iterable[str]) -> dict[str, int]:
    """{number: id} of the open orders among ``numbers`` (unknown numbers are left out)."""
    wanted = {n.strip() for n in numbers if n and n.strip()}
    if not wanted or not _lookup:
        return {}
    return _lookup[0](wanted)


# {product id: {day: quantity in base unit}} of the orders (not cancelled) created on each day of
# [start, end]: what the replenishment rule reads; orders registers it at start-up.
Demand = Callable[[date, date], dict[int, dict[date, Decimal]]]
_demand: list[Demand] = []


def register_demand(fn: Demand) -> None:
    _demand[:] = [fn]


def daily_demand(start: date, end: date) -> dict[int, dict[date, Decimal]]:
    """Quantities ordered per SKU and day (directly, in base units) between ``start`` and ``end``."""
    return _demand[0](start, end) if _demand else {}

"""Safety stock crossings. Every stock write (reserve, release, consume, receive, adjust,
rebalance) ends with :func:`check_crossings` for the products it touched, inside its transaction
and after the stock rows it changed are written (and locked): a product whose free stock (on hand
− reserved, every warehouse) fell below its ``safety_stock`` gets a :class:`SafetyBreach` row,
one that rose back to it loses it. The crossings are handed to the listeners registered at
start-up (``OrdersConfig.ready`` flags the not-yet-started orders that need the material): the way
lower layers reach upper ones in this codebase (a registry filled at start-up). Every call also
hands the touched products to the *change* listeners, crossing or not (the stock circuit breaker,
``orders.breakers.stock``, checks the waiting orders of those materials).

One query when nothing crosses (free stock, safety stock and the breach on record together), whatever the
number of products; a product with no safety stock never crosses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, Exists, F, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce

from orderhub.catalog.models import Product
from orderhub.core import clock

from .models import SafetyBreach

ZERO = Value(Decimal(0), output_field=DecimalField())


@dataclass(frozen=True)
class Crossings:
    down: dict[int, Decimal]     # product id → free stock, now below safety stock
    up: list[int]                # product ids back at or above safety stock

    def __bool__(self) -> bool:
        return bool(self.down or self.up)


Listener = Callable[[Crossings], None]
_listeners: list[Listener] = []
ChangeListener = Callable[[set[int]], None]
_change_listeners: list[ChangeListener] = []


def register_listener(fn: Listener) -> None:
    """Hear of every crossing (in the stock write's transaction). Registered once per function."""
    if fn not in _listeners:
        _listeners.append(fn)


def register_change_listener(fn: ChangeListener) -> None:
    """Hear of every stock write's products (in its transaction, its stock rows written and
    locked). Registered once per function."""
    if fn not in _change_listeners:
        _change_listeners.append(fn)


def free_and_safety(product_ids: Iterable[int]) -> dict[int, tuple[Decimal, Decimal, bool]]:
    """{product id: (free stock, safety stock, below it on record)} for the products of
    ``product_ids`` that have a safety stock or a breach on record. One query."""
    rows = (Product.objects.filter(pk__in=set(product_ids))
            .filter(Q(safety_stock__gt=0) | Q(safety_breach__isnull=False))
            .annotate(free=Coalesce(Sum(F("stock_levels__on_hand") - F("stock_levels__reserved")), ZERO),
                      breached=Exists(SafetyBreach.objects.filter(product_id=OuterRef("pk"))))
            .values_list("pk", "free", "safety_stock", "breached"))
    return {pid: (free, ss, breached) for pid, free, ss, breached in rows}


def check_crossings(product_ids: Iterable[int],
                    known: dict[int, tuple[Decimal, Decimal, bool]] | None = None) -> Crossings:
    """Record and announce the safety stock crossings of ``product_ids`` after a stock write
    (and hand the products to the change listeners). ``known``: what :func:`free_and_safety`
    would say of every product, from a writer that holds all their stock rows locked and read
    their safety stock and breach with the lock (``StockBook``): then no query."""
    product_ids = set(product_ids)
    for listener in _change_listeners:
        listener(product_ids)
    if known is None:
        levels = free_and_safety(product_ids)
    else:
        levels = {pid: v for pid, v in known.items() if pid in product_ids and (v[1] > 0 or v[2])}
    if not levels:
        return Crossings({}, [])
    down = {pid: free for pid, (free, ss, held) in levels.items() if ss > 0 and free < ss and not held}
    up = sorted(pid for pid, (free, ss, held) in levels.items() if held and (ss <= 0 or free >= ss))
    if down:
        now = clock.now()
        SafetyBreach.objects.bulk_create([SafetyBreach(product_id=pid, since=now, free=free)
                                          for pid, free in down.items()], ignore_conflicts=True)
    if up:
        SafetyBreach.objects.filter(product_id__in=up).delete()
    crossings = Crossings(down, up)
    if crossings:
        for fn in _listeners:
            fn(crossings)
    return crossings

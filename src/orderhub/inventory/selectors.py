"""Stock reads."""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import F, Sum

from .models import Reservation, StockLevel


def available_by_product(product_ids: Iterable[int]) -> dict[int, Decimal]:
    rows = (StockLevel.objects.filter(product_id__in=set(product_ids))
            .values("product_id").annotate(free=Sum(F("on_hand") - F("reserved"))))
    out: dict[int, Decimal] = defaultdict(lambda: Decimal("0"))
    for row in rows:
        out[row["product_id"]] = row["free"] or Decimal("0")
    return out


def reserved_for_order(order_id: int) -> dict[int, Decimal]:
    rows = (Reservation.objects.filter(order_id=order_id, status=Reservation.Status.ACTIVE)
            .values("product_id").annotate(q=Sum("qty")))
    out: dict[int, Decimal] = defaultdict(lambda: Decimal("0"))
    for row in rows:
        out[row["product_id"]] = row["q"]
    return out

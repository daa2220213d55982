"""Reads of the breakers: their configuration and their trips (the orders an actor may see)."""

from __future__ import annotations

from django.db.models import QuerySet

from orderhub.core.actors import Actor

from ..models import Breaker, BreakerTrip
from ..selectors import visible


def configs() -> list[Breaker]:
    """Every breaker's configuration, in the order of ``Breaker.Kind``."""
    rows = {b.kind: b for b in Breaker.objects.all()}
    return [rows.get(k) or Breaker(kind=k, enabled=False, ticket_role="manager") for k in Breaker.Kind.values]


def trips(actor: Actor, *, active: bool = True, kind: str = "") -> QuerySet[BreakerTrip]:
    """The trips of orders ``actor`` may see, newest first (``active``: not reset yet)."""
    qs = visible(BreakerTrip.objects.select_related("order", "order__customer", "ticket"), actor, via="order__")
    if active:
        qs = qs.filter(reset_at__isnull=True)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-tripped_at", "-pk")


def order_trips(order_id: int) -> list[BreakerTrip]:
    """An order's trips, active first then the latest reset ones (the order page)."""
    return list(BreakerTrip.objects.filter(order_id=order_id).select_related("ticket")
                .order_by("reset_at", "-tripped_at")[:20])

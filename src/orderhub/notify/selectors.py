"""Reads of the notification hub: inbox, dead letters, an order's deliveries, first touch."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from .models import DeliveryAttempt, DeliveryChannel, FirstTouch, Message


def with_text(messages: Iterable[Message]) -> list[Message]:
    """``messages`` ready to show: one still queued (its text is rendered at delivery) gets the
    subject and body it would be sent with now, in memory only (nothing is written)."""
    from .services import render_pending

    out = list(messages)
    for m in out:
        render_pending(m)
    return out


def message_for_display(pk: int, **filters) -> Message | None:
    """One message (with its order) ready to show, or None."""
    m = Message.objects.filter(pk=pk, **filters).select_related("order").first()
    return with_text([m])[0] if m is not None else None


def inbox(user, *, unread_only: bool = False, limit: int = 50) -> list[Message]:
    """The user's delivered in-app messages, newest first."""
    qs = Message.objects.filter(user=user, channel=DeliveryChannel.INAPP, status=Message.Status.DELIVERED)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return with_text(qs.select_related("order").order_by("-created_at", "-id")[:limit])


def unread_count(user) -> int:
    """One indexed count (user, channel, read_at)."""
    return Message.objects.filter(user=user, channel=DeliveryChannel.INAPP, read_at__isnull=True,
                                  status=Message.Status.DELIVERED).count()


def dead_letters(*, limit: int = 200) -> QuerySet[Message]:
    return (Message.objects.filter(status=Message.Status.DEAD).select_related("order", "endpoint")
            .order_by("-created_at", "-id")[:limit])


def order_deliveries(order_id: int) -> list[Message]:
    """Every message about the order with its attempts (two queries), with its text (rendered
    for display while still queued)."""
    return with_text(Message.objects.filter(order_id=order_id).select_related("endpoint")
                     .prefetch_related(Prefetch("attempt_log",
                                                queryset=DeliveryAttempt.objects.order_by("number", "id")))
                     .order_by("created_at", "id"))


@dataclass(frozen=True)
class FirstTouchStats:
    count: int
    median_business_seconds: float | None
    p50_seconds: float | None
    p99_seconds: float | None


def _pct(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def first_touch_stats(*, since: datetime | None = None, until: datetime | None = None) -> FirstTouchStats:
    """First-touch latency of the orders submitted in [since, until): the median in business
    time (nights, weekends and holidays excluded, as the cases define it) and the wall-clock
    p50/p99 for dashboards."""
    qs = FirstTouch.objects.all()
    if since is not None:
        qs = qs.filter(submitted_at__gte=since)
    if until is not None:
        qs = qs.filter(submitted_at__lt=until)
    rows = list(qs.values_list("wall_seconds", "business_seconds"))
    if not rows:
        return FirstTouchStats(0, None, None, None)
    wall = sorted(r[0] for r in rows)
    business = [r[1] for r in rows]
    return FirstTouchStats(count=len(rows), median_business_seconds=statistics.median(business),
                           p50_seconds=_pct(wall, 0.50), p99_seconds=_pct(wall, 0.99))

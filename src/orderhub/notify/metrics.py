"""The notification hub's Prometheus counters (served by ``orderhub.observability``)."""

from __future__ import annotations

from prometheus_client import Counter

DELIVERIES = Counter("orderhub_notify_deliveries", "Delivery attempts of outbox messages, by outcome.",
                     ["channel", "outcome"])


def attempted(channel: str, ok: bool, n: int = 1) -> None:
    if n:
        DELIVERIES.labels(channel, "delivered" if ok else "failed").inc(n)

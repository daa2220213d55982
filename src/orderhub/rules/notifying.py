"""The one place rules, ladders and the overdue sweep hand messages to the notification hub
(``orderhub.notify``): outbox rows written in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderhub.notify.services import NotifyRequest, Recipient, notify, notify_many


def recipients(*, roles: Sequence[str] = (), user_ids: Sequence[int] = (),
               customer_ids: Sequence[int] = (), webhooks: Sequence[str] = ()) -> list:
    return ([Recipient.role(r) for r in roles] + [Recipient.user(u) for u in user_ids]
            + [Recipient.customer(c) for c in customer_ids] + [Recipient.webhook(w) for w in webhooks])


def send(*, event: str, order, severity: str, dedupe_key: str, context: dict[str, Any],
         roles: Sequence[str] = (), user_ids: Sequence[int] = (), customer_ids: Sequence[int] = (),
         webhooks: Sequence[str] = (), channels: Sequence[str] | None = None) -> int:
    who = recipients(roles=roles, user_ids=user_ids, customer_ids=customer_ids, webhooks=webhooks)
    if not who:
        return 0
    return notify(event=event, recipients=who, context=context, order=order, severity=severity,
                  dedupe_key=dedupe_key, channels=list(channels) if channels else None)


def send_many(requests: list[dict[str, Any]]) -> int:
    """Several notifications with a fixed number of queries (the overdue sweep's batches, the
    rules of one published batch). Each request: event, context, dedupe_key, order, severity,
    channels and any of roles / user_ids / customer_ids / webhooks."""
    built = []
    for r in requests:
        who = recipients(roles=r.get("roles", ()), user_ids=r.get("user_ids", ()),
                         customer_ids=r.get("customer_ids", ()), webhooks=r.get("webhooks", ()))
        if who:
            built.append(NotifyRequest(
                event=r["event"], recipients=who, context=r["context"], dedupe_key=r["dedupe_key"],
                order=r.get("order"), severity=r.get("severity", "info"),
                channels=list(r["channels"]) if r.get("channels") else None))
    return notify_many(built) if built else 0

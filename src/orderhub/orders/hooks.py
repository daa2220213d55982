"""Order events for the rest of the system: notifications, rules, escalation ladders.

Every order service publishes what it did, *inside its transaction and after its audit event is
written*, as a list of :class:`OrderChange`. Subscribers (registered in their app's ``ready()``)
write their side effects in the same transaction: outbox rows, rule firings, cancelled ladder
steps. So a change and what it causes commit or roll back together (the outbox principle), and
nothing is lost if a process dies after the commit.

Subscribers must be cheap when nothing applies to them (no query), must not call order services
(no recursion through this hook; queue follow-up work instead), and get the whole batch at once
so that a 500-order import costs each subscriber one INSERT, not 500.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orderhub.core.actors import Actor
    from orderhub.core.models import AuditEvent

    from .models import Order, OrderLine, StageInstance


@dataclass(frozen=True)
class OrderChange:
    """One change to one order, as recorded in its history."""

    action: str                     # the audit action: order.created, order.transitioned, order.forced,
                                    # order.blocked, order.held, order.resumed, order.updated, order.cancelled
    order: Order                    # the order as saved (stage fields already the new ones)
    actor: Actor
    at: datetime
    event: AuditEvent               # the audit event just appended (changes, data, reason)
    entered: StageInstance | None = None   # the stage instance opened by this change, if any
    left_stage: str | None = None          # the stage the order left, if any
    lines: Sequence[OrderLine] | None = None   # the lines, when the service had them loaded
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def changes(self) -> dict[str, Any]:
        return self.event.changes or {}


Subscriber = Callable[[list[OrderChange]], None]
_subscribers: list[Subscriber] = []


def subscribe(fn: Subscriber) -> Subscriber:
    """Register ``fn`` (idempotent: registering the same function twice keeps one)."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def unsubscribe(fn: Subscriber) -> None:
    if fn in _subscribers:
        _subscribers.remove(fn)


def publish(changes: list[OrderChange]) -> None:
    """Hand ``changes`` to every subscriber, in registration order, in the caller's transaction.
    A subscriber that raises rolls the whole change back: side effects are part of the change."""
    if not changes:
        return
    for fn in list(_subscribers):
        fn(changes)

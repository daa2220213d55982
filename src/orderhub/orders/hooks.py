"""Order events for the rest of the system: notifications, rules, escalation ladders.

Every order service publishes what it did, *inside its transaction and after its audit event is
written*, as a list of :class:`OrderChange` (built by the functions of :mod:`orderhub.orders.events`,
one per event type). The subscribers listed in :data:`SUBSCRIBERS` (this is the one place that
says who listens and in which order) write their side effects in the same transaction: outbox
rows, rule firings, ladder rungs. So a change and what it causes commit or roll back together
(the outbox principle), and nothing is lost if a process dies after the commit.

Subscribers must be cheap when nothing applies to them (no query) and get the whole batch at
once, so that a 500-order import costs each subscriber one INSERT, not 500. They must not call
order services: follow-up changes are queued (``rules.RuleTask``) and applied after commit.
:func:`publish` enforces this: publishing while a subscriber runs (in the same thread) raises
:class:`RecursivePublish`, which rolls the whole change back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from orderhub.core.actors import Actor
    from orderhub.core.models import AuditEvent

    from .models import Order, OrderLine, StageInstance


@dataclass(frozen=True)
class OrderChange:
    """One change to one order, as recorded in its history. Built by :mod:`orders.events`."""

    action: str                     # the event type (an ``orders.events`` constant) = the audit action
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

# Who hears of order changes, in this order, by dotted path (the order is what INSTALLED_APPS
# gave when each app subscribed itself in ready(): notify before rules, ladders before the
# engine). The paths are resolved once, on the first publish; orders imports none of them.
SUBSCRIBERS: tuple[str, ...] = (
    "orderhub.notify.subscribers.on_order_changes",   # outbox rows for entered stages
    "orderhub.rules.ladders.on_order_changes",        # escalation rungs made and cancelled
    "orderhub.rules.engine.on_order_changes",         # rule firings, notes and queued tasks
    "orderhub.shipping.subscribers.on_order_changes", # the order confirmation e-mailed to the customer
    "orderhub.orders.breakers.credit.on_order_changes",  # an open order's total moved: its customer's credit
)


class RecursivePublish(RuntimeError):
    """A subscriber called something that published an order change (an order service)."""


_loaded: tuple[Subscriber, ...] | None = None
_extra: list[Subscriber] = []
_local = threading.local()


def subscribers() -> tuple[Subscriber, ...]:
    """The functions of :data:`SUBSCRIBERS`, imported once per process."""
    global _loaded
    if _loaded is None:
        _loaded = tuple(import_string(path) for path in SUBSCRIBERS)
    return _loaded


@contextmanager
def listening(fn: Subscriber) -> Iterator[Subscriber]:
    """Let ``fn`` hear what is published while the block runs, after the configured
    subscribers (tests and diagnostics; the system's own subscribers are :data:`SUBSCRIBERS`)."""
    _extra.append(fn)
    try:
        yield fn
    finally:
        _extra.remove(fn)


@contextmanager
def held() -> Iterator[list[OrderChange]]:
    """Changes published while the block runs are not handed to the subscribers but collected
    in the list it yields: the caller publishes them with others (a batch's orders created one
    by one are heard with the rest of the batch, as one list, on every database), or drops them
    when the block raised (its savepoint rolled back)."""
    outer = getattr(_local, "held", None)
    kept: list[OrderChange] = []
    _local.held = kept
    try:
        yield kept
    finally:
        _local.held = outer


def publish(changes: list[OrderChange]) -> None:
    """Hand ``changes`` to every subscriber, in order, in the caller's transaction.
    A subscriber that raises rolls the whole change back: side effects are part of the change."""
    if not changes:
        return
    kept = getattr(_local, "held", None)
    if kept is not None:
        kept.extend(changes)
        return
    if getattr(_local, "publishing", False):
        raise RecursivePublish(
            f"{changes[0].action} published while subscribers ran: subscribers must not call order services")
    _local.publishing = True
    try:
        for fn in (*subscribers(), *_extra):
            fn(changes)
    finally:
        _local.publishing = False

"""The promised date, computed at confirmation by whoever registered a promiser at start-up
(``PlanningConfig.ready``: stock, open POs and line capacity). Orders calls it from the entry
action ``promise_date`` of a stage (T1: 已排产) and never imports planning: the way lower layers
reach upper ones in this codebase (a registry filled at start-up). With no promiser registered
the action does nothing.

A promiser runs in the move's transaction, may write its own app's rows (the order's scheduled
operations) and returns the date with a short note for the move's history, or None when it
cannot say (no routing for any of the order's products).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderhub.core.actors import Actor

    from .models import Order, OrderLine


@dataclass(frozen=True)
class Promise:
    date: date
    note: str = ""


Promiser = Callable[["Order", "list[OrderLine]", datetime, "Actor"], "Promise | None"]
_promisers: list[Promiser] = []


def register_promiser(fn: Promiser) -> None:
    _promisers[:] = [fn]


def promise(order: Order, lines: list[OrderLine], now: datetime, actor: Actor) -> Promise | None:
    return _promisers[0](order, lines, now, actor) if _promisers else None

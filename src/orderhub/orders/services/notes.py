"""Recording things that happened to an order without changing it (an escalation fired, a rule
fired): an event in the order's history chain, published to the order hooks like any change."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from orderhub.core import clock
from orderhub.core.actors import Actor

from ..hooks import OrderChange, publish
from ..locks import lock_order
from ..models import Order
from .common import next_event


def order_record(*, order: Order | str, action: str, actor: Actor, data: dict[str, Any] | None = None,
                 reason: str = "") -> Order:
    """Append ``action`` (e.g. ``order.escalated``) with ``data`` to the order's history. The
    order's fields and version do not change; only its audit head moves."""
    number = order if isinstance(order, str) else order.number
    with transaction.atomic():
        locked = lock_order(number)
        now = clock.now()
        ev = next_event(locked, action=action, actor=actor, now=now, data=data or {}, reason=reason)
        locked.save(update_fields=["audit_seq", "audit_head"])
        ev.save(force_insert=True)
        publish([OrderChange(action, locked, actor, now, ev, extra=dict(data or {}))])
        return locked

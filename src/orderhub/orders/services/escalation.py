"""Escalation rungs (``EscalationStep``): made when a stage with a ladder is entered or a ticket
with one is opened, cancelled when the work moves on, fired once when their moment comes.

The ladders (``orderhub.rules.ladders``) decide *what* the rungs are and what firing one says;
these services are the only writers of the rows and of what firing records on the order. Making
and cancelling run inside an order change's transaction (from the ladder's hook subscriber) and
cost one statement each for a whole published batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.locking import lock_own_rows

from .. import events
from ..models import EscalationStep, Order, Urgency
from .common import next_event


@dataclass(frozen=True)
class Rung:
    """One rung to make: of a stage instance or of a ticket of the order."""

    order_id: int
    step: str
    seq: int
    fire_at: datetime
    stage_instance_id: int | None = None
    ticket_id: int | None = None


def escalation_steps_create(*, rungs: Sequence[Rung]) -> list[EscalationStep]:
    """Write the rungs (one INSERT for all)."""
    if not rungs:
        return []
    return EscalationStep.objects.bulk_create([
        EscalationStep(order_id=r.order_id, stage_instance_id=r.stage_instance_id, ticket_id=r.ticket_id,
                       step=r.step, seq=r.seq, fire_at=r.fire_at)
        for r in rungs])


def escalation_steps_cancel(*, at: datetime, orders: Iterable[int] = (), stages_left_by: Iterable[int] = (),
                            keep_stage_instances: Iterable[int] = (), tickets: Iterable[int] = ()) -> int:
    """Cancel pending rungs (``cancelled_at = at``): every one of ``orders`` (cancelled), those of
    the stages ``stages_left_by`` these orders left (but not of ``keep_stage_instances``, the
    stages just entered), and those of ``tickets`` (resolved). One UPDATE per kind given; returns
    how many rungs were cancelled."""
    orders, left, keep, tickets = list(orders), list(stages_left_by), list(keep_stage_instances), list(tickets)
    pending = EscalationStep.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True)
    n = 0
    if orders:
        n += pending.filter(order_id__in=orders).update(cancelled_at=at)
    if left:
        n += pending.filter(order_id__in=left, stage_instance__isnull=False).exclude(
            stage_instance_id__in=keep).update(cancelled_at=at)
    if tickets:
        n += pending.filter(ticket_id__in=tickets).update(cancelled_at=at)
    return n


@dataclass(frozen=True)
class Firing:
    """What firing a rung did, as the ladder decided it."""

    outcome: str                                   # notified / condition_false / condition_error / unknown_step
    data: dict[str, Any] = field(default_factory=dict)   # recorded on the order.escalated event
    set_urgency: str | None = None                 # the order's new urgency, if the rung sets one
    reason: str = ""                               # the reason of that urgency change


Decide = Callable[[Order, EscalationStep], Firing]


def escalation_step_fire(*, step_id: int, order_id: int, actor: Actor, decide: Decide) -> EscalationStep | None:
    """Fire the pending rung ``step_id`` of order ``order_id`` once, in one transaction with
    one lock of the order: the order row first (as every order service takes it, so no deadlock
    with a concurrent move), then the rung with SKIP LOCKED and still pending (so concurrent
    runners never fire it twice nor wait on each other). ``decide(order, rung)`` runs under
    that lock and does the rung's side effects in the same transaction (the ladder evaluates the
    condition and writes the notifications); then the rung is marked fired with its outcome,
    ``order.escalated`` goes into the order's history, and ``set_urgency`` (if it changes
    anything) into the same order row with an ``order.updated`` event. Both events are
    published to the order hooks in one call. Returns the rung, or None if there was nothing to
    fire (already fired, cancelled, claimed by another runner, or the order was put on hold)."""
    with transaction.atomic():
        order = lock_own_rows(Order.objects.select_related("customer", "workflow")).filter(pk=order_id).first()
        if order is None or order.on_hold:
            return None
        step = (lock_own_rows(EscalationStep.objects.select_related("stage_instance", "ticket"),
                              skip_locked=True)
                .filter(pk=step_id, order_id=order_id, fired_at__isnull=True, cancelled_at__isnull=True).first())
        if step is None:
            return None
        firing = decide(order, step)
        if firing.set_urgency is not None and firing.set_urgency not in Urgency.values:
            raise ValueError(f"unknown urgency {firing.set_urgency!r}")
        now = clock.now()
        step.fired_at, step.outcome = now, firing.outcome
        step.save(update_fields=["fired_at", "outcome"])
        escalated = next_event(order, action=events.ORDER_ESCALATED, actor=actor, now=now, data=firing.data)
        fields = ["audit_seq", "audit_head"]
        updated = None
        if firing.set_urgency and order.urgency != firing.set_urgency:
            before = order.urgency
            order.urgency = firing.set_urgency
            order.version += 1
            order.updated_at = now
            updated = next_event(order, action=events.ORDER_UPDATED, actor=actor, now=now, reason=firing.reason,
                                 changes={"urgency": [before, order.urgency],
                                          "version": [order.version - 1, order.version]})
            fields += ["urgency", "version", "updated_at"]
        order.save(update_fields=fields)
        escalated.save(force_insert=True)
        if updated is not None:
            updated.save(force_insert=True)
        events.order_escalated(order=order, actor=actor, at=now, event=escalated, updated=updated)
        return step

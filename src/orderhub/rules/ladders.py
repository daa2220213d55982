"""Escalation ladders: materialised as rows on stage entry (or ticket opening), fired once by a
periodic job, recorded on the order, cancelled when the work moves.

The subscriber runs inside the order service's transaction: it costs no query for changes whose
stages (or tickets) have no ladder, one UPDATE per batch to cancel the rungs of the stages that
were left, and one INSERT per batch for the new rungs.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.expressions import ExpressionError
from orderhub.core.locking import lock_own_rows
from orderhub.orders.facts import OrderFacts
from orderhub.orders.hooks import OrderChange
from orderhub.orders.models import EscalationStep, Order, OrderLine
from orderhub.workflow.services import compiled
from orderhub.workflow.spec import CompiledStep, CompiledWorkflow, render_message

from .timing import step_moments

logger = logging.getLogger(__name__)

ESCALATION_ACTOR = "escalation"
LEAVING = ("order.transitioned", "order.forced", "order.cancelled")


# --------------------------------------------------------------------------- materialise / cancel


def on_order_changes(changes: list[OrderChange]) -> None:
    """Order-hook subscriber: new rungs for entered stages and opened tickets; cancel the pending
    rungs of stages left, tickets resolved, and everything of cancelled orders."""
    rows: list[EscalationStep] = []
    left_orders: list[int] = []
    cancelled_orders: list[int] = []
    resolved_tickets: list[int] = []
    keep_instances: list[int] = []
    cal = None
    now = None
    for ch in changes:
        action = ch.action
        wf: CompiledWorkflow | None = None
        if action in LEAVING or ch.entered is not None or action == "ticket.opened":
            wf = compiled(ch.order.workflow_id)
        if action == "order.cancelled":
            cancelled_orders.append(ch.order.pk)
            now = ch.at
            continue
        if action in LEAVING and ch.left_stage and wf.stages.get(ch.left_stage) is not None \
                and wf.stages[ch.left_stage].ladder:
            left_orders.append(ch.order.pk)
            now = ch.at
        if action == "ticket.resolved":
            ticket = ch.extra.get("ticket")
            if ticket is not None:
                kind = compiled(ch.order.workflow_id).tickets.get(ticket.kind)
                if kind is not None and kind.ladder:
                    resolved_tickets.append(ticket.pk)
                    now = ch.at
            continue
        if ch.entered is not None:
            stage = wf.stages.get(ch.entered.stage)
            if stage is not None and stage.ladder:
                cal = cal or get_business_calendar()
                inst = ch.entered
                keep_instances.append(inst.pk)
                moments = step_moments(cal, stage.ladder, entered=inst.entered_at, due=inst.due_at,
                                       required=ch.order.required_date)
                rows.extend(_rows(ch.order, stage.ladder, moments, stage_instance=inst))
        if action == "ticket.opened":
            ticket = ch.extra.get("ticket")
            kind = wf.tickets.get(ticket.kind) if ticket is not None else None
            if kind is not None and kind.ladder:
                cal = cal or get_business_calendar()
                moments = step_moments(cal, kind.ladder, entered=ticket.opened_at, due=ticket.due_at,
                                       required=ch.order.required_date)
                rows.extend(_rows(ch.order, kind.ladder, moments, ticket=ticket))
    pending = EscalationStep.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True)
    if cancelled_orders:
        pending.filter(order_id__in=cancelled_orders).update(cancelled_at=now)
    if left_orders:
        pending.filter(order_id__in=left_orders, stage_instance__isnull=False).exclude(
            stage_instance_id__in=keep_instances).update(cancelled_at=now)
    if resolved_tickets:
        pending.filter(ticket_id__in=resolved_tickets).update(cancelled_at=now)
    if rows:
        EscalationStep.objects.bulk_create(rows)


def _rows(order: Order, ladder: tuple[CompiledStep, ...], moments: list[datetime], *,
          stage_instance=None, ticket=None) -> list[EscalationStep]:
    return [EscalationStep(order_id=order.pk, stage_instance=stage_instance, ticket=ticket,
                           step=step.code, seq=i, fire_at=moment)
            for i, (step, moment) in enumerate(zip(ladder, moments, strict=True))]


# --------------------------------------------------------------------------- fire


def _step_spec(wf: CompiledWorkflow, step: EscalationStep) -> CompiledStep | None:
    if step.ticket_id is not None:
        kind = wf.tickets.get(step.ticket.kind)
        ladder = kind.ladder if kind else ()
    else:
        stage = wf.stages.get(step.stage_instance.stage)
        ladder = stage.ladder if stage else ()
    return next((s for s in ladder if s.code == step.step), None)


def ladder_fire_due(*, limit: int = 500) -> int:
    """Fire every pending rung whose moment has come (each once, each in its own transaction:
    the order row first, then the rung with SKIP LOCKED, so concurrent runners never fire a rung
    twice and never wait on each other's rungs). Returns how many rungs were fired."""
    now = clock.now()
    # an order on hold does not escalate: its rungs wait, and those whose moment passed during
    # the hold fire once it is resumed (the work is still untouched then)
    due = list(EscalationStep.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True,
                                             fire_at__lte=now, order__on_hold=False)
               .order_by("fire_at").values_list("pk", "order_id")[:limit])
    fired = 0
    for step_id, order_id in due:
        if _fire_one(step_id, order_id):
            fired += 1
    return fired


def _fire_one(step_id: int, order_id: int) -> bool:
    from orderhub.orders.services import order_record, order_update

    from .notifying import send

    actor = Actor.system(ESCALATION_ACTOR)
    with transaction.atomic():
        order = (lock_own_rows(Order.objects.select_related("customer", "workflow"))
                 .filter(pk=order_id).first())
        if order is None or order.on_hold:   # (held since the rung was picked)
            return False
        step = (lock_own_rows(EscalationStep.objects.select_related("stage_instance", "ticket"),
                              skip_locked=True)
                .filter(pk=step_id, fired_at__isnull=True, cancelled_at__isnull=True).first())
        if step is None:
            return False
        now = clock.now()
        wf = compiled(order.workflow_id)
        spec = _step_spec(wf, step)
        outcome, sent = "notified", 0
        if spec is None:
            outcome = "unknown_step"
        elif spec.condition is not None:
            facts = OrderFacts(order, list(OrderLine.objects.filter(order=order).select_related("product")))
            try:
                if not spec.condition.evaluate(facts.order_values()):
                    outcome = "condition_false"
            except ExpressionError as exc:
                logger.warning("escalation %s: condition failed: %s", step.pk, exc)
                outcome = "condition_error"
        stage_code = step.stage_instance.stage if step.stage_instance_id else order.stage
        stage_name = wf.stages[stage_code].spec.name if stage_code in wf.stages else stage_code
        if outcome == "notified":
            values = {"number": order.number, "customer": order.customer.name, "stage": stage_code,
                      "stage_name": stage_name,
                      "due_at": (step.stage_instance.due_at if step.stage_instance_id else
                                 step.ticket.due_at if step.ticket_id else None) or "",
                      "required_date": order.required_date, "step": step.step,
                      "ticket": step.ticket.title if step.ticket_id else ""}
            message = render_message(spec.spec.message, values) if spec.spec.message else ""
            user_ids = []
            if spec.spec.users:
                user_ids = list(get_user_model().objects.filter(username__in=spec.spec.users)
                                .values_list("pk", flat=True))
            sent = send(event="escalation", roles=spec.spec.roles, user_ids=user_ids, order=order,
                        severity=spec.spec.severity, channels=spec.spec.channels,
                        dedupe_key=f"escalation:{step.pk}",
                        context={**{k: str(v) for k, v in values.items()}, "message": message,
                                 "title": message or f"{order.number} {stage_name}"})
        step.fired_at, step.outcome = now, outcome
        step.save(update_fields=["fired_at", "outcome"])
        order_record(order=order.number, action="order.escalated", actor=actor, data={
            "step": step.step, "rung": step.seq, "stage": stage_code,
            "ticket": step.ticket_id, "fire_at": step.fire_at, "outcome": outcome,
            "roles": spec.spec.roles if spec else [], "users": spec.spec.users if spec else [],
            "channels": (spec.spec.channels or []) if spec else [],
            "severity": spec.spec.severity if spec else "", "messages": sent})
        if outcome == "notified" and spec.spec.set_urgency and order.urgency != spec.spec.set_urgency:
            order_update(order=order.number, changes={"urgency": spec.spec.set_urgency}, actor=actor,
                         reason=f"escalation {step.step}")
    return True

"""Escalation ladders: materialised as rows on stage entry (or ticket opening), fired once by a
periodic job, recorded on the order, cancelled when the work moves.

The ladder decides what the rungs are (``timing.step_moments``) and what firing one says (the
condition, the notification); the rows and the order's history are written only through the
order services of ``orders.services.escalation``. The subscriber runs inside the order service's
transaction: it costs no query for changes whose stages (or tickets) have no ladder, one UPDATE
per batch to cancel the rungs of the stages that were left, and one INSERT per batch for the new
rungs.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.auth import get_user_model

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.expressions import ExpressionError
from orderhub.orders import events
from orderhub.orders.facts import OrderFacts
from orderhub.orders.hooks import OrderChange
from orderhub.orders.models import EscalationStep, Order, OrderLine
from orderhub.orders.services.escalation import (
    Firing,
    Rung,
    escalation_step_fire,
    escalation_steps_cancel,
    escalation_steps_create,
)
from orderhub.workflow.services import compiled
from orderhub.workflow.spec import CompiledStep, CompiledWorkflow, render_message

from .notifying import send
from .timing import step_moments

logger = logging.getLogger(__name__)

ESCALATION_ACTOR = "escalation"   # the system actor rungs fire as (its name, not the event)


# --------------------------------------------------------------------------- materialise / cancel


def on_order_changes(changes: list[OrderChange]) -> None:
    """Order-hook subscriber: new rungs for entered stages and opened tickets; cancel the pending
    rungs of stages left, tickets resolved, and everything of cancelled orders."""
    rows: list[Rung] = []
    left_orders: list[int] = []
    cancelled_orders: list[int] = []
    resolved_tickets: list[int] = []
    keep_instances: list[int] = []
    cal = None
    now = None
    for ch in changes:
        action = ch.action
        wf: CompiledWorkflow | None = None
        if action in events.LEAVING or ch.entered is not None or action == events.TICKET_OPENED:
            wf = compiled(ch.order.workflow_id)
        if action == events.ORDER_CANCELLED:
            cancelled_orders.append(ch.order.pk)
            now = ch.at
            continue
        if action in events.LEAVING and ch.left_stage and wf.stages.get(ch.left_stage) is not None \
                and wf.stages[ch.left_stage].ladder:
            left_orders.append(ch.order.pk)
            now = ch.at
        if action == events.TICKET_RESOLVED:
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
                rows.extend(_rungs(ch.order, stage.ladder, moments, stage_instance_id=inst.pk))
        if action == events.TICKET_OPENED:
            ticket = ch.extra.get("ticket")
            kind = wf.tickets.get(ticket.kind) if ticket is not None else None
            if kind is not None and kind.ladder:
                cal = cal or get_business_calendar()
                moments = step_moments(cal, kind.ladder, entered=ticket.opened_at, due=ticket.due_at,
                                       required=ch.order.required_date)
                rows.extend(_rungs(ch.order, kind.ladder, moments, ticket_id=ticket.pk))
    if cancelled_orders or left_orders or resolved_tickets:
        escalation_steps_cancel(at=now, orders=cancelled_orders, stages_left_by=left_orders,
                                keep_stage_instances=keep_instances, tickets=resolved_tickets)
    escalation_steps_create(rungs=rows)


def _rungs(order: Order, ladder: tuple[CompiledStep, ...], moments: list[datetime], *,
           stage_instance_id: int | None = None, ticket_id: int | None = None) -> list[Rung]:
    return [Rung(order_id=order.pk, stage_instance_id=stage_instance_id, ticket_id=ticket_id,
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
    """Fire every pending rung whose moment has come (each once, each in its own transaction
    with one lock of its order: ``orders.services.escalation_step_fire``). Returns how many
    rungs were fired."""
    now = clock.now()
    # an order on hold does not escalate: its rungs wait, and those whose moment passed during
    # the hold fire once it is resumed (the work is still untouched then)
    due = list(EscalationStep.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True,
                                             fire_at__lte=now, order__on_hold=False)
               .order_by("fire_at").values_list("pk", "order_id")[:limit])
    actor = Actor.system(ESCALATION_ACTOR)
    return sum(escalation_step_fire(step_id=step_id, order_id=order_id, actor=actor, decide=_decide) is not None
               for step_id, order_id in due)


def _decide(order: Order, step: EscalationStep) -> Firing:
    """What firing ``step`` does, under its order's lock: the condition, the notification
    (outbox rows in this transaction), what the order's history records, the urgency to set."""
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
        sent = send(event=events.ESCALATION, roles=spec.spec.roles, user_ids=user_ids, order=order,
                    severity=spec.spec.severity, channels=spec.spec.channels,
                    dedupe_key=f"{events.ESCALATION}:{step.pk}",
                    context={**{k: str(v) for k, v in values.items()}, "message": message,
                             "title": message or f"{order.number} {stage_name}"})
    data = {"step": step.step, "rung": step.seq, "stage": stage_code,
            "ticket": step.ticket_id, "fire_at": step.fire_at, "outcome": outcome,
            "roles": spec.spec.roles if spec else [], "users": spec.spec.users if spec else [],
            "channels": (spec.spec.channels or []) if spec else [],
            "severity": spec.spec.severity if spec else "", "messages": sent}
    urgency = spec.spec.set_urgency if outcome == "notified" and spec.spec.set_urgency else None
    return Firing(outcome=outcome, data=data, set_urgency=urgency, reason=f"escalation {step.step}")

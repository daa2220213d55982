"""Entering a stage: its guards, its deadline, its entry actions (stock, tags, urgency)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.errors import Problem
from orderhub.core.instances import new
from orderhub.inventory.services import Requirement, stock_consume, stock_release
from orderhub.workflow.spec import CompiledStage, CompiledWorkflow, render_message

from ..facts import OrderFacts
from ..kitting import fmt_qty, kitting_problems
from ..models import Order, OrderLine, StageInstance
from ..promising import promise
from .common import Blocked


def due_at(stage: CompiledStage, start: datetime) -> datetime | None:
    deadline = stage.spec.deadline
    if deadline is None:
        return None
    if deadline.business_hours is not None:
        return get_business_calendar().add_business_hours(start, deadline.business_hours)
    assert deadline.hours is not None  # a DeadlineSpec holds exactly one of the two
    return start + timedelta(hours=float(deadline.hours))


def need_by(order: Order, stage: CompiledStage) -> date:
    """When ``stage`` needs its materials (kitting by date): its deadline if entered now, else the
    order's promised date, else its required date. Open POs due by then count."""
    due = due_at(stage, clock.now())
    if due is not None:
        return timezone.localdate(due)
    return order.promised_date or order.required_date


def evaluate_guards(order: Order, lines: list[OrderLine], stage: CompiledStage,
                    facts: OrderFacts | None = None) -> list[Problem]:
    """Every reason the order may not enter ``stage`` (empty list: it may)."""
    facts = facts or OrderFacts(order, lines)
    reasons: list[Problem] = []
    base = facts.order_values()
    for guard in stage.guards:
        spec = guard.spec
        if spec.check == "kitting":
            reasons.extend(kitting_problems(facts, spec.code, need_by(order, stage)))
            continue
        # an expr guard: a GuardSpec holds exactly one of expr and check, and expr a message
        expression, message = guard.expression, spec.message
        assert expression is not None and message is not None
        if spec.scope == "order":
            if not expression.evaluate(base):
                reasons.append(Problem(spec.code, render_message(message, base),
                                       data={"expr": spec.expr}))
        else:
            for i, ln in enumerate(lines):
                values = facts.line_values(ln, base)
                if not expression.evaluate(values):
                    reasons.append(Problem(spec.code, render_message(message, values),
                                           field=f"lines[{i}]",
                                           data={"expr": spec.expr, "sku": ln.product.sku}))
    return reasons


def run_entry_actions(order: Order, lines: list[OrderLine], stage: CompiledStage, *, actor: Actor,
                 now: datetime, forced: bool, facts: OrderFacts) -> dict[str, Any]:
    """Entry actions of ``stage``. Returns what they did, for the audit event; raises Blocked
    if stock cannot be reserved (unless forced: then what is there is reserved)."""
    done: dict[str, Any] = {}
    for act in stage.spec.on_enter:
        if act.action == "reserve_stock":
            if act.bom:
                reqs, products = facts.bom
            else:
                reqs = [Requirement(ln.product_id, ln.base_qty, ln.pk) for ln in lines]
                products = {ln.product_id: ln.product for ln in lines}
            held = dict(facts.held_by_order)
            todo = []
            for r in reqs:  # what the order already holds counts towards its needs
                keep = min(held.get(r.product_id, Decimal(0)), r.qty)
                held[r.product_id] = held.get(r.product_id, Decimal(0)) - keep
                if r.qty - keep > 0:
                    todo.append(Requirement(r.product_id, r.qty - keep, r.line_id))
            expires = now + timedelta(hours=float(act.expires_in_hours)) if act.expires_in_hours else None
            # what the kitting guard found open POs make up is reserved as it arrives, not now
            covered = facts.po_covered
            made, shortages = facts.reserve(
                order_id=order.pk, requirements=todo, actor=actor,
                release_condition=act.release_condition or _("released on cancel"),
                expires_at=expires, allow_partial=forced or bool(covered))
            uncovered = [s for s in shortages if s.missing > covered.get(s.product_id, Decimal(0))]
            if uncovered and not forced:
                raise Blocked([
                    Problem("stock_short", _("Not enough stock: %(name)s short by %(missing)s %(unit)s") % {
                        "name": products[s.product_id].name, "missing": fmt_qty(s.missing),
                        "unit": products[s.product_id].unit},
                        data={"sku": products[s.product_id].sku, "missing": str(s.missing)})
                    for s in uncovered])
            done["reserved"] = [{"sku": products[r.product_id].sku, "qty": r.qty,
                                 "warehouse_stock_id": r.stock_id} for r in made]
            if facts.kitting_notes:
                done["covered_by_po"] = list(facts.kitting_notes)
            if shortages:
                done["unreserved"] = [{"sku": products[s.product_id].sku, "missing": s.missing}
                                      for s in shortages]
        elif act.action == "release_stock":
            done["released"] = len(stock_release(order_id=order.pk, actor=actor))
        elif act.action == "consume_stock":
            done["consumed"] = len(stock_consume(order_id=order.pk, actor=actor))
        elif act.action == "add_tag":
            if act.value not in order.tags:
                order.tags = [*order.tags, act.value]
                done.setdefault("tags_added", []).append(act.value)
        elif act.action == "promise_date":
            promised = promise(order, lines, now, actor)
            if promised is not None:
                done["promised_date"] = [order.promised_date.isoformat() if order.promised_date else None,
                                         promised.date.isoformat(), promised.note]
                order.promised_date = promised.date
        elif act.action == "set_urgency":
            assert act.value is not None  # an ActionSpec for set_urgency carries its value
            done["urgency"] = [order.urgency, act.value]
            order.urgency = act.value
    return done


def enter_stage(order: Order, lines: list[OrderLine], wf: CompiledWorkflow, stage: CompiledStage, *,
           actor: Actor, now: datetime, forced: bool, facts: OrderFacts | None = None) -> StageInstance:
    """Check ``stage``'s guards (unless forced) and set the order's stage fields; the entry
    actions run separately (they need the saved order)."""
    facts = facts or OrderFacts(order, lines)
    if not forced:
        reasons = evaluate_guards(order, lines, stage, facts)
        if reasons:
            raise Blocked(reasons)
    due = due_at(stage, now)
    order.stage = stage.code
    order.stage_entered_at = now
    order.stage_due_at = due
    order.blocked_reasons = []
    if stage.spec.final:
        order.status = Order.Status.COMPLETED
    return new(StageInstance, order=order, workflow_id=order.workflow_id, stage=stage.code,
                         owner_role=stage.spec.owner_role,
                         entered_at=now, due_at=due, entered_by=actor.label[:150], forced=forced)

"""The one way in: every change to an order goes through these functions.

Each checks permission, validates, writes state, appends the audit event (and, at a stage
change, the snapshot) in one transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.catalog.selectors import conversion_factors, products_by_sku, to_base_qty
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audit import build_event
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.canonical import canonical_json, sha256_hex
from orderhub.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    Problem,
    ValidationFailed,
)
from orderhub.core.models import AuditEvent
from orderhub.core.numbering import next_value, preallocated_id
from orderhub.core.text import unstorable
from orderhub.inventory.services import Requirement, stock_consume, stock_release, stock_reserve
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled, current_definition_cached
from orderhub.workflow.spec import CompiledStage, CompiledWorkflow, render_message

from .facts import OrderFacts
from .inputs import OrderInput, differences
from .kitting import bom_requirements, fmt_qty, kitting_problems
from .models import Attachment, Order, OrderLine, Snapshot, StageInstance, Urgency

CENT = Decimal("0.01")
NUMBER_SEQUENCE = "orderhub_order_number"
MAX_LINES = 5000
MAX_QTY = Decimal("1e14")     # QTY columns: 18 digits, 4 decimals
MAX_MONEY = Decimal("1e14")   # MONEY columns: 16 digits, 2 decimals


@dataclass
class CreateResult:
    order: Order
    created: bool


@dataclass
class TransitionResult:
    order: Order
    ok: bool
    reasons: list[Problem] = field(default_factory=list)


class Blocked(Exception):
    def __init__(self, reasons: list[Problem]):
        super().__init__("; ".join(p.message for p in reasons))
        self.reasons = reasons


# --------------------------------------------------------------------------- helpers


def _order_number(now) -> str:
    prefix = settings.ORDERHUB_ORDER_NUMBER_PREFIX
    local = now.astimezone(get_business_calendar().tz)
    return f"{prefix}-{local:%y%m%d}-{next_value(NUMBER_SEQUENCE):06d}"


def _due_at(stage: CompiledStage, start):
    deadline = stage.spec.deadline
    if deadline is None:
        return None
    if deadline.business_hours is not None:
        return get_business_calendar().add_business_hours(start, deadline.business_hours)
    return start + timedelta(hours=float(deadline.hours))


def _lock(order: Order | str) -> Order:
    qs = Order.objects.select_related("customer", "workflow")
    if connection.features.has_select_for_update_of:
        qs = qs.select_for_update(of=("self",))
    else:
        qs = qs.select_for_update()
    number = order if isinstance(order, str) else order.number
    try:
        return qs.get(number=number)
    except Order.DoesNotExist:
        raise NotFound("order_not_found", _("Order %(number)s does not exist.") % {"number": number}) from None


def _lines(order: Order) -> list[OrderLine]:
    return list(OrderLine.objects.filter(order=order).select_related("product").order_by("line_no"))


def snapshot_content(order: Order, lines: list[OrderLine]) -> dict[str, Any]:
    return {
        "number": order.number,
        "version": order.version,
        "channel": order.channel,
        "external_ref": order.external_ref,
        "customer": order.customer.code,
        "workflow": f"{order.workflow.code} v{order.workflow.version}",
        "stage": order.stage,
        "status": order.status,
        "on_hold": order.on_hold,
        "required_date": order.required_date,
        "promised_date": order.promised_date,
        "urgency": order.urgency,
        "currency": order.currency,
        "total_amount": order.total_amount,
        "remarks": order.remarks,
        "tags": order.tags,
        "owner_id": order.owner_id,
        "lines": [
            {"line_no": ln.line_no, "sku": ln.product.sku, "qty": ln.qty, "unit": ln.unit,
             "base_qty": ln.base_qty, "unit_price": ln.unit_price, "amount": ln.amount,
             "remarks": ln.remarks}
            for ln in lines
        ],
    }


def _snapshot(order: Order, lines: list[OrderLine], now) -> Snapshot:
    content = canonical_json(snapshot_content(order, lines))
    return Snapshot(order=order, version=order.version, stage=order.stage, taken_at=now,
                    content=content, sha256=sha256_hex(content))


def _append(order: Order, *, action: str, actor: Actor, now, changes=None, data=None,
            reason: str = "", forced: bool = False):
    """Build the next event of the order's chain and move the head kept on the order row."""
    ev = build_event(subject_type="order", subject_id=order.pk, head=(order.audit_seq, order.audit_head),
                     action=action, actor=actor, changes=changes, data=data, reason=reason,
                     forced=forced, at=now)
    order.audit_seq, order.audit_head = ev.seq, ev.hash
    return ev


# --------------------------------------------------------------------------- guards & actions


def evaluate_guards(order: Order, lines: list[OrderLine], stage: CompiledStage,
                    facts: OrderFacts | None = None) -> list[Problem]:
    """Every reason the order may not enter ``stage`` (empty list: it may)."""
    facts = facts or OrderFacts(order, lines)
    reasons: list[Problem] = []
    base = facts.order_values()
    for guard in stage.guards:
        spec = guard.spec
        if spec.check == "kitting":
            reasons.extend(kitting_problems(lines, facts.held_by_order, spec.code))
        elif spec.scope == "order":
            if not guard.expression.evaluate(base):
                reasons.append(Problem(spec.code, render_message(spec.message, base),
                                       data={"expr": spec.expr}))
        else:
            for i, ln in enumerate(lines):
                values = facts.line_values(ln, base)
                if not guard.expression.evaluate(values):
                    reasons.append(Problem(spec.code, render_message(spec.message, values),
                                           field=f"lines[{i}]",
                                           data={"expr": spec.expr, "sku": ln.product.sku}))
    return reasons


def _run_actions(order: Order, lines: list[OrderLine], stage: CompiledStage, *, actor: Actor,
                 now, forced: bool, facts: OrderFacts) -> dict[str, Any]:
    """Entry actions of ``stage``. Returns what they did, for the audit event; raises Blocked
    if stock cannot be reserved (unless forced: then what is there is reserved)."""
    done: dict[str, Any] = {}
    for act in stage.spec.on_enter:
        if act.action == "reserve_stock":
            if act.bom:
                reqs, products = bom_requirements(lines)
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
            made, shortages = stock_reserve(
                order_id=order.pk, requirements=todo, actor=actor,
                release_condition=act.release_condition or _("released on cancel"),
                expires_at=expires, allow_partial=forced)
            if shortages and not forced:
                raise Blocked([
                    Problem("stock_short", _("Not enough stock: %(name)s short by %(missing)s %(unit)s") % {
                        "name": products[s.product_id].name, "missing": fmt_qty(s.missing),
                        "unit": products[s.product_id].unit},
                        data={"sku": products[s.product_id].sku, "missing": str(s.missing)})
                    for s in shortages])
            done["reserved"] = [{"sku": products[r.product_id].sku, "qty": r.qty,
                                 "warehouse_stock_id": r.stock_id} for r in made]
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
        elif act.action == "set_urgency":
            done["urgency"] = [order.urgency, act.value]
            order.urgency = act.value
    return done


def _enter(order: Order, lines: list[OrderLine], wf: CompiledWorkflow, stage: CompiledStage, *,
           actor: Actor, now, forced: bool, facts: OrderFacts | None = None) -> StageInstance:
    """Check ``stage``'s guards (unless forced) and set the order's stage fields; the entry
    actions run separately (they need the saved order)."""
    facts = facts or OrderFacts(order, lines)
    if not forced:
        reasons = evaluate_guards(order, lines, stage, facts)
        if reasons:
            raise Blocked(reasons)
    due = _due_at(stage, now)
    order.stage = stage.code
    order.stage_entered_at = now
    order.stage_due_at = due
    order.blocked_reasons = []
    if stage.spec.final:
        order.status = Order.Status.COMPLETED
    return StageInstance(order=order, stage=stage.code, owner_role=stage.spec.owner_role,
                         entered_at=now, due_at=due, entered_by=actor.label[:150], forced=forced)


# --------------------------------------------------------------------------- create


@dataclass
class _Lookups:
    """Master data for a set of inputs, fetched with one query per table."""

    customers: dict[str, Customer]
    products: dict[str, Any]
    factors: dict[tuple[int, str], Decimal]
    owners: dict[str, Any]

    @classmethod
    def fetch(cls, datas: list[OrderInput]) -> _Lookups:
        # text with NUL cannot even be looked up on PostgreSQL; _build reports it by field
        codes = {d.customer for d in datas if not unstorable(d.customer)}
        customers = {c.code: c for c in Customer.objects.filter(code__in=codes, is_active=True)}
        products = products_by_sku(ln.sku for d in datas for ln in d.lines if not unstorable(ln.sku))
        need = {p.pk for d in datas for ln in d.lines
                if (p := products.get(ln.sku)) and ln.unit and ln.unit != p.unit}
        factors = conversion_factors(need) if need else {}
        names = {d.owner for d in datas if d.owner}
        owners = ({u.get_username(): u for u in get_user_model().objects.filter(username__in=names, is_active=True)}
                  if names else {})
        return cls(customers, products, factors, owners)


def _build(data: OrderInput, lk: _Lookups) -> tuple[Order, list[OrderLine]]:
    problems: list[Problem] = []
    if not data.lines:
        problems.append(Problem("required", _("An order needs at least one line."), field="lines"))
    if len(data.lines) > MAX_LINES:
        problems.append(Problem("too_many", _("An order may have at most %(n)d lines.") % {"n": MAX_LINES}, field="lines"))
    if data.urgency not in Urgency.values:
        problems.append(Problem("invalid_choice", _("Urgency must be red, yellow or green."), field="urgency"))
    for name, value in (("customer", data.customer), ("channel", data.channel),
                        ("external_ref", data.external_ref or ""), ("remarks", data.remarks),
                        ("tags", "".join(data.tags))):
        if unstorable(value):
            problems.append(Problem("invalid_text", _("Text may not contain NUL or invalid characters."),
                                    field=name))
    customer = lk.customers.get(data.customer)
    if customer is None:
        problems.append(Problem("unknown_customer", _("Unknown customer '%(code)s'.") % {"code": data.customer},
                                field="customer"))
    owner = lk.owners.get(data.owner) if data.owner else None
    if data.owner and owner is None:
        problems.append(Problem("unknown_user", _("Unknown owner '%(u)s'.") % {"u": data.owner}, field="owner"))
    lines: list[OrderLine] = []
    total = Decimal("0")
    for i, ln in enumerate(data.lines):
        bad = next((f for f, v in (("sku", ln.sku), ("unit", ln.unit or ""), ("remarks", ln.remarks))
                    if unstorable(v)), None)
        if bad:
            problems.append(Problem("invalid_text", _("Text may not contain NUL or invalid characters."),
                                    field=f"lines[{i}].{bad}"))
            continue
        product = lk.products.get(ln.sku)
        if product is None:
            problems.append(Problem("unknown_sku", _("Unknown SKU '%(sku)s'.") % {"sku": ln.sku},
                                    field=f"lines[{i}].sku"))
            continue
        if not ln.qty.is_finite() or ln.qty <= 0:
            problems.append(Problem("invalid_quantity", _("Quantity must be greater than zero."),
                                    field=f"lines[{i}].qty"))
            continue
        base_qty, problem = to_base_qty(product, ln.qty, ln.unit, lk.factors)
        if problem:
            problems.append(Problem("unknown_unit", _("Unit '%(unit)s' cannot be converted to %(base)s for %(sku)s.")
                                    % {"unit": ln.unit, "base": product.unit, "sku": product.sku},
                                    field=f"lines[{i}].unit"))
            continue
        if base_qty <= 0:
            problems.append(Problem("invalid_quantity", _("Quantity rounds to zero in the base unit."),
                                    field=f"lines[{i}].qty"))
            continue
        if base_qty >= MAX_QTY:
            problems.append(Problem("out_of_range", _("Quantity is too large."), field=f"lines[{i}].qty"))
            continue
        price = product.list_price if ln.unit_price is None else ln.unit_price
        if not price.is_finite() or price < 0:
            problems.append(Problem("invalid_price", _("Unit price cannot be negative."),
                                    field=f"lines[{i}].unit_price"))
            continue
        amount = (ln.qty * price).quantize(CENT, rounding=ROUND_HALF_UP)
        if amount >= MAX_MONEY:
            problems.append(Problem("out_of_range", _("Line amount is too large."),
                                    field=f"lines[{i}].unit_price"))
            continue
        total += amount
        lines.append(OrderLine(line_no=i + 1, product=product, qty=ln.qty, unit=ln.unit or product.unit,
                               base_qty=base_qty, unit_price=price, amount=amount,
                               remarks=ln.remarks[:500]))
    if total >= MAX_MONEY:
        problems.append(Problem("out_of_range", _("Order total is too large."), field="lines"))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    order = Order(channel=data.channel, external_ref=data.external_ref or None, customer=customer,
                  required_date=data.required_date, promised_date=data.promised_date,
                  urgency=data.urgency, total_amount=total, remarks=data.remarks,
                  tags=sorted(set(data.tags)))
    order.owner_id = owner.pk if owner else customer.sales_owner_id
    return order, lines


def _existing(data: OrderInput, fingerprint: str, normalized: dict[str, Any]) -> Order | None:
    if not data.external_ref:
        return None
    order = Order.objects.filter(channel=data.channel, external_ref=data.external_ref).first()
    if order is None:
        return None
    if order.intake_hash != fingerprint:
        raise Conflict("duplicate_conflict",
                       _("Order %(number)s already exists for %(channel)s/%(ref)s with different content.")
                       % {"number": order.number, "channel": data.channel, "ref": data.external_ref},
                       data={"order": order.number, "differences": differences(order.intake, normalized)})
    return order


def order_create(*, data: OrderInput, actor: Actor) -> CreateResult:
    """Create an order in its workflow's initial stage.

    The same ``channel`` + ``external_ref`` again returns the existing order (created=False);
    the same key with different content raises Conflict listing the differences.
    """
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    normalized = data.normalized()
    fingerprint = sha256_hex(canonical_json(normalized))
    try:
        with transaction.atomic():
            return CreateResult(_create(data, actor, normalized, fingerprint), True)
    except IntegrityError:
        existing = _existing(data, fingerprint, normalized)
        if existing is None:
            raise
        return CreateResult(existing, False)


def _workflow_for(data: OrderInput) -> tuple[WorkflowDefinition, CompiledWorkflow]:
    code = data.workflow or settings.ORDERHUB_DEFAULT_WORKFLOW
    definition = current_definition_cached(code)
    if definition is None:
        raise ValidationFailed("invalid", _("Unknown workflow '%(code)s'.") % {"code": code},
                               problems=[Problem("unknown_workflow", _("Unknown workflow '%(code)s'.") % {"code": code}, field="workflow")])
    return definition, compiled(definition.pk)


def _prepare(data: OrderInput, lk: _Lookups, actor: Actor, normalized, fingerprint, now):
    """Everything about a new order that needs no database write: validation, number,
    initial stage and its guards. Returns (order, lines, workflow, stage instance, facts)."""
    order, lines = _build(data, lk)
    definition, wf = _workflow_for(data)
    order.workflow = definition
    order.number = _order_number(now)
    order.intake, order.intake_hash = normalized, fingerprint
    order.created_at = order.updated_at = order.stage_entered_at = now
    order.created_by = actor.label[:150]
    facts = OrderFacts(order, lines)
    try:
        inst = _enter(order, lines, wf, wf.initial, actor=actor, now=now, forced=False, facts=facts)
    except Blocked as blocked:
        raise ValidationFailed("blocked", blocked.reasons[0].message, problems=blocked.reasons) from None
    return order, lines, wf, inst, facts


def _create(data: OrderInput, actor: Actor, normalized, fingerprint, lk: _Lookups | None = None) -> Order:
    now = clock.now()
    order, lines, wf, inst, facts = _prepare(data, lk or _Lookups.fetch([data]), actor, normalized,
                                             fingerprint, now)
    order.pk = preallocated_id("orders_order")
    actions = wf.initial.spec.on_enter
    # the usual case: with the id known and no entry actions, one INSERT per table
    one_pass = order.pk is not None and not actions
    if one_pass:
        ev = _append_created(order, actor, now, normalized, {})
    order.save(force_insert=True)
    for ln in lines:
        ln.order = order
    OrderLine.objects.bulk_create(lines)
    if not one_pass:
        try:
            done = _run_actions(order, lines, wf.initial, actor=actor, now=now, forced=False, facts=facts)
        except Blocked as blocked:
            raise ValidationFailed("blocked", blocked.reasons[0].message, problems=blocked.reasons) from None
        ev = _append_created(order, actor, now, normalized, done)
        order.save(update_fields=["tags", "urgency", "audit_seq", "audit_head"])
    inst.order = order
    inst.save(force_insert=True)
    ev.save(force_insert=True)
    _snapshot(order, lines, now).save(force_insert=True)
    return order


def _append_created(order: Order, actor: Actor, now, normalized, done):
    return _append(order, action="order.created", actor=actor, now=now,
                   changes={"stage": [None, order.stage], "status": [None, order.status]},
                   data={"intake": normalized, "actions": done})


@dataclass
class BatchItem:
    index: int
    order: Order | None = None
    created: bool = False
    error: DomainError | None = None


def order_create_batch(*, items: list[OrderInput], actor: Actor, all_or_nothing: bool = False) -> list[BatchItem]:
    """Create many orders in one transaction: imports and batch intake.

    Each item is validated on its own and follows order_create's rules (same key and content:
    the existing order; same key, other content: a Conflict). With ``all_or_nothing`` one bad
    item refuses the whole batch (nothing is written); otherwise the valid items go in and each
    bad one is reported. On PostgreSQL the batch costs one INSERT per table, whatever its size.
    """
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    results = [BatchItem(i) for i in range(len(items))]
    normalized = [d.normalized() for d in items]
    prints = [sha256_hex(canonical_json(n)) for n in normalized]
    first_of_key: dict[tuple[str, str], int] = {}
    todo: list[int] = []
    for i, d in enumerate(items):
        key = (d.channel, d.external_ref) if d.external_ref else None
        if key is None or key not in first_of_key:
            if key:
                first_of_key[key] = i
            todo.append(i)
    try:
        with transaction.atomic():
            _batch_write(items, normalized, prints, todo, results, actor)
            _batch_repeats(items, normalized, prints, first_of_key, results)
            if all_or_nothing and any(r.error for r in results):
                raise _BatchRefused()
    except _BatchRefused:
        for r in results:
            if r.error is None:
                r.order, r.created = None, False
        return results
    except IntegrityError:
        # another writer took one of the keys meanwhile: go one by one (each its own transaction)
        if all_or_nothing:
            raise
        for i, d in enumerate(items):
            try:
                res = order_create(data=d, actor=actor)
                results[i] = BatchItem(i, res.order, res.created)
            except DomainError as exc:
                results[i] = BatchItem(i, error=exc)
    return results


class _BatchRefused(Exception):
    pass


def _batch_repeats(items, normalized, prints, first_of_key, results) -> None:
    """Items repeating a key already used earlier in the same batch."""
    for i, d in enumerate(items):
        if not d.external_ref:
            continue
        j = first_of_key[(d.channel, d.external_ref)]
        if j == i:
            continue
        first = results[j]
        if prints[i] != prints[j]:
            results[i].error = Conflict(
                "duplicate_conflict", _("Repeats the key of item %(j)d with different content.") % {"j": j},
                data={"differences": differences(normalized[j], normalized[i])})
        elif first.order is not None:
            results[i].order, results[i].created = first.order, False
        else:
            results[i].error = first.error


def _batch_write(items, normalized, prints, todo, results, actor) -> None:
    lk = _Lookups.fetch([items[i] for i in todo])
    keyed = [i for i in todo if items[i].external_ref]
    existing: dict[tuple[str, str], Order] = {}
    if keyed:
        for o in Order.objects.filter(external_ref__in={items[i].external_ref for i in keyed},
                                      channel__in={items[i].channel for i in keyed}):
            existing[(o.channel, o.external_ref)] = o
    now = clock.now()
    orders, all_lines, stages, events, snaps = [], [], [], [], []
    for i in todo:
        d = items[i]
        found = existing.get((d.channel, d.external_ref)) if d.external_ref else None
        if found is not None:
            if found.intake_hash == prints[i]:
                results[i].order = found
            else:
                results[i].error = Conflict(
                    "duplicate_conflict",
                    _("Order %(number)s already exists for %(channel)s/%(ref)s with different content.")
                    % {"number": found.number, "channel": d.channel, "ref": d.external_ref},
                    data={"order": found.number, "differences": differences(found.intake, normalized[i])})
            continue
        try:
            order, lines, wf, inst, _facts = _prepare(d, lk, actor, normalized[i], prints[i], now)
        except DomainError as exc:
            results[i].error = exc
            continue
        order.pk = preallocated_id("orders_order")
        if order.pk is None or wf.initial.spec.on_enter:
            # no id before INSERT (SQLite) or entry actions: this one goes alone
            try:
                with transaction.atomic():
                    results[i].order = _create(d, actor, normalized[i], prints[i], lk)
                    results[i].created = True
            except DomainError as exc:
                results[i].error = exc
            continue
        ev = _append_created(order, actor, now, normalized[i], {})
        for ln in lines:
            ln.order = order
        inst.order = order
        orders.append(order)
        all_lines.extend(lines)
        stages.append(inst)
        events.append(ev)
        snaps.append(_snapshot(order, lines, now))
        results[i].order, results[i].created = order, True
    if orders:
        Order.objects.bulk_create(orders)
        OrderLine.objects.bulk_create(all_lines)
        StageInstance.objects.bulk_create(stages)
        AuditEvent.objects.bulk_create(events)
        Snapshot.objects.bulk_create(snaps)


# --------------------------------------------------------------------------- moves


def _check_can_move(order: Order, wf: CompiledWorkflow, to: str, actor: Actor) -> CompiledStage:
    if order.status != Order.Status.OPEN:
        raise DomainError("order_closed", _("Order %(number)s is %(status)s and cannot move.")
                          % {"number": order.number, "status": order.get_status_display()}, status=409)
    if to not in wf.stages:
        raise ValidationFailed("unknown_stage", _("Stage '%(stage)s' does not exist in workflow %(wf)s.")
                               % {"stage": to, "wf": wf.spec.code},
                               problems=[Problem("unknown_stage", _("Unknown stage."), field="to")])
    current = wf.stage(order.stage)
    if to not in current.spec.next:
        raise DomainError("invalid_transition", _("Cannot move from %(a)s to %(b)s; allowed: %(allowed)s.")
                          % {"a": current.spec.name, "b": wf.stage(to).spec.name,
                             "allowed": ", ".join(wf.stage(n).spec.name for n in current.spec.next)},
                          status=409)
    if not actor.may_act_for_role(current.spec.owner_role):
        raise PermissionDenied("permission_denied", _("Only the %(role)s role may move an order out of %(stage)s.")
                               % {"role": current.spec.owner_role, "stage": current.spec.name})
    return wf.stage(to)


def order_transition(*, order: Order | str, to: str, actor: Actor, reason: str = "",
                     force: bool = False) -> TransitionResult:
    """Move an order to stage ``to``. Returns ok, or every blocking reason (the attempt is
    recorded on the order and in its history). ``force`` skips guards: it needs the
    override permission and a reason, and is flagged."""
    number = order if isinstance(order, str) else order.number
    if force:
        if not actor.has_perm("orders.override_guard"):
            raise PermissionDenied("permission_denied", _("You may not force an order past its guards."))
        if not reason.strip():
            raise ValidationFailed("reason_required", _("A forced move needs a reason."),
                                   problems=[Problem("required", _("A forced move needs a reason."), field="reason")])
    try:
        with transaction.atomic():
            locked = _lock(number)
            if locked.on_hold:
                raise Blocked([Problem("on_hold", _("Order is on hold: %(reason)s") % {"reason": locked.hold_reason})])
            wf = compiled(locked.workflow_id)
            target = _check_can_move(locked, wf, to, actor)
            now = clock.now()
            lines = _lines(locked)
            before = {"stage": locked.stage, "status": locked.status, "urgency": locked.urgency,
                      "tags": list(locked.tags), "version": locked.version}
            facts = OrderFacts(locked, lines)
            inst = _enter(locked, lines, wf, target, actor=actor, now=now, forced=force, facts=facts)
            done = _run_actions(locked, lines, target, actor=actor, now=now, forced=force, facts=facts)
            StageInstance.objects.filter(order=locked, exited_at__isnull=True).update(exited_at=now)
            locked.version += 1
            locked.updated_at = now
            if force:
                locked.forced = True
            after = {"stage": locked.stage, "status": locked.status, "urgency": locked.urgency,
                     "tags": list(locked.tags), "version": locked.version}
            ev = _append(locked, action="order.forced" if force else "order.transitioned", actor=actor,
                         now=now, changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
                         data={"from": before["stage"], "to": to, "actions": done}, reason=reason,
                         forced=force)
            locked.save(update_fields=["stage", "stage_entered_at", "stage_due_at", "status", "tags",
                                       "urgency", "version", "updated_at", "forced", "blocked_reasons",
                                       "audit_seq", "audit_head"])
            inst.save(force_insert=True)
            ev.save(force_insert=True)
            _snapshot(locked, lines, now).save(force_insert=True)
            return TransitionResult(locked, True)
    except Blocked as blocked:
        return TransitionResult(_record_block(number, to, blocked.reasons, actor), False, blocked.reasons)


def _record_block(number: str, to: str, reasons: list[Problem], actor: Actor) -> Order:
    """Keep the reasons on the order (boards show them) and the attempt in its history."""
    with transaction.atomic():
        order = _lock(number)
        now = clock.now()
        plain = [r.as_dict() for r in reasons]
        changed = order.blocked_reasons != plain
        order.blocked_reasons = plain
        ev = _append(order, action="order.blocked", actor=actor, now=now,
                     changes={"blocked_reasons": [None, plain]} if changed else {},
                     data={"to": to, "reasons": plain})
        order.save(update_fields=["blocked_reasons", "audit_seq", "audit_head"])
        ev.save(force_insert=True)
        return order


def order_override(*, order: Order | str, to: str, actor: Actor, reason: str) -> TransitionResult:
    """Force an order into ``to`` past its guards (audited, flagged, reason required)."""
    return order_transition(order=order, to=to, actor=actor, reason=reason, force=True)


def _simple_change(number: str, *, actor: Actor, action: str, reason: str, apply) -> Order:
    with transaction.atomic():
        order = _lock(number)
        now = clock.now()
        changes = apply(order, now)
        order.version += 1
        order.updated_at = now
        changes["version"] = [order.version - 1, order.version]
        ev = _append(order, action=action, actor=actor, now=now, changes=changes, reason=reason)
        order.save()
        ev.save(force_insert=True)
        return order


def order_hold(*, order: Order | str, actor: Actor, reason: str) -> Order:
    """Take an order out of the flow (e.g. finance: wrong tax id) until resumed."""
    if not actor.has_perm("orders.hold_order"):
        raise PermissionDenied("permission_denied", _("You may not hold orders."))
    if not reason.strip():
        raise ValidationFailed("reason_required", _("Holding an order needs a reason."),
                               problems=[Problem("required", _("Holding an order needs a reason."), field="reason")])

    def apply(o: Order, now):
        if o.status != Order.Status.OPEN:
            raise DomainError("order_closed", _("Only open orders can be held."), status=409)
        if o.on_hold:
            raise DomainError("already_on_hold", _("Order is already on hold."), status=409)
        o.on_hold, o.hold_reason = True, reason.strip()[:300]
        return {"on_hold": [False, True], "hold_reason": ["", o.hold_reason]}

    return _simple_change(order if isinstance(order, str) else order.number, actor=actor,
                          action="order.held", reason=reason, apply=apply)


def order_resume(*, order: Order | str, actor: Actor, reason: str = "") -> Order:
    if not actor.has_perm("orders.hold_order"):
        raise PermissionDenied("permission_denied", _("You may not resume orders."))

    def apply(o: Order, now):
        if not o.on_hold:
            raise DomainError("not_on_hold", _("Order is not on hold."), status=409)
        before = o.hold_reason
        o.on_hold, o.hold_reason = False, ""
        return {"on_hold": [True, False], "hold_reason": [before, ""]}

    return _simple_change(order if isinstance(order, str) else order.number, actor=actor,
                          action="order.resumed", reason=reason, apply=apply)


def order_cancel(*, order: Order | str, actor: Actor, reason: str) -> Order:
    """Cancel an open order and release every reservation it holds."""
    if not actor.has_perm("orders.cancel_order"):
        raise PermissionDenied("permission_denied", _("You may not cancel orders."))
    if not reason.strip():
        raise ValidationFailed("reason_required", _("Cancelling an order needs a reason."),
                               problems=[Problem("required", _("Cancelling an order needs a reason."), field="reason")])
    number = order if isinstance(order, str) else order.number
    with transaction.atomic():
        locked = _lock(number)
        if locked.status != Order.Status.OPEN:
            raise DomainError("order_closed", _("Only open orders can be cancelled."), status=409)
        now = clock.now()
        released = stock_release(order_id=locked.pk, actor=actor, note=reason)
        StageInstance.objects.filter(order=locked, exited_at__isnull=True).update(exited_at=now)
        locked.status = Order.Status.CANCELLED
        locked.stage_due_at = None
        locked.version += 1
        locked.updated_at = now
        ev = _append(locked, action="order.cancelled", actor=actor, now=now, reason=reason,
                     changes={"status": ["open", "cancelled"], "version": [locked.version - 1, locked.version]},
                     data={"released": [{"product_id": r.product_id, "qty": r.qty} for r in released]})
        locked.save()
        ev.save(force_insert=True)
        _snapshot(locked, _lines(locked), now).save(force_insert=True)
        return locked


EDITABLE_FIELDS = ("promised_date", "urgency", "remarks", "tags", "required_date")


def _update_problems(changes: dict[str, Any]) -> list[Problem]:
    problems = []
    for key, value in changes.items():
        ok = {
            "promised_date": value is None or isinstance(value, date),
            "required_date": isinstance(value, date),
            "urgency": value in Urgency.values,
            "remarks": isinstance(value, str) and not unstorable(value),
            "tags": isinstance(value, list | tuple) and all(isinstance(t, str) and t and not unstorable(t)
                                                           for t in value),
        }.get(key, True)
        if not ok:
            problems.append(Problem("invalid", _("Invalid value for %(field)s.") % {"field": key}, field=key))
    return problems


def order_update(*, order: Order | str, changes: dict[str, Any], actor: Actor, reason: str = "") -> Order:
    """Change header fields; the event records each field's before and after."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed("invalid", _("Field '%(f)s' cannot be changed here.") % {"f": unknown[0]},
                               problems=[Problem("not_editable", _("Not editable."), field=f) for f in unknown])
    problems = _update_problems(changes)
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    if not (actor.has_perm("orders.add_order") or actor.has_perm("orders.hold_order")):
        raise PermissionDenied("permission_denied", _("You may not change orders."))

    def apply(o: Order, now):
        diff = {}
        for key, value in changes.items():
            if key == "tags":
                value = sorted(set(value))
            if getattr(o, key) != value:
                diff[key] = [getattr(o, key), value]
                setattr(o, key, value)
        if not diff:
            raise DomainError("no_change", _("Nothing to change."), status=409)
        return diff

    return _simple_change(order if isinstance(order, str) else order.number, actor=actor,
                          action="order.updated", reason=reason, apply=apply)


MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def order_attach(*, order: Order | str, name: str, content: bytes, content_type: str,
                 actor: Actor) -> Attachment:
    """Keep a drawing, photo or document with the order (hashed, audited)."""
    if not (actor.has_perm("orders.add_order") or actor.has_perm("orders.view_order")):
        raise PermissionDenied("permission_denied", _("You may not add attachments."))
    if not content:
        raise ValidationFailed("invalid", _("The file is empty."),
                               problems=[Problem("empty_file", _("The file is empty."), field="file")])
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed("too_large", _("A file may be at most 20 MB."),
                               problems=[Problem("too_large", _("A file may be at most 20 MB."), field="file")])
    safe_name = (name or "file").replace("/", "_").replace("\\", "_")[:200]
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        locked = _lock(order if isinstance(order, str) else order.number)
        now = clock.now()
        att = Attachment(order=locked, name=safe_name, content_type=content_type[:100] or "application/octet-stream",
                         size=len(content), sha256=digest, uploaded_at=now, uploaded_by=actor.label[:150])
        att.file.save(f"{digest[:16]}-{safe_name}", ContentFile(content), save=False)
        att.save(force_insert=True)
        locked.version += 1
        locked.updated_at = now
        ev = _append(locked, action="order.attachment_added", actor=actor, now=now,
                     changes={"attachments": [None, safe_name], "version": [locked.version - 1, locked.version]},
                     data={"sha256": digest, "size": len(content), "content_type": att.content_type})
        locked.save(update_fields=["version", "updated_at", "audit_seq", "audit_head"])
        ev.save(force_insert=True)
        return att

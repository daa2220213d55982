"""What every order write shares: results, locking, snapshots, audit events, guards and
entry actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from orderhub.core import fastsql
from orderhub.core.actors import Actor
from orderhub.core.audit import build_event, seal
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.canonical import canonical_json, sha256_hex
from orderhub.core.errors import (
    NotFound,
    Problem,
)
from orderhub.core.instances import new
from orderhub.core.locking import lock_own_rows
from orderhub.core.numbering import next_value, preallocated_id, reserve, serial_sequence
from orderhub.inventory.services import Requirement, stock_consume, stock_release, stock_reserve
from orderhub.workflow.spec import CompiledStage, CompiledWorkflow, render_message

from ..facts import OrderFacts
from ..kitting import fmt_qty, kitting_problems
from ..models import Order, OrderLine, Snapshot, StageInstance, snapshot_sealed_text

CENT = Decimal("0.01")
NUMBER_SEQUENCE = "orderhub_order_number"
MAX_LINES = 5000
MAX_QTY = Decimal("1e14")     # QTY columns: 18 digits, 4 decimals
MAX_MONEY = Decimal("1e14")   # MONEY columns: 16 digits, 2 decimals


@dataclass
class CreateResult:
    order: Order
    created: bool
    # what a new order was written with, so a caller can answer without reading it back
    lines: list[OrderLine] | None = None
    stages: list[StageInstance] | None = None


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


def next_order_number(now) -> str:
    return f"{_number_prefix(settings.ORDERHUB_ORDER_NUMBER_PREFIX, now, get_business_calendar().tz)}" \
           f"{next_value(NUMBER_SEQUENCE):06d}"


@lru_cache(maxsize=16)
def _number_prefix(prefix: str, now, tz) -> str:
    """'SO-261130-': the same for every order of a batch (one ``now``)."""
    return f"{prefix}-{now.astimezone(tz):%y%m%d}-"


def due_at(stage: CompiledStage, start):
    deadline = stage.spec.deadline
    if deadline is None:
        return None
    if deadline.business_hours is not None:
        return get_business_calendar().add_business_hours(start, deadline.business_hours)
    return start + timedelta(hours=float(deadline.hours))


def lock_order(order: Order | str) -> Order:
    """The order, locked for the rest of the transaction, with its customer and workflow."""
    number = order if isinstance(order, str) else order.number
    if fastsql.available():
        return _lock_fast(number, with_lines=False)[0]
    qs = lock_own_rows(Order.objects.select_related("customer", "workflow"))
    try:
        return qs.get(number=number)
    except Order.DoesNotExist:
        raise NotFound("order_not_found", _("Order %(number)s does not exist.") % {"number": number}) from None


_LOCK_SQL: dict[bool, str] = {}


def _lock_sql(with_lines: bool) -> str:
    sql = _LOCK_SQL.get(with_lines)
    if sql is None:
        from orderhub.catalog.models import Customer, Product
        from orderhub.workflow.models import WorkflowDefinition

        q = connection.ops.quote_name
        lines = (
            "(SELECT jsonb_agg(jsonb_build_array(to_jsonb(l), "
            f" (SELECT to_jsonb(pr) FROM {q(Product._meta.db_table)} pr WHERE pr.id = l.product_id)) "
            f" ORDER BY l.line_no)::text FROM {q(OrderLine._meta.db_table)} l WHERE l.order_id = o.id)"
        ) if with_lines else "NULL"
        sql = _LOCK_SQL[with_lines] = (
            "WITH p AS MATERIALIZED (SELECT %s::jsonb AS d), "
            f"o AS (SELECT x.* FROM {q(Order._meta.db_table)} x WHERE x.number = (SELECT d->>0 FROM p) "
            "FOR UPDATE) "
            # the intake and the workflow's definition stay deferred: a move needs neither
            "SELECT (to_jsonb(o) - 'intake')::text, "
            f"(SELECT to_jsonb(c)::text FROM {q(Customer._meta.db_table)} c WHERE c.id = o.customer_id), "
            f"(SELECT (to_jsonb(w) - 'spec')::text FROM {q(WorkflowDefinition._meta.db_table)} w "
            f" WHERE w.id = o.workflow_id), {lines} FROM o"
        )
    return sql


def lock_order_with_lines(number: str) -> tuple[Order, list[OrderLine]]:
    """``lock_order`` and ``order_lines`` together: on PostgreSQL one prepared statement."""
    if not fastsql.available():
        order = lock_order(number)
        return order, order_lines(order)
    return _lock_fast(number, with_lines=True)


def _lock_fast(number: str, *, with_lines: bool) -> tuple[Order, list[OrderLine]]:
    from orderhub.catalog.models import Customer, Product
    from orderhub.workflow.models import WorkflowDefinition

    found = fastsql.execute(_lock_sql(with_lines), [number])
    if not found:
        raise NotFound("order_not_found", _("Order %(number)s does not exist.") % {"number": number})
    o, c, w, ls = found[0]
    order = fastsql.instance(Order, fastsql.loads(o))
    order.customer = fastsql.instance(Customer, fastsql.loads(c))
    order.workflow = fastsql.instance(WorkflowDefinition, fastsql.loads(w))
    lines = []
    for ln, pr in fastsql.loads(ls) or ():
        line = fastsql.instance(OrderLine, ln)
        line.product = fastsql.instance(Product, pr)
        lines.append(line)
    return order, lines


def order_lines(order: Order) -> list[OrderLine]:
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


def make_snapshot(order: Order, lines: list[OrderLine], now) -> Snapshot:
    content = canonical_json(snapshot_content(order, lines))
    key_id, mac = seal(snapshot_sealed_text(order.pk, order.version, content))
    return new(Snapshot, order=order, version=order.version, stage=order.stage, taken_at=now,
                    content=content, sha256=sha256_hex(content), key_id=key_id, mac=mac)


def next_event(order: Order, *, action: str, actor: Actor, now, changes=None, data=None,
               reason: str = "", forced: bool = False, plain: bool = False):
    """Build the next event of the order's chain and move the head kept on the order row."""
    ev = build_event(subject_type="order", subject_id=order.pk, head=(order.audit_seq, order.audit_head),
                     action=action, actor=actor, changes=changes, data=data, reason=reason,
                     forced=forced, at=now, plain=plain)
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
            reasons.extend(kitting_problems(facts, spec.code))
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


def run_entry_actions(order: Order, lines: list[OrderLine], stage: CompiledStage, *, actor: Actor,
                 now, forced: bool, facts: OrderFacts) -> dict[str, Any]:
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


def enter_stage(order: Order, lines: list[OrderLine], wf: CompiledWorkflow, stage: CompiledStage, *,
           actor: Actor, now, forced: bool, facts: OrderFacts | None = None) -> StageInstance:
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


# --------------------------------------------------------------------------- writing new orders


@cache
def _create_sql() -> str:
    from orderhub.core.models import AuditEvent

    # every id is allocated before (core.numbering): nothing needs to come back but a count
    return fastsql.statement([
        fastsql.insert_cte("o", "o", Order, fastsql.columns(Order, True)),
        fastsql.insert_cte("l", "l", OrderLine, fastsql.columns(OrderLine, True)),
        fastsql.insert_cte("s", "s", StageInstance, fastsql.columns(StageInstance, True)),
        fastsql.insert_cte("e", "e", AuditEvent, fastsql.columns(AuditEvent, True)),
        fastsql.insert_cte("n", "n", Snapshot, fastsql.columns(Snapshot, False)),
    ], "SELECT (SELECT count(*) FROM o)")


# the tables whose ids a new order's rows take from hi/lo blocks (their sequences advance by
# numbering.BLOCK: migrations orders 0003 and 0011, core 0003)
ID_TABLES = ("orders_order", "orders_orderline", "orders_stageinstance", "core_auditevent")


def _saved(objs) -> None:
    """Mark instances as loaded from the database, as Model.save() would."""
    for o in objs:
        o._state.adding = False
        o._state.db = "default"


def insert_new_orders(orders: list[Order], lines: list[OrderLine], stages: list[StageInstance],
                      events: list, snaps: list[Snapshot]) -> None:
    """Write new orders (with their pks already allocated) and everything that goes with them.

    On PostgreSQL: one prepared statement whatever the number of orders and lines (the lines,
    stage instances and events get their ids from hi/lo blocks first). Elsewhere one INSERT per
    table."""
    send_new_orders(orders, lines, stages, events, snaps)()


def send_new_orders(orders: list[Order], lines: list[OrderLine], stages: list[StageInstance],
                    events: list, snaps: list[Snapshot]):
    """:func:`insert_new_orders` in two steps: send the statement now (inside
    ``fastsql.pipeline()`` the server starts on it while the caller goes on: every row has its id
    already, so the caller can go on using them), and return the function that waits for it."""
    if not fastsql.available():
        from orderhub.core.models import AuditEvent

        Order.objects.bulk_create(orders)
        OrderLine.objects.bulk_create(lines)
        StageInstance.objects.bulk_create(stages)
        AuditEvent.objects.bulk_create(events)
        Snapshot.objects.bulk_create(snaps)
        return lambda: None
    from orderhub.core.models import AuditEvent

    for table, objs in zip(ID_TABLES[1:], (lines, stages, events), strict=True):
        # a 1,000-line order needs 20 blocks of line ids: one round trip for all of them
        reserve(serial_sequence(table), sum(o.pk is None for o in objs))
        for o in objs:
            if o.pk is None:
                o.pk = preallocated_id(table)
    payload = {
        "o": fastsql.rows(orders, fastsql.columns(Order, True)),
        "l": fastsql.rows(lines, fastsql.columns(OrderLine, True)),
        "s": fastsql.rows(stages, fastsql.columns(StageInstance, True)),
        "e": fastsql.rows(events, fastsql.columns(AuditEvent, True)),
        "n": fastsql.rows(snaps, fastsql.columns(Snapshot, False)),
    }
    sent = fastsql.send(_create_sql(), payload)
    for group in (orders, lines, stages, events):
        _saved(group)

    def finish() -> None:
        (n,), = sent.rows()
        if n != len(orders):
            raise RuntimeError(f"{len(orders)} orders sent, {n} written")

    return finish


# --------------------------------------------------------------------------- writing a change


_CHANGE_SQL: dict[tuple, str] = {}


def _change_sql(cols: tuple[str, ...], close: bool, entered: bool, snapshot: bool) -> str:
    key = (cols, close, entered, snapshot)
    sql = _CHANGE_SQL.get(key)
    if sql is None:
        from orderhub.core.models import AuditEvent

        ctes = [fastsql.update_one_cte("u", "u", Order, cols)]
        if close:
            ctes.append("c AS (UPDATE orders_stageinstance AS t "
                        "SET exited_at = (SELECT (d->>'closed_at')::timestamptz FROM p) "
                        "WHERE t.order_id = (SELECT ((d->'u')->>'id')::bigint FROM p) "
                        "AND t.exited_at IS NULL RETURNING 1)")
        if entered:
            ctes.append(fastsql.insert_cte("s", "s", StageInstance, fastsql.columns(StageInstance, False),
                                           returning="id"))
        ctes.append(fastsql.insert_cte("e", "e", AuditEvent, fastsql.columns(AuditEvent, False),
                                       returning="id"))
        if snapshot:
            ctes.append(fastsql.insert_cte("n", "n", Snapshot, fastsql.columns(Snapshot, False)))
        sql = _CHANGE_SQL[key] = fastsql.statement(
            ctes, "SELECT (SELECT count(*) FROM u), " + ("(SELECT id FROM s), " if entered else "NULL, ")
            + "(SELECT id FROM e)")
    return sql


def _attnames(order: Order, fields) -> tuple[str, ...]:
    if fields is None:  # every loaded column (a deferred one was not read, so not changed)
        deferred = order.get_deferred_fields()
        if not deferred:
            return fastsql.columns(Order, True)
        skip = {Order._meta.get_field(f).column for f in deferred}
        return tuple(c for c in fastsql.columns(Order, True) if c not in skip)
    meta = Order._meta
    return (meta.pk.column, *(meta.get_field(f).column for f in fields))


def write_order_change(order: Order, fields, *, event, entered: StageInstance | None = None,
                       close_open_stages_at=None, snapshot: Snapshot | None = None) -> None:
    """Save an existing (locked) order's ``fields`` (None: all) and what goes with the change:
    closing its open stage instance, the entered one, the audit event, the snapshot.

    On PostgreSQL: one prepared statement per shape of change. Elsewhere: the ORM, as before."""
    if not fastsql.available():
        if close_open_stages_at is not None:
            StageInstance.objects.filter(order=order, exited_at__isnull=True).update(exited_at=close_open_stages_at)
        order.save(update_fields=fields)
        if entered is not None:
            entered.save(force_insert=True)
        event.save(force_insert=True)
        if snapshot is not None:
            snapshot.save(force_insert=True)
        return
    from orderhub.core.models import AuditEvent

    cols = _attnames(order, fields)
    payload = {"u": fastsql.rows([order], cols)[0],
               "e": fastsql.rows([event], fastsql.columns(AuditEvent, False))}
    if close_open_stages_at is not None:
        payload["closed_at"] = close_open_stages_at
    if entered is not None:
        payload["s"] = fastsql.rows([entered], fastsql.columns(StageInstance, False))
    if snapshot is not None:
        payload["n"] = fastsql.rows([snapshot], fastsql.columns(Snapshot, False))
    (updated, inst_id, event_id), = fastsql.execute(
        _change_sql(cols, close_open_stages_at is not None, entered is not None, snapshot is not None),
        payload)
    if updated != 1:
        raise Order.DoesNotExist(f"order {order.pk} was not updated")
    event.pk = event_id
    _saved([event])
    if entered is not None:
        entered.pk = inst_id
        _saved([entered])

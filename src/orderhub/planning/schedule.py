"""The schedule in the database: released orders turned into jobs (lines × routings), the
booked load read per line and day, and the full rebuild (every released order placed again by
priority), with the orders whose completion slipped past their promised date told.

Released orders are the open orders at the stages of ``ORDERHUB_PLANNING_STAGES`` (T1: 已排产,
物料齐套, 加工中). Priority: rush orders first (in the order they were inserted), then urgency
(red, yellow, green), then the promised (else required) date, then the order id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from orderhub.core import clock, fastsql
from orderhub.core.calendar_config import get_business_calendar
from orderhub.orders.models import Order, OrderLine

from .engine import Board, Job, Op, Placed
from .models import OrderPlan, Routing, ScheduledOperation, WorkCenter

URGENCY_RANK = {"red": 0, "yellow": 1, "green": 2}
H2 = Decimal("0.01")


def released_stages() -> tuple[str, ...]:
    return tuple(settings.ORDERHUB_PLANNING_STAGES)


@dataclass(frozen=True)
class Step:
    seq: int
    operation: str
    line: int
    hours_per_unit: float
    preferred: bool


def routings(product_ids: Iterable[int]) -> dict[int, dict[int, list[Step]]]:
    """{product: {seq: [steps, preferred line first]}} of active lines. One query: on the fast
    path (``core.fastsql``) a prepared statement, as every order confirmed reads it (an order
    none of whose products is routed reads only this); the ORM twin reads the same rows."""
    out: dict[int, dict[int, list[Step]]] = defaultdict(lambda: defaultdict(list))
    pids = sorted(set(product_ids))
    rows: Iterable[tuple[Any, ...]]
    if fastsql.available():
        rows = fastsql.execute(_routings_sql(), pids)
    else:
        rows = (Routing.objects.filter(product_id__in=pids, work_center__is_active=True)
                .order_by(*ROUTING_ORDER)
                .values_list("product_id", "seq", "operation", "work_center_id", "hours_per_unit", "preferred"))
    for pid, seq, op, wc, hpu, pref in rows:
        out[pid][seq].append(Step(seq, op, wc, float(hpu), pref))
    return out


ROUTING_ORDER = ("product_id", "seq", "-preferred", "hours_per_unit", "work_center_id")


@cache
def _routings_sql() -> str:
    q, f = fastsql.quote, Routing._meta.get_field

    def c(name: str) -> str:
        return "r." + q(fastsql.column_of(f(name.lstrip("-")))) + (" DESC" if name.startswith("-") else "")

    active = q(fastsql.column_of(WorkCenter._meta.get_field("is_active")))
    return ("WITH p AS MATERIALIZED (SELECT %s::jsonb AS d) "
            f"SELECT {c('product')}, {c('seq')}, {c('operation')}, {c('work_center')}, {c('hours_per_unit')}, "
            f"{c('preferred')} FROM {fastsql.table(Routing)} r JOIN {fastsql.table(WorkCenter)} w "
            f"ON w.id = {c('work_center')} AND w.{active} "
            f"WHERE {c('product')} = ANY(ARRAY(SELECT jsonb_array_elements_text(d)::bigint FROM p)) "
            f"ORDER BY {', '.join(c(n) for n in ROUTING_ORDER)}")


def job_ops(lines: Iterable[tuple[int, Decimal]], routes: dict[int, dict[int, list[Step]]],
            on_line: int | None = None) -> list[Op]:
    """The operations of an order's lines ((product, base qty)): per seq and line the hours.
    ``on_line``: steps that line can do go there (a rush insertion), the rest to the preferred."""
    hours: dict[tuple[int, str, int], float] = defaultdict(float)
    for pid, qty in lines:
        for seq, steps in routes.get(pid, {}).items():
            step = next((s for s in steps if s.line == on_line), steps[0])
            hours[(seq, step.operation, step.line)] += float(qty) * step.hours_per_unit
    return [Op(seq, op, line, h) for (seq, op, line), h in sorted(hours.items())]


def capacities() -> dict[int, float]:
    return {pk: float(h) for pk, h in WorkCenter.objects.filter(is_active=True).values_list("pk", "hours_per_day")}


def new_board(caps: dict[int, float] | None = None) -> Board:
    cal = get_business_calendar()
    return Board(caps if caps is not None else capacities(), cal.is_workday)


def load_booked(board: Board, *, since: date, lines: Iterable[int] | None = None,
                exclude_order: int | None = None) -> None:
    """Book on ``board`` what the schedule holds from ``since`` (one aggregate query)."""
    qs = ScheduledOperation.objects.filter(day__gte=since)
    if lines is not None:
        qs = qs.filter(work_center_id__in=set(lines))
    if exclude_order is not None:
        qs = qs.exclude(order_id=exclude_order)
    for wc, day, h in qs.values("work_center_id", "day").annotate(h=Sum("hours")).values_list(
            "work_center_id", "day", "h"):
        board.book(wc, day, float(h))


def rows_of(placed: Placed) -> list[ScheduledOperation]:
    return [ScheduledOperation(order_id=placed.order_id, work_center_id=line, seq=seq, operation=op, day=d,
                               hours=Decimal(str(h)).quantize(H2))
            for line, seq, op, d, h in placed.rows]


def lock_schedule() -> dict[int, float]:
    """Schedule writers serialise on the line rows (pk order); returns the active lines' hours
    per day (what :func:`capacities` reads), so the lock costs no extra query."""
    rows = WorkCenter.objects.select_for_update().order_by("pk").values_list("pk", "hours_per_day", "is_active")
    return {pk: float(h) for pk, h, active in rows if active}


@dataclass
class Released:
    pk: int
    number: str
    owner_id: int | None
    urgency: str
    promised: date | None
    required: date
    plan: OrderPlan | None


def released_orders() -> list[Released]:
    rows = (Order.objects.filter(status=Order.Status.OPEN, stage__in=released_stages())
            .values_list("pk", "number", "owner_id", "urgency", "promised_date", "required_date"))
    out = [Released(*r, plan=None) for r in rows]
    plans = OrderPlan.objects.in_bulk([r.pk for r in out], field_name="order_id") if out else {}
    for r in out:
        r.plan = plans.get(r.pk)
    return out


def priority(r: Released) -> tuple:
    rush = r.plan.rush_at if r.plan and r.plan.rush_at else None
    return (0 if rush else 1, rush.timestamp() if rush else 0, URGENCY_RANK.get(r.urgency, 2),
            r.promised or r.required, r.pk)


def build_jobs(orders: list[Released], today: date) -> list[Job]:
    """Jobs in priority order; each starts when its materials are there (never before today)."""
    by_order: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for oid, pid, qty in OrderLine.objects.filter(order_id__in=[o.pk for o in orders]).values_list(
            "order_id", "product_id", "base_qty"):
        by_order[oid].append((pid, qty))
    routes = routings({pid for ls in by_order.values() for pid, _ in ls})
    jobs = []
    for o in sorted(orders, key=priority):
        plan = o.plan
        start = max(today, plan.materials_date) if plan else today
        on_line = plan.rush_line_id if plan else None
        jobs.append(Job(o.pk, start, job_ops(by_order.get(o.pk, []), routes, on_line)))
    return jobs


def today() -> date:
    return timezone.localdate(clock.now())

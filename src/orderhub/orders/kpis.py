"""Read-only KPI selectors over the order history: on-time delivery, time per stage, overdue.

Each is one query whatever the number of orders (set-based aggregates in the database), so the
figures stay cheap with a million orders. Nothing here writes.

- on-time delivery rate: of the orders completed in a window, the share that reached their
  final stage on or before their promised date (the required date when none was promised),
  dates taken in the business time zone;
- processing time per stage: median and 90th percentile of (left at − entered at) of the stage
  stays that ended in a window, per workflow and stage, in wall-clock seconds (business-hour
  deadlines are what the boards show; this is what the customer waits);
- overdue counts by stage: open orders per workflow and stage, how many are past their stage
  deadline (held orders counted apart: a hold stops the clock for the people, not the order).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, TypeVar

from django.db import connection
from django.db.models import Count, F, Model, Q, QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.workflow.models import WorkflowDefinition

from .models import Order, StageInstance

_M = TypeVar("_M", bound=Model)


@dataclass(frozen=True)
class OnTimeRate:
    completed: int
    on_time: int

    @property
    def late(self) -> int:
        return self.completed - self.on_time

    @property
    def rate(self) -> float | None:
        """Share in 0..1, None when nothing was completed in the window."""
        return self.on_time / self.completed if self.completed else None


@dataclass(frozen=True)
class StageTime:
    workflow: str
    stage: str
    count: int
    median_s: float
    p90_s: float


@dataclass(frozen=True)
class StageOverdue:
    workflow: str
    stage: str
    open: int
    overdue: int
    on_hold: int


def _window(since: datetime, until: datetime | None) -> tuple[datetime, datetime]:
    until = until or clock.now()
    if timezone.is_naive(since) or timezone.is_naive(until):
        raise ValueError("KPI windows need aware datetimes")
    if until < since:
        raise ValueError("the window ends before it starts")
    return since, until


class OrderScope(TypedDict):
    """What the KPI figures are narrowed by besides time: ``order_filter``'s keywords."""

    workflow: str | None
    customer: str | None
    channel: str | None


def order_filter(qs: QuerySet[_M], *, workflow: str | None = None, customer: str | None = None,
                 channel: str | None = None, via: str = "") -> QuerySet[_M]:
    """``qs`` narrowed to the orders of a workflow (code), a customer (code) and a channel;
    ``via`` is the path from ``qs``'s model to the order ("order__" for stage stays)."""
    if workflow:
        qs = qs.filter(**{f"{via}workflow__code": workflow})
    if customer:
        qs = qs.filter(**{f"{via}customer__code": customer})
    if channel:
        qs = qs.filter(**{f"{via}channel": channel})
    return qs


def on_time_delivery_rate(*, since: datetime, until: datetime | None = None,
                          workflow: str | None = None, customer: str | None = None,
                          channel: str | None = None) -> OnTimeRate:
    """Orders completed in [since, until) (by the time they entered their final stage)."""
    since, until = _window(since, until)
    qs = order_filter(Order.objects.filter(status=Order.Status.COMPLETED, stage_entered_at__gte=since,
                                           stage_entered_at__lt=until),
                      workflow=workflow, customer=customer, channel=channel)
    row = qs.annotate(
        done_on=TruncDate("stage_entered_at", tzinfo=timezone.get_current_timezone()),
        due_on=Coalesce("promised_date", "required_date"),
    # counting a column the index holds (never NULL) lets PostgreSQL answer from the index alone
    ).aggregate(completed=Count("stage_entered_at"),
                on_time=Count("stage_entered_at", filter=Q(done_on__lte=F("due_on"))))
    return OnTimeRate(completed=row["completed"], on_time=row["on_time"])


_STAGE_TIMES_SQL = """
SELECT w.code, si.stage, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM si.exited_at - si.entered_at)),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM si.exited_at - si.entered_at))
  FROM {stages} si
  JOIN {workflows} w ON w.id = si.workflow_id {join}
 WHERE si.exited_at >= %s AND si.exited_at < %s {extra}
 GROUP BY w.code, si.stage
 ORDER BY w.code, si.stage
"""


def _stage_times_sql(workflow: str | None, customer: str | None,
                     channel: str | None) -> tuple[str, list[Any]]:
    extra, join = "", ""
    params: list[Any] = []
    if workflow:
        extra = "AND w.code = %s"
        params.append(workflow)
    if customer or channel:
        join = f"JOIN {Order._meta.db_table} o ON o.id = si.order_id"
    if customer:
        extra += f" AND o.customer_id IN (SELECT id FROM {Customer._meta.db_table} WHERE code = %s)"
        params.append(customer)
    if channel:
        extra += " AND o.channel = %s"
        params.append(channel)
    sql = _STAGE_TIMES_SQL.format(extra=extra, join=join, stages=StageInstance._meta.db_table,
                                  workflows=WorkflowDefinition._meta.db_table)
    return sql, params


def stage_processing_times(*, since: datetime, until: datetime | None = None,
                           workflow: str | None = None, customer: str | None = None,
                           channel: str | None = None) -> list[StageTime]:
    """Median and p90 time in each stage, over the stays that ended in [since, until)."""
    since, until = _window(since, until)
    if connection.vendor == "postgresql":
        sql, extra_params = _stage_times_sql(workflow, customer, channel)
        with connection.cursor() as cur:
            cur.execute(sql, [since, until, *extra_params])
            return [StageTime(code, stage, n, float(med), float(p90))
                    for code, stage, n, med, p90 in cur.fetchall()]
    # other databases (the SQLite demo): the same figures computed here, one query
    qs = order_filter(StageInstance.objects.filter(exited_at__gte=since, exited_at__lt=until),
                      customer=customer, channel=channel, via="order__")
    if workflow:
        qs = qs.filter(workflow__code=workflow)
    spans: dict[tuple[str, str], list[float]] = defaultdict(list)
    for code, stage, entered, exited in qs.values_list("workflow__code", "stage",
                                                       "entered_at", "exited_at"):
        if exited is not None:  # always, by the filter above
            spans[(code, stage)].append((exited - entered).total_seconds())
    out = []
    for (code, stage), xs in sorted(spans.items()):
        xs.sort()
        out.append(StageTime(code, stage, len(xs), float(statistics.median(xs)), _p90(xs)))
    return out


def _p90(xs: list[float]) -> float:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    k = (len(xs) - 1) * 0.9
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (k - lo))


def overdue_by_stage(*, now: datetime | None = None, workflow: str | None = None,
                     customer: str | None = None, channel: str | None = None) -> list[StageOverdue]:
    """Open orders per workflow and stage, with those past their stage deadline (not held)."""
    now = now or clock.now()
    qs = order_filter(Order.objects.filter(status=Order.Status.OPEN), customer=customer, channel=channel)
    if workflow:
        qs = qs.filter(workflow__in=WorkflowDefinition.objects.filter(code=workflow))
    rows = (qs.values("workflow__code", "stage")
            # counting a column of the open orders' index (order_open_kpi), never NULL, not the
            # id: the index answers alone
            .annotate(open=Count("stage"),
                      overdue=Count("stage", filter=Q(stage_due_at__lt=now, on_hold=False)),
                      held=Count("stage", filter=Q(on_hold=True)))
            .order_by("workflow__code", "stage"))
    return [StageOverdue(r["workflow__code"], r["stage"], r["open"], r["overdue"], r["held"])
            for r in rows]

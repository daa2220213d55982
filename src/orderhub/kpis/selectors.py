"""The KPI figures, one function per figure, each read by the dashboards (``/kpi/``) and the
API (``/api/kpis/…``) alike, so both show the same numbers. Every function takes a
``KpiFilter`` (period, workflow, customer, channel) and returns plain JSON-able data: counts,
seconds, ISO dates; codes, never labels (the page adds the words). Nothing here writes.

Definitions, business-time rules and the seed figure each one reproduces: ``docs/kpis.md``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from orderhub.core import clock
from orderhub.core.calendar_config import get_business_calendar
from orderhub.notify.selectors import first_touch_stats
from orderhub.orders import kpis as order_kpis
from orderhub.orders.kpis import OrderScope, order_filter
from orderhub.orders.models import Order, StageInstance, Ticket
from orderhub.portal.coei import summary as coei_summary
from orderhub.portal.selectors import self_query_of
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled

from . import rolled

DEFAULT_DAYS = 30
MAX_DAYS = 366
DEFAULT_STALLED_DAYS = 5
TOP_OVERDUE = 5
TOP_EXCEPTIONS = 10
STALLED_LISTED = 20
EXCEPTION_DIMENSIONS = ("kind", "product", "customer", "stage")


@dataclass(frozen=True)
class KpiFilter:
    """What every figure is narrowed by. ``start``/``end``: the period's first and last day
    (business time zone, both included); ``now``: the moment open-order figures are read at."""

    start: date
    end: date
    workflow: str | None = None
    customer: str | None = None
    channel: str | None = None
    stalled_days: int = DEFAULT_STALLED_DAYS
    now: datetime = field(default_factory=clock.now)

    @classmethod
    def build(cls, *, start: date | None = None, end: date | None = None, workflow: str | None = None,
              customer: str | None = None, channel: str | None = None,
              stalled_days: int | None = None, now: datetime | None = None) -> KpiFilter:
        """The filter from optional inputs: the period defaults to the 30 days ending today and
        is capped at 366 days; a period given backwards is turned round."""
        now = now or clock.now()
        end = end or timezone.localdate(now)
        start = start or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            start, end = end, start
        start = max(start, end - timedelta(days=MAX_DAYS - 1))
        return cls(start=start, end=end, workflow=workflow or None,
                   customer=(customer or "").upper() or None, channel=channel or None,
                   stalled_days=max(1, min(stalled_days or DEFAULT_STALLED_DAYS, 250)), now=now)

    @property
    def since(self) -> datetime:
        return _midnight(self.start)

    @property
    def until(self) -> datetime:
        return _midnight(self.end + timedelta(days=1))

    @property
    def orders(self) -> OrderScope:
        return {"workflow": self.workflow, "customer": self.customer, "channel": self.channel}

    def as_query(self) -> dict[str, Any]:
        """The filter as the page's and the API's query parameters."""
        q: dict[str, Any] = {"start": self.start.isoformat(), "end": self.end.isoformat(),
                             "stalled_days": self.stalled_days}
        return {**q, **{k: v for k, v in self.orders.items() if v}}


def _midnight(d: date) -> datetime:
    return timezone.make_aware(datetime.combine(d, time.min), timezone.get_current_timezone())


# --------------------------------------------------------------------------- percentiles

class _PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(p) WITHIN GROUP (ORDER BY x)``."""

    function = "percentile_cont"
    template = "%(function)s(%(p)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _seconds(later: str, earlier: str) -> Func:
    return Func(F(later), F(earlier), template="EXTRACT(EPOCH FROM (%(expressions)s))::float8",
                arg_joiner=" - ", output_field=FloatField())


def percentile(xs: list[float], q: float) -> float:
    """Linear interpolation between closest ranks over sorted ``xs``, as ``percentile_cont``."""
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (k - lo))


def _span_summary(qs: QuerySet[Any], later: str, earlier: str) -> dict[str, Any]:
    """count, mean, median and p90 of (later − earlier) in seconds over ``qs``; None when empty."""
    if connection.vendor == "postgresql":
        secs = _seconds(later, earlier)
        # counting a column the index holds (not the pk) lets PostgreSQL read the index alone
        row = qs.aggregate(count=Count(later), mean=Avg(secs),
                           median=_PercentileCont(secs, p=0.5), p90=_PercentileCont(secs, p=0.9))
        n = row["count"]
        return {"count": n, "mean_seconds": _r(row["mean"]) if n else None,
                "median_seconds": _r(row["median"]) if n else None,
                "p90_seconds": _r(row["p90"]) if n else None}
    xs = sorted((b - a).total_seconds() for b, a in qs.values_list(later, earlier))
    if not xs:
        return {"count": 0, "mean_seconds": None, "median_seconds": None, "p90_seconds": None}
    return {"count": len(xs), "mean_seconds": _r(statistics.fmean(xs)),
            "median_seconds": _r(percentile(xs, 0.5)), "p90_seconds": _r(percentile(xs, 0.9))}


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 1)


# --------------------------------------------------------------------------- the figures

def first_touch(f: KpiFilter) -> dict[str, Any]:
    """First-touch latency of the orders submitted in the period: from the customer's
    submission to the first delivered message to the first stage's people. Median in
    business time (the cases' definition), wall-clock p50 and p99 beside it."""
    s = first_touch_stats(since=f.since, until=f.until, **f.orders)
    return {"count": s.count, "median_business_seconds": _r(s.median_business_seconds),
            "p50_seconds": _r(s.p50_seconds), "p99_seconds": _r(s.p99_seconds)}


def on_time(f: KpiFilter) -> dict[str, Any]:
    """Orders completed in the period, and how many reached their final stage on or before the
    promised date (the required date when none was promised). From the trend's rollup when
    ``rolled.use_rollup`` (the same counts, summed per day), else counted here."""
    if rolled.use_rollup(f):
        days = rolled.trend_days(f, _trend_counts).values()
        done, ok = sum(d["completed"] for d in days), sum(d["on_time"] for d in days)
    else:
        r = order_kpis.on_time_delivery_rate(since=f.since, until=f.until, **f.orders)
        done, ok = r.completed, r.on_time
    return {"completed": done, "on_time": ok, "late": done - ok, "rate": round(ok / done, 4) if done else None}


def order_processing(f: KpiFilter) -> dict[str, Any]:
    """Processing time per order: from the order's arrival (its creation, when it enters its
    workflow's first stage) to the end of that first stage (reviewed and confirmed), over the
    first-stage stays that ended in the period (an order sent back to its first stage counts
    each review). Wall-clock seconds: mean (the cases' figure), median and p90. From the
    rollup when ``rolled.use_rollup`` (count and mean exact, median and p90 within
    ``rollup.ALPHA``), else exact."""
    if rolled.use_rollup(f):
        h = rolled.first_stage_histogram(f, _first_stages())
        return {"count": h.stays, "mean_seconds": _r(h.mean), "median_seconds": _r(h.percentile(0.5)),
                "p90_seconds": _r(h.percentile(0.9))}
    return order_processing_exact(f)


def _first_stages() -> set[tuple[int, str]]:
    return {(wf_id, compiled(wf_id).initial.spec.code)
            for wf_id in WorkflowDefinition.objects.values_list("pk", flat=True)}


def order_processing_exact(f: KpiFilter) -> dict[str, Any]:
    """``order_processing`` computed from every first-stage stay of the period. Read from the
    stays alone (the ``stage_exited`` index holds what it needs); the order is joined only to
    filter by customer or channel."""
    first = Q(pk__in=[])
    for wf_id, code in _first_stages():
        first |= Q(workflow_id=wf_id, stage=code)
    qs = StageInstance.objects.filter(first, exited_at__gte=f.since, exited_at__lt=f.until)
    if f.workflow:
        qs = qs.filter(workflow__in=WorkflowDefinition.objects.filter(code=f.workflow))
    qs = order_filter(qs, customer=f.customer, channel=f.channel, via="order__")
    return _span_summary(qs, "exited_at", "entered_at")


def stage_times(f: KpiFilter) -> list[dict[str, Any]]:
    """Median and p90 of the time spent in each stage (per workflow), over the stays that ended
    in the period; wall-clock seconds. From the rollup's histograms when ``rolled.use_rollup``
    (median and p90 within ``rollup.ALPHA``), else exact (``percentile_cont``)."""
    if rolled.use_rollup(f):
        return [{"workflow": code, "stage": stage, "count": h.stays,
                 "median_seconds": _r(h.percentile(0.5)), "p90_seconds": _r(h.percentile(0.9))}
                for code, stage, h in rolled.stage_times(f)]
    return stage_times_exact(f)


def stage_times_exact(f: KpiFilter) -> list[dict[str, Any]]:
    """``stage_times`` computed from every stay of the period."""
    return [{"workflow": s.workflow, "stage": s.stage, "count": s.count,
             "median_seconds": _r(s.median_s), "p90_seconds": _r(s.p90_s)}
            for s in order_kpis.stage_processing_times(since=f.since, until=f.until, **f.orders)]


def open_by_stage(f: KpiFilter) -> list[dict[str, Any]]:
    """Open orders now, per workflow and stage, by urgency (red, yellow, green)."""
    qs = order_filter(Order.objects.filter(status=Order.Status.OPEN), **f.orders)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    # count(*), not count(id): the open orders' index (order_open_kpi) answers alone
    for r in (qs.values("workflow__code", "stage", "urgency").annotate(n=Count("*"))
              .order_by("workflow__code", "stage")):
        row = rows.setdefault((r["workflow__code"], r["stage"]), {
            "workflow": r["workflow__code"], "stage": r["stage"], "red": 0, "yellow": 0, "green": 0,
            "total": 0})
        row[r["urgency"]] = row.get(r["urgency"], 0) + r["n"]
        row["total"] += r["n"]
    return list(rows.values())


def stalled_cutoff(now: datetime, days: int) -> datetime:
    """The same time of day ``days`` working days before ``now`` (business calendar: weekends,
    statutory holidays and make-up workdays as configured)."""
    cal = get_business_calendar()
    local = timezone.localtime(now)
    d, counted = local.date(), 0
    while counted < days:
        d -= timedelta(days=1)
        if cal.is_workday(d):
            counted += 1
    return timezone.make_aware(datetime.combine(d, local.time().replace(tzinfo=None)),
                               timezone.get_current_timezone())


def stalled(f: KpiFilter) -> dict[str, Any]:
    """Open orders with no change (``updated_at``: any move, edit, hold or note that changed
    the order) for at least ``stalled_days`` working days, with the longest-stalled listed."""
    cutoff = stalled_cutoff(f.now, f.stalled_days)
    qs = order_filter(Order.objects.filter(status=Order.Status.OPEN, updated_at__lt=cutoff), **f.orders)
    listed = [{"number": n, "customer": c, "workflow": w, "stage": s, "updated_at": u.isoformat()}
              # the open orders' own index (order_open_updated), oldest change first: a short walk,
              # not every order's updated_at from the oldest
              for n, c, w, s, u in qs.order_by("updated_at", "pk").values_list(
                  "number", "customer__code", "workflow__code", "stage", "updated_at")[:STALLED_LISTED]]
    return {"days": f.stalled_days, "cutoff": cutoff.isoformat(), "count": qs.count(), "orders": listed}


def overdue(f: KpiFilter) -> dict[str, Any]:
    """Open orders past their stage deadline (a business-hours deadline; held orders counted
    apart, not as overdue): per workflow and stage, and the five most overdue."""
    by_stage = [{"workflow": s.workflow, "stage": s.stage, "open": s.open, "overdue": s.overdue,
                 "on_hold": s.on_hold}
                for s in order_kpis.overdue_by_stage(now=f.now, **f.orders)]
    qs = order_filter(Order.objects.filter(status=Order.Status.OPEN, on_hold=False,
                                           stage_due_at__lt=f.now), **f.orders)
    top = [{"number": n, "customer": c, "workflow": w, "stage": s, "due_at": due.isoformat(),
            "overdue_seconds": _r((f.now - due).total_seconds())}
           for n, c, w, s, due in qs.order_by("stage_due_at", "pk").values_list(
               "number", "customer__code", "workflow__code", "stage", "stage_due_at")[:TOP_OVERDUE]
           if due is not None]   # always, by the filter
    return {"count": sum(r["overdue"] for r in by_stage), "by_stage": by_stage, "top": top}


def exceptions(f: KpiFilter) -> dict[str, Any]:
    """Tickets (exceptions and change requests) opened in the period, TOP10 by kind, product
    (the order's lines), customer and the stage the order was in when the ticket opened."""
    qs = order_filter(Ticket.objects.filter(opened_at__gte=f.since, opened_at__lt=f.until),
                      via="order__", **f.orders)
    stage_then = StageInstance.objects.filter(order=OuterRef("order"), entered_at__lte=OuterRef("opened_at")
                                              ).order_by("-entered_at", "-pk").values("stage")[:1]

    def top(*keys: str, **annotations: Any) -> list[dict[str, Any]]:
        rows = (qs.annotate(**annotations).values(*keys).annotate(count=Count("pk", distinct=True))
                .order_by("-count", *keys)[:TOP_EXCEPTIONS])
        return [{"key": [r[k] for k in keys], "count": r["count"]} for r in rows]

    return {
        "count": qs.count(),
        "kind": top("kind"),
        "product": top("order__lines__product__sku"),
        "customer": top("order__customer__code"),
        "stage": top("order__workflow__code", "stage_then",
                     stage_then=Coalesce(Subquery(stage_then), F("order__stage"))),
    }


def trend(f: KpiFilter) -> dict[str, list[dict[str, Any]]]:
    """Per day and per ISO week (Monday) of the period: orders created, orders completed and of
    those the on-time ones (as ``on_time``). Rolled-up days from the rollup (``rolled``), the
    others counted here (two queries); weeks are summed from days."""
    live = rolled.trend_days(f, _trend_counts) if rolled.use_rollup(f) else _trend_counts(
        f, [(f.since, f.until)])
    days: dict[date, dict[str, int]] = {d: {"created": 0, "completed": 0, "on_time": 0}
                                        for d in _periods(f.start, f.end, "day")}
    for d, v in live.items():
        if d in days:
            days[d].update(v)
    weeks: dict[date, dict[str, int]] = {w: {"created": 0, "completed": 0, "on_time": 0}
                                         for w in _periods(f.start, f.end, "week")}
    for d, v in days.items():
        week = weeks[d - timedelta(days=d.weekday())]
        for k, n in v.items():
            week[k] += n
    return {grain: [{"period": p.isoformat(), **v} for p, v in sorted(table.items())]
            for grain, table in (("day", days), ("week", weeks))}


def _trend_counts(f: KpiFilter, spans: list[tuple[datetime, datetime]]) -> dict[date, dict[str, int]]:
    """Created, completed and on time per day, counted from the orders over ``spans`` of time."""
    days: dict[date, dict[str, int]] = defaultdict(lambda: {"created": 0, "completed": 0, "on_time": 0})
    if not spans:
        return days
    tz = timezone.get_current_timezone()
    created = order_filter(Order.objects.filter(_within("created_at", spans)), **f.orders)
    done = order_filter(Order.objects.filter(_within("stage_entered_at", spans), status=Order.Status.COMPLETED),
                        **f.orders)
    for r in created.annotate(p=TruncDate("created_at", tzinfo=tz)).values("p").annotate(n=Count("pk")).order_by():
        days[_day(r["p"])]["created"] = r["n"]
    on_time_q = Q(p__lte=Coalesce("promised_date", "required_date"))
    for r in (done.annotate(p=TruncDate("stage_entered_at", tzinfo=tz)).values("p")
              .annotate(n=Count("stage_entered_at"), ok=Count("stage_entered_at", filter=on_time_q))
              .order_by()):   # columns of the order_completed_at index: an index-only scan
        days[_day(r["p"])].update(completed=r["n"], on_time=r["ok"])
    return days


def _within(name: str, spans: list[tuple[datetime, datetime]]) -> Q:
    q = Q(pk__in=[])
    for since, until in spans:
        q |= Q(**{f"{name}__gte": since, f"{name}__lt": until})
    return q


def _day(v: date | datetime) -> date:
    return timezone.localtime(v).date() if isinstance(v, datetime) else v


def _periods(start: date, end: date, grain: str) -> list[date]:
    if grain == "week":
        start = start - timedelta(days=start.weekday())
    step = timedelta(days=7 if grain == "week" else 1)
    out, d = [], start
    while d <= end:
        out.append(d)
        d += step
    return out


def portal(f: KpiFilter) -> dict[str, Any]:
    """Self-query rate: of the orders created in the period, the share whose customer opened
    them themselves (tracking link or portal page; ``portal.selectors.self_query_of``), None
    when no order was created. The customer order experience index (COEI, seed 002) of the same
    orders (``portal.coei.summary``: the mean of each scored order's COEI, None when no order
    is scored, never zero), with the satisfaction survey's answers beside it."""
    created = None
    if rolled.use_rollup(f):   # the orders created in the period: the trend's counts
        created = sum(d["created"] for d in rolled.trend_days(f, _trend_counts).values())
    orders = order_filter(Order.objects.filter(created_at__gte=f.since, created_at__lt=f.until), **f.orders)
    figures = self_query_of(orders, total=created)
    c = coei_summary(orders, now=f.now)
    return {"self_query_rate": figures["self_query_rate"], "coei": c["coei"], "recorded": True,
            "orders": figures["orders"], "opened": figures["opened"], "coei_orders": c["scored"],
            "coei_notice": c["notice"], "coei_updates": c["updates"], "coei_delay": c["delay"],
            "surveys": c["surveys"], "stars": c["stars"]}


FIGURES = {
    "first-touch": first_touch, "on-time": on_time, "processing": order_processing,
    "stage-times": stage_times, "open-by-stage": open_by_stage, "stalled": stalled,
    "overdue": overdue, "exceptions": exceptions, "trend": trend, "portal": portal,
}


def read_figures(codes: list[str] | tuple[str, ...], f: KpiFilter) -> dict[str, Any]:
    """Several figures for one filter (a dashboard page): what they share from the rollup (the
    rolled-up days, the period's stage histograms, the trend's days) is read once."""
    with rolled.one_reading():
        # time per stage first: processing time then takes its first stages from the same read
        done = {code: FIGURES[code](f) for code in sorted(codes, key=lambda c: c != "stage-times")}
        return {code: done[code] for code in codes}

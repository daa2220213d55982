"""Reading the daily rollup (``rollup``): the figures of ``selectors`` that read many rows,
answered from the rolled-up days plus what is not rolled up yet (today since the job's last
run, any day the job has not reached), read from the stays and orders themselves with the same
bucket rule.

A figure takes this path when at least one day of its period is rolled up (the rollup is per
workflow version and channel, and per workflow version, customer and channel, so every filter
has its rows); otherwise (before the job's first run) it is computed exactly (``selectors``).
Counts, means and the trend are exact either way; a stage's
median and p90 are read from the summed histogram, within ``rollup.ALPHA`` · exact + 0.5 s of
the exact ``percentile_cont`` (``docs/kpis.md``; ``tests/kpis/test_rollup.py`` compares both
paths on the demo's data).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from django.db import connection
from django.db.models import Q, Sum

from orderhub.catalog.models import Customer
from orderhub.orders.kpis import order_filter
from orderhub.orders.models import Order, StageInstance
from orderhub.workflow.models import WorkflowDefinition

from .models import CustomerStageDays, CustomerTrendDay, RolledDay, StageDurations, TrendDay
from .rollup import BUCKETS, LN_GAMMA, bucket_of, bucket_sql, bucket_value, midnight

if TYPE_CHECKING:
    from .selectors import KpiFilter

_T = TypeVar("_T")
_memo: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("kpi_rollup_memo", default=None)


@contextmanager
def one_reading() -> Iterator[None]:
    """Within: what several figures of one page read from the rollup (which days are rolled up,
    the period's stage histograms) is read once for each filter."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def _once(key: tuple[Any, ...], fn: Callable[[], _T]) -> _T:
    memo = _memo.get()
    if memo is None:
        return fn()
    if key not in memo:
        memo[key] = fn()
    return memo[key]


@dataclass
class Histogram:
    """Stays by duration bucket (a dense array over every bucket), their number and their
    seconds summed."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(BUCKETS, dtype=np.int64))
    stays: int = 0
    seconds: float = 0.0

    def add(self, bucket: int, stays: int, seconds: float) -> None:
        self.counts[bucket] += stays
        self.stays += stays
        self.seconds += seconds

    def merge(self, other: Histogram) -> None:
        self.counts += other.counts
        self.stays += other.stays
        self.seconds += other.seconds

    @property
    def mean(self) -> float | None:
        return self.seconds / self.stays if self.stays else None

    def percentile(self, q: float) -> float | None:
        """``percentile_cont(q)`` over the buckets' values: linear interpolation between the
        values at ranks floor(k) and floor(k)+1, k = (n − 1)·q."""
        if not self.stays:
            return None
        k = (self.stays - 1) * q
        lo = int(k)
        upto = np.cumsum(self.counts)
        b_lo, b_hi = np.searchsorted(upto, [lo, min(lo + 1, self.stays - 1)], side="right")
        v_lo, v_hi = bucket_value(int(b_lo)), bucket_value(int(b_hi))
        return v_lo + (v_hi - v_lo) * (k - lo)


def rolled_days(start: date, end: date) -> dict[date, datetime]:
    """The days of the period rolled up, each with the moment it is rolled up to."""
    return _once(("days", start, end), lambda: dict(
        RolledDay.objects.filter(day__gte=start, day__lte=end).values_list("day", "rolled_at")))


def use_rollup(f: KpiFilter) -> bool:
    """Whether ``f``'s figures are read from the rollup: a day of its period rolled up."""
    return bool(rolled_days(f.start, f.end))


def unrolled(f: KpiFilter) -> list[tuple[datetime, datetime]]:
    """The spans of ``f``'s period not rolled up, as [since, until) moments: the days not rolled
    up, and of a day rolled up only in part (today) the time since it was."""
    rolled = rolled_days(f.start, f.end)
    out: list[tuple[datetime, datetime]] = []
    d = f.start
    while d <= f.end:
        since, until = midnight(d), midnight(d + timedelta(days=1))
        if d in rolled:
            since = max(since, rolled[d])
        if since < until:
            if out and out[-1][1] == since:
                out[-1] = (out[-1][0], until)
            else:
                out.append((since, until))
        d += timedelta(days=1)
    return out


def _customer_ids(code: str) -> Any:
    return Customer.objects.filter(code=code).values("pk")


def _spans(field_name: str, spans: list[tuple[datetime, datetime]]) -> Q:
    q = Q(pk__in=[])
    for since, until in spans:
        q |= Q(**{f"{field_name}__gte": since, f"{field_name}__lt": until})
    return q


# --------------------------------------------------------------------------- time per stage

_LIVE_SQL = """
SELECT si.workflow_id, si.stage, {bucket}, count(*), sum(s.secs)
  FROM {stays} si {join}
 CROSS JOIN LATERAL (SELECT extract(epoch FROM si.exited_at - si.entered_at)::float8 AS secs) s
 WHERE ({spans}) AND si.workflow_id IS NOT NULL {extra}
 GROUP BY 1, 2, 3
"""


def _live_rows(f: KpiFilter, spans: list[tuple[datetime, datetime]],
               stages: frozenset[tuple[int, str]] | None = None) -> list[tuple[Any, ...]]:
    """(workflow id, stage, bucket, stays, seconds) of the stays that ended in ``spans``."""
    if not spans:
        return []
    if connection.vendor == "postgresql":
        params: list[Any] = [LN_GAMMA]
        for since, until in spans:
            params += [since, until]
        extra, join = "", ""
        if f.workflow:
            extra += f" AND si.workflow_id IN (SELECT id FROM {WorkflowDefinition._meta.db_table} WHERE code = %s)"
            params.append(f.workflow)
        if f.channel or f.customer:
            join = f"JOIN {Order._meta.db_table} o ON o.id = si.order_id"
        if f.channel:
            extra += " AND o.channel = %s"
            params.append(f.channel)
        if f.customer:
            extra += f" AND o.customer_id IN (SELECT id FROM {Customer._meta.db_table} WHERE code = %s)"
            params.append(f.customer)
        if stages is not None:
            pairs = ", ".join(["(%s, %s)"] * len(stages))
            extra += f" AND (si.workflow_id, si.stage) IN ({pairs})" if stages else " AND false"
            params += [v for pair in sorted(stages) for v in pair]
        sql = _LIVE_SQL.format(bucket=bucket_sql("s.secs"), stays=StageInstance._meta.db_table, join=join,
                               extra=extra, spans=" OR ".join(["(si.exited_at >= %s AND si.exited_at < %s)"] * len(spans)))
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    qs = order_filter(StageInstance.objects.filter(_spans("exited_at", spans), workflow__isnull=False),
                      workflow=f.workflow, customer=f.customer, channel=f.channel, via="order__")
    if stages is not None:
        qs = qs.filter(_pairs(stages))
    acc: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0.0])
    for wf, stage, entered, exited in qs.values_list("workflow_id", "stage", "entered_at", "exited_at"):
        assert exited is not None   # by the filter
        secs = (exited - entered).total_seconds()
        row = acc[(wf, stage, bucket_of(secs))]
        row[0] += 1
        row[1] += secs
    return [(*k, int(v[0]), v[1]) for k, v in acc.items()]


def _pairs(stages: frozenset[tuple[int, str]]) -> Q:
    q = Q(pk__in=[])
    for wf, stage in stages:
        q |= Q(workflow_id=wf, stage=stage)
    return q


def stage_histograms(f: KpiFilter) -> dict[tuple[int, str], Histogram]:
    """Per (workflow version id, stage): the histogram of the stays that ended in ``f``'s period
    (rolled-up days from the rollup, the other days live)."""
    return _once(("stages", f), lambda: _stage_histograms(f))


def _stage_histograms(f: KpiFilter, stages: frozenset[tuple[int, str]] | None = None,
                      ) -> dict[tuple[int, str], Histogram]:
    """``stage_histograms``, of the (version id, stage) pairs ``stages`` only when given."""
    model: Any = CustomerStageDays if f.customer else StageDurations
    qs = model.objects.filter(day__gte=f.start, day__lte=f.end)
    if f.customer:
        qs = qs.filter(customer__in=_customer_ids(f.customer))
    if stages is not None:
        qs = qs.filter(_pairs(stages))
    if f.workflow:
        qs = qs.filter(workflow__in=WorkflowDefinition.objects.filter(code=f.workflow))
    if f.channel:
        qs = qs.filter(channel=f.channel)
    out: dict[tuple[int, str], Histogram] = defaultdict(Histogram)
    if f.customer:
        _add_sparse(out, qs.values_list("workflow_id", "stage", "counts", "stays", "seconds"))
    else:
        _add_packed(out, qs.values_list("workflow_id", "stage", "low", "counts", "stays", "seconds"))
    for wf, stage, b, n, secs in _live_rows(f, unrolled(f), stages):
        out[(wf, stage)].add(int(b), int(n), float(secs))
    return out


def _add_packed(out: dict[tuple[int, str], Histogram], rows: Any) -> None:
    """Add the rollup's rows (workflow id, stage, low, packed counts, stays, seconds) to ``out``,
    all their counts in one numpy pass (a 90-day period is some 5,000 rows)."""
    keys: dict[tuple[int, str], int] = {}
    idx, lows, blobs = [], [], []
    for wf, stage, low, counts, n, secs in rows:
        h = out[(wf, stage)]
        h.stays += n
        h.seconds += secs
        idx.append(keys.setdefault((wf, stage), len(keys)))
        lows.append(low)
        blobs.append(bytes(counts))
    if not blobs:
        return
    lens = np.array([len(b) // 4 for b in blobs])
    vals = np.frombuffer(b"".join(blobs), dtype="<i4")
    starts = np.cumsum(lens) - lens
    pos = np.repeat(np.array(lows), lens) + np.arange(len(vals)) - np.repeat(starts, lens)
    flat = np.repeat(np.array(idx), lens) * BUCKETS + pos
    summed = np.bincount(flat, weights=vals, minlength=len(keys) * BUCKETS).reshape(len(keys), BUCKETS)
    for key, i in keys.items():
        out[key].counts += summed[i].astype(np.int64)


def _add_sparse(out: dict[tuple[int, str], Histogram], rows: Any) -> None:
    """Add a customer's rows (workflow id, stage, {bucket: stays}, stays, seconds) to ``out``."""
    keys: dict[tuple[int, str], int] = {}
    idx: list[int] = []
    buckets: list[int] = []
    counts: list[int] = []
    for wf, stage, sparse, n, secs in rows:
        h = out[(wf, stage)]
        h.stays += n
        h.seconds += secs
        i = keys.setdefault((wf, stage), len(keys))
        for b, c in sparse.items():
            idx.append(i)
            buckets.append(int(b))
            counts.append(c)
    if not counts:
        return
    summed = np.zeros((len(keys), BUCKETS), dtype=np.int64)
    np.add.at(summed, (np.array(idx), np.array(buckets)), np.array(counts, dtype=np.int64))
    for key, i in keys.items():
        out[key].counts += summed[i]


def _codes() -> dict[int, str]:
    return dict(WorkflowDefinition.objects.values_list("pk", "code"))


def stage_times(f: KpiFilter) -> list[tuple[str, str, Histogram]]:
    """Per workflow code and stage (versions merged), the period's histogram, sorted."""
    codes = _codes()
    merged: dict[tuple[str, str], Histogram] = defaultdict(Histogram)
    for (wf, stage), h in stage_histograms(f).items():
        merged[(codes[wf], stage)].merge(h)
    return [(code, stage, h) for (code, stage), h in sorted(merged.items())]


def first_stage_histogram(f: KpiFilter, first: set[tuple[int, str]]) -> Histogram:
    """The stays in their workflow version's first stage (``first``: (version id, stage))."""
    memo = _memo.get()
    whole = memo.get(("stages", f)) if memo is not None else None   # read for the page already
    out = Histogram()
    for key, h in (whole if whole is not None else _stage_histograms(f, frozenset(first))).items():
        if key in first:
            out.merge(h)
    return out


# --------------------------------------------------------------------------- trend

def trend_days(f: KpiFilter, live: Any) -> dict[date, dict[str, int]]:
    """Per day of ``f``'s period: created, completed, on time; rolled-up days from the rollup,
    the others from ``live(f, spans)`` (the exact per-day counts over those spans)."""
    return _once(("trend", f), lambda: _trend_days(f, live))


def _trend_days(f: KpiFilter, live: Any) -> dict[date, dict[str, int]]:
    model: Any = CustomerTrendDay if f.customer else TrendDay
    qs = model.objects.filter(day__gte=f.start, day__lte=f.end)
    if f.customer:
        qs = qs.filter(customer__in=_customer_ids(f.customer))
    if f.workflow:
        qs = qs.filter(workflow__in=WorkflowDefinition.objects.filter(code=f.workflow))
    if f.channel:
        qs = qs.filter(channel=f.channel)
    days: dict[date, dict[str, int]] = defaultdict(lambda: {"created": 0, "completed": 0, "on_time": 0})
    for d, c, done, ok in qs.values_list("day").annotate(Sum("created"), Sum("completed"), Sum("on_time")).order_by():
        days[d] = {"created": c, "completed": done, "on_time": ok}
    for d, v in live(f, unrolled(f)).items():
        for k, n in v.items():
            days[d][k] += n
    return days

"""The daily rollup of the KPI figures that read many rows: time per stage (and processing
time per order, its first stage) and the trend (orders created, completed, completed on time).

Kept by the periodic job ``kpis.rollup`` (``kpi_rollup_refresh``): every past day (business
time zone) not rolled up yet is rolled up once, and the last ``AGAIN_DAYS`` days are rolled up
again on every run (late changes); today is never rolled up: the figures read today, and any
day not rolled up, from the orders themselves (``rolled``). Rolling a day up deletes its rows
and writes them again in one transaction, so a run is safe to repeat or to run late.

Durations are kept as a histogram with logarithmic buckets: bucket b > 0 holds the stays of
(γ^(b−1), γ^b] seconds, bucket 0 those of at most one second. A percentile read from the
histogram takes each bucket's value as 2γ^b/(γ+1) (0.5 s for bucket 0), which is within
α = (γ−1)/(γ+1) of every duration in the bucket; ``percentile_cont``'s interpolation between
two neighbouring ranks is a weighted mean of two such values, so the estimate is within
α·exact + 0.5 s of the exact percentile. With γ = 1.05, α = 2.44 %. Counts and means are exact
(the seconds are summed per bucket).

One persistence layer: ``rollup_days`` aggregates with set-based statements on PostgreSQL (the
stays' buckets by a GROUP BY, packed here into one row per day and stage; the trend by an
INSERT … SELECT) and with a plain ORM twin elsewhere (the SQLite demo);
``tests/kpis/test_rollup.py`` runs both on PostgreSQL and compares the rows they write.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Max, Min, Sum
from django.utils import timezone

from orderhub.core import clock
from orderhub.orders.models import Order, StageInstance

from .models import RolledDay, StageDurations, TrendDay

GAMMA = 1.05
LN_GAMMA = math.log(GAMMA)
ALPHA = (GAMMA - 1) / (GAMMA + 1)   # the relative error of a bucket's value
ZERO_BUCKET_SECONDS = 0.5           # bucket 0's value (0 to 1 s)
AGAIN_DAYS = 2                      # the last days rolled up again on every run
CHUNK_DAYS = 31                     # days rolled up in one transaction
LOCK_KEY = 0x4B50_4931              # pg advisory lock: one roll-up at a time
BUCKETS = 1024                      # bucket 1023: γ^1023 s, far beyond any stay (a year is 354)


def bucket_of(seconds: float) -> int:
    """The histogram bucket of a duration (``bucket_sql`` is its SQL twin)."""
    return 0 if seconds <= 1 else min(math.ceil(math.log(seconds) / LN_GAMMA), BUCKETS - 1)


def bucket_value(bucket: int) -> float:
    """The duration a bucket stands for: within ``ALPHA`` of every duration in it."""
    return ZERO_BUCKET_SECONDS if bucket <= 0 else 2 * GAMMA ** bucket / (GAMMA + 1)


def bucket_sql(secs: str) -> str:
    """``bucket_of`` in PostgreSQL over the float expression ``secs`` (one parameter: LN_GAMMA)."""
    return f"CASE WHEN {secs} <= 1 THEN 0 ELSE least(ceil(ln({secs}) / %s), {BUCKETS - 1})::int END"


def midnight(d: date) -> datetime:
    return timezone.make_aware(datetime.combine(d, time.min), timezone.get_current_timezone())


def local_day(dt: datetime) -> date:
    return timezone.localtime(dt).date()


def pack(counts: dict[int, int]) -> tuple[int, bytes]:
    """A histogram {bucket: stays} as (first bucket, little-endian int32 counts from it)."""
    low, high = min(counts), max(counts)
    arr = np.zeros(high - low + 1, dtype="<i4")
    for b, n in counts.items():
        arr[b - low] = n
    return low, arr.tobytes()


def unpack(low: int, counts: bytes | memoryview) -> tuple[int, np.ndarray]:
    return low, np.frombuffer(bytes(counts), dtype="<i4")


def day_ranges(days: Iterable[date], longest: int | None = None) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days (first, last), each at most ``longest`` long."""
    out: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if out and out[-1][1] + timedelta(days=1) == d and (
                longest is None or (d - out[-1][0]).days < longest):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


# --------------------------------------------------------------------------- writing

_STAGE_SQL = """
SELECT (si.exited_at AT TIME ZONE %s)::date, si.workflow_id, si.stage, o.channel, {bucket}, count(*), sum(s.secs)
  FROM {stays} si
  JOIN {orders} o ON o.id = si.order_id
 CROSS JOIN LATERAL (SELECT extract(epoch FROM si.exited_at - si.entered_at)::float8 AS secs) s
 WHERE si.exited_at >= %s AND si.exited_at < %s AND si.workflow_id IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5
"""

_TREND_SQL = """
INSERT INTO {trend} (day, workflow_id, channel, created, completed, on_time)
SELECT day, workflow_id, channel, sum(c), sum(d), sum(ok) FROM (
    SELECT (created_at AT TIME ZONE %s)::date AS day, workflow_id, channel, 1 AS c, 0 AS d, 0 AS ok
      FROM {orders} WHERE created_at >= %s AND created_at < %s
    UNION ALL
    SELECT (stage_entered_at AT TIME ZONE %s)::date, workflow_id, channel, 0, 1,
           CASE WHEN (stage_entered_at AT TIME ZONE %s)::date <= coalesce(promised_date, required_date)
                THEN 1 ELSE 0 END
      FROM {orders} WHERE status = %s AND stage_entered_at >= %s AND stage_entered_at < %s
) x GROUP BY 1, 2, 3
"""


def _stage_sql_buckets(since: datetime, until: datetime) -> Iterator[tuple[Any, ...]]:
    """(day, workflow id, stage, channel, bucket, stays, seconds), aggregated by PostgreSQL."""
    sql = _STAGE_SQL.format(bucket=bucket_sql("s.secs"), stays=StageInstance._meta.db_table,
                            orders=Order._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(sql, [str(timezone.get_current_timezone()), LN_GAMMA, since, until])
        yield from cur.fetchall()


def _stage_plain_buckets(since: datetime, until: datetime) -> Iterator[tuple[Any, ...]]:
    """The plain twin of the stage statement: the same tuples, computed here from the stays."""
    acc: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0.0])
    stays = StageInstance.objects.filter(exited_at__gte=since, exited_at__lt=until, workflow__isnull=False)
    for wf, stage, channel, entered, exited in stays.values_list(
            "workflow_id", "stage", "order__channel", "entered_at", "exited_at").iterator():
        assert exited is not None   # by the filter
        secs = (exited - entered).total_seconds()
        row = acc[(local_day(exited), wf, stage, channel, bucket_of(secs))]
        row[0] += 1
        row[1] += secs
    for key, (n, secs) in acc.items():
        yield (*key, int(n), secs)


def stage_rows(buckets: Iterable[tuple[Any, ...]]) -> Iterator[StageDurations]:
    """One row per day, workflow version, stage and channel from the bucket tuples."""
    acc: dict[tuple[Any, ...], tuple[dict[int, int], list[float]]] = {}
    for day, wf, stage, channel, b, n, secs in buckets:
        counts, tot = acc.setdefault((day, wf, stage, channel), ({}, [0, 0.0]))
        counts[int(b)] = counts.get(int(b), 0) + int(n)
        tot[0] += int(n)
        tot[1] += float(secs)
    for (day, wf, stage, channel), (counts, (n, secs)) in acc.items():
        low, packed = pack(counts)
        yield StageDurations(day=day, workflow_id=wf, stage=stage, channel=channel, stays=int(n),
                             seconds=secs, low=low, counts=packed)


def _trend_sql(since: datetime, until: datetime) -> None:
    tz = str(timezone.get_current_timezone())
    with connection.cursor() as cur:
        cur.execute(_TREND_SQL.format(trend=TrendDay._meta.db_table, orders=Order._meta.db_table),
                    [tz, since, until, tz, tz, Order.Status.COMPLETED, since, until])


def trend_rows(since: datetime, until: datetime) -> Iterator[TrendDay]:
    """The plain twin of the trend statement."""
    acc: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for created, wf, channel in Order.objects.filter(created_at__gte=since, created_at__lt=until).values_list(
            "created_at", "workflow_id", "channel").iterator():
        acc[(local_day(created), wf, channel)][0] += 1
    done = Order.objects.filter(status=Order.Status.COMPLETED, stage_entered_at__gte=since,
                                stage_entered_at__lt=until)
    for entered, wf, channel, promised, required in done.values_list(
            "stage_entered_at", "workflow_id", "channel", "promised_date", "required_date").iterator():
        day = local_day(entered)
        row = acc[(day, wf, channel)]
        row[1] += 1
        row[2] += int(day <= (promised or required))
    for (day, wf, channel), (c, d, ok) in acc.items():
        yield TrendDay(day=day, workflow_id=wf, channel=channel, created=c, completed=d, on_time=ok)


def rollup_days(first: date, last: date, *, fast: bool | None = None) -> int:
    """Roll up the days ``first``..``last`` (again): their rows deleted and written anew, each
    day marked in ``RolledDay``, in one transaction. ``fast``: the set-based statements
    (default on PostgreSQL) or the plain twin. Returns the stays rolled up."""
    fast = connection.vendor == "postgresql" if fast is None else fast
    since, until = midnight(first), midnight(last + timedelta(days=1))
    with transaction.atomic():
        for model in (StageDurations, TrendDay, RolledDay):
            model.objects.filter(day__gte=first, day__lte=last).delete()
        buckets = _stage_sql_buckets if fast else _stage_plain_buckets
        StageDurations.objects.bulk_create(stage_rows(buckets(since, until)), batch_size=2000)
        if fast:
            _trend_sql(since, until)
        else:
            TrendDay.objects.bulk_create(trend_rows(since, until), batch_size=2000)
        span = {"day__gte": first, "day__lte": last}
        stays = dict(StageDurations.objects.filter(**span).values_list("day").annotate(Sum("stays")))
        created = dict(TrendDay.objects.filter(**span).values_list("day").annotate(Sum("created")))
        now, d, marks = clock.now(), first, []
        while d <= last:
            marks.append(RolledDay(day=d, rolled_at=now, stays=stays.get(d, 0), created=created.get(d, 0)))
            d += timedelta(days=1)
        RolledDay.objects.bulk_create(marks)
    return sum(stays.values())


def _first_day() -> date | None:
    firsts = [v for v in (StageInstance.objects.aggregate(m=Min("exited_at"))["m"],
                          Order.objects.aggregate(m=Min("created_at"))["m"]) if v is not None]
    return local_day(min(firsts)) if firsts else None


def days_to_roll(today: date) -> list[date]:
    """The past days not rolled up yet (from the first order or stay), and the last
    ``AGAIN_DAYS`` days before ``today`` again."""
    first = _first_day()
    if first is None:
        return []
    last = today - timedelta(days=1)
    rolled = set(RolledDay.objects.filter(day__gte=first, day__lte=last).values_list("day", flat=True))
    todo, d = [], first
    while d <= last:
        if d not in rolled or (last - d).days < AGAIN_DAYS:
            todo.append(d)
        d += timedelta(days=1)
    return todo


def _locked() -> bool:
    """Within a transaction: whether this run holds the roll-up lock (always on other databases)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        return bool(cur.fetchone()[0])


def kpi_rollup_refresh(*, now: datetime | None = None, max_days: int | None = None) -> int:
    """Roll up every past day not rolled up yet and the last days again (``days_to_roll``),
    newest first, ``CHUNK_DAYS`` days per transaction; at most ``max_days`` days per call.
    Another run holding the lock makes this one stop. Returns the days rolled up."""
    today = timezone.localdate(now or clock.now())
    runs = day_ranges(days_to_roll(today), longest=CHUNK_DAYS)
    done = 0
    for first, last in reversed(runs):
        if max_days is not None and done >= max_days:
            break
        if max_days is not None:
            first = max(first, last - timedelta(days=max_days - done - 1))
        with transaction.atomic():
            if not _locked():
                break
            rollup_days(first, last)
        done += (last - first).days + 1
    return done


def rolled_until() -> date | None:
    """The newest day rolled up (None: none)."""
    return RolledDay.objects.aggregate(m=Max("day"))["m"]

"""The daily rollup of the KPI figures that read many rows: time per stage (and processing
time per order, its first stage) and the trend (orders created, completed, completed on time).

Kept by the periodic job ``kpis.rollup`` (``kpi_rollup_refresh``): every past day (business
time zone) not rolled up yet is rolled up once, the last ``AGAIN_DAYS`` days again on every run
(late changes), and today up to ``TODAY_LAG`` before the run (``RolledDay.rolled_at`` says up
to when); the figures read what is not rolled up (today since that moment, any day the job has
not reached) from the orders themselves (``rolled``). Rolling a day up deletes its rows and
writes them again in one transaction, so a run is safe to repeat or to run late. Each table is
kept twice: per channel (``StageDurations``, ``TrendDay``) and per customer and channel
(``CustomerStageDays``, ``CustomerTrendDay``), so a customer filter reads the rollup too.

Durations are kept as a histogram with logarithmic buckets: bucket b > 0 holds the stays of
(γ^(b−1), γ^b] seconds, bucket 0 those of at most one second. A percentile read from the
histogram takes each bucket's value as 2γ^b/(γ+1) (0.5 s for bucket 0), which is within
α = (γ−1)/(γ+1) of every duration in the bucket; ``percentile_cont``'s interpolation between
two neighbouring ranks is a weighted mean of two such values, so the estimate is within
α·exact + 0.5 s of the exact percentile. With γ = 1.05, α = 2.44 %. Counts and means are exact
(the seconds are summed per bucket).

One persistence layer: ``rollup_days`` aggregates with set-based statements on PostgreSQL (the
stays' buckets by one GROUP BY per day, stage, channel and customer, which also writes the
customer rows; the channel rows are packed here into one row per day and stage; the trend by
one INSERT … SELECT for both tables) and with a plain ORM twin elsewhere (the SQLite demo);
``tests/kpis/test_rollup.py`` runs both on PostgreSQL and compares the rows they write.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Max, Min, Sum
from django.utils import timezone

from orderhub.core import clock
from orderhub.orders.models import Order, StageInstance

from .models import CustomerStageDays, CustomerTrendDay, RolledDay, StageDurations, TrendDay

GAMMA = 1.05
LN_GAMMA = math.log(GAMMA)
ALPHA = (GAMMA - 1) / (GAMMA + 1)   # the relative error of a bucket's value
ZERO_BUCKET_SECONDS = 0.5           # bucket 0's value (0 to 1 s)
AGAIN_DAYS = 2                      # the last days rolled up again on every run
CHUNK_DAYS = 31                     # days rolled up in one transaction
LOCK_KEY = 0x4B50_4931              # pg advisory lock: one roll-up at a time
BUCKETS = 1024                      # bucket 1023: γ^1023 s, far beyond any stay (a year is 354)
TODAY_LAG = timedelta(minutes=1)    # today is rolled up to this long before the run: a write
                                    # committed later than that with an earlier time shows at
                                    # the next run (the rollup's snapshot did not see it)
GENERATION_KEY = "kpis:rollup:generation"   # bumped by every run: cached pages are made anew
TABLES = (StageDurations, TrendDay, CustomerStageDays, CustomerTrendDay, RolledDay)


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
WITH g AS MATERIALIZED (
    SELECT (si.exited_at AT TIME ZONE %s)::date AS day, si.workflow_id AS wf, si.stage, o.channel,
           o.customer_id AS cu, {bucket} AS b, count(*) AS n, sum(s.secs) AS secs
      FROM {stays} si
      JOIN {orders} o ON o.id = si.order_id
     CROSS JOIN LATERAL (SELECT extract(epoch FROM si.exited_at - si.entered_at)::float8 AS secs) s
     WHERE si.exited_at >= %s AND si.exited_at < %s AND si.workflow_id IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5, 6
), per_customer AS (
    INSERT INTO {customer_stage} (day, customer_id, workflow_id, stage, channel, stays, seconds, counts)
    SELECT day, cu, wf, stage, channel, sum(n), sum(secs), jsonb_object_agg(b::text, n)
      FROM g WHERE cu IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5
    RETURNING 1
)
SELECT day, wf, stage, channel, b, sum(n)::bigint, sum(secs) FROM g GROUP BY 1, 2, 3, 4, 5
"""

_TREND_SQL = """
WITH x AS MATERIALIZED (
    SELECT day, workflow_id, channel, customer_id, sum(c) AS c, sum(d) AS d, sum(ok) AS ok FROM (
        SELECT (created_at AT TIME ZONE %s)::date AS day, workflow_id, channel, customer_id,
               1 AS c, 0 AS d, 0 AS ok
          FROM {orders} WHERE created_at >= %s AND created_at < %s
        UNION ALL
        SELECT (stage_entered_at AT TIME ZONE %s)::date, workflow_id, channel, customer_id, 0, 1,
               CASE WHEN (stage_entered_at AT TIME ZONE %s)::date <= coalesce(promised_date, required_date)
                    THEN 1 ELSE 0 END
          FROM {orders} WHERE status = %s AND stage_entered_at >= %s AND stage_entered_at < %s
    ) o GROUP BY 1, 2, 3, 4
), per_channel AS (
    INSERT INTO {trend} (day, workflow_id, channel, created, completed, on_time)
    SELECT day, workflow_id, channel, sum(c), sum(d), sum(ok) FROM x GROUP BY 1, 2, 3
    RETURNING 1
)
INSERT INTO {customer_trend} (day, customer_id, workflow_id, channel, created, completed, on_time)
SELECT day, customer_id, workflow_id, channel, c, d, ok FROM x WHERE customer_id IS NOT NULL
"""


def _stage_sql_buckets(since: datetime, until: datetime) -> Iterator[tuple[Any, ...]]:
    """(day, workflow id, stage, channel, bucket, stays, seconds), aggregated by PostgreSQL; the
    same statement writes the customer rows (``CustomerStageDays``)."""
    sql = _STAGE_SQL.format(bucket=bucket_sql("s.secs"), stays=StageInstance._meta.db_table,
                            orders=Order._meta.db_table, customer_stage=CustomerStageDays._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(sql, [str(timezone.get_current_timezone()), LN_GAMMA, since, until])
        yield from cur.fetchall()


def _stage_plain_buckets(since: datetime, until: datetime) -> Iterator[tuple[Any, ...]]:
    """The plain twin of the stage statement: the same tuples, computed here from the stays,
    and the same customer rows written."""
    acc: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0.0])
    stays = StageInstance.objects.filter(exited_at__gte=since, exited_at__lt=until, workflow__isnull=False)
    for wf, stage, channel, customer, entered, exited in stays.values_list(
            "workflow_id", "stage", "order__channel", "order__customer_id", "entered_at", "exited_at").iterator():
        assert exited is not None   # by the filter
        secs = (exited - entered).total_seconds()
        row = acc[(local_day(exited), wf, stage, channel, customer, bucket_of(secs))]
        row[0] += 1
        row[1] += secs
    CustomerStageDays.objects.bulk_create(customer_stage_rows(acc), batch_size=2000)
    channels: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0.0])
    for (day, wf, stage, channel, _customer, b), (n, secs) in acc.items():
        row = channels[(day, wf, stage, channel, b)]
        row[0] += n
        row[1] += secs
    for key, (n, secs) in channels.items():
        yield (*key, int(n), secs)


def customer_stage_rows(acc: dict[tuple[Any, ...], list[float]]) -> Iterator[CustomerStageDays]:
    """One row per day, customer, workflow version, stage and channel from {(day, workflow,
    stage, channel, customer, bucket): [stays, seconds]}."""
    rows: dict[tuple[Any, ...], tuple[dict[str, int], list[float]]] = {}
    for (day, wf, stage, channel, customer, b), (n, secs) in acc.items():
        if customer is None:
            continue
        counts, tot = rows.setdefault((day, customer, wf, stage, channel), ({}, [0, 0.0]))
        counts[str(b)] = counts.get(str(b), 0) + int(n)
        tot[0] += int(n)
        tot[1] += secs
    for (day, customer, wf, stage, channel), (counts, (n, secs)) in rows.items():
        yield CustomerStageDays(day=day, customer_id=customer, workflow_id=wf, stage=stage, channel=channel,
                                stays=int(n), seconds=secs, counts=counts)


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
        cur.execute(_TREND_SQL.format(trend=TrendDay._meta.db_table, orders=Order._meta.db_table,
                                      customer_trend=CustomerTrendDay._meta.db_table),
                    [tz, since, until, tz, tz, Order.Status.COMPLETED, since, until])


def _trend_plain(since: datetime, until: datetime) -> None:
    """The plain twin of the trend statement: the same rows of both tables."""
    acc: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for created, wf, channel, customer in Order.objects.filter(
            created_at__gte=since, created_at__lt=until).values_list(
            "created_at", "workflow_id", "channel", "customer_id").iterator():
        acc[(local_day(created), wf, channel, customer)][0] += 1
    done = Order.objects.filter(status=Order.Status.COMPLETED, stage_entered_at__gte=since,
                                stage_entered_at__lt=until)
    for entered, wf, channel, customer, promised, required in done.values_list(
            "stage_entered_at", "workflow_id", "channel", "customer_id", "promised_date",
            "required_date").iterator():
        day = local_day(entered)
        row = acc[(day, wf, channel, customer)]
        row[1] += 1
        row[2] += int(day <= (promised or required))
    channels: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for (day, wf, channel, _customer), counts in acc.items():
        row = channels[(day, wf, channel)]
        for i in range(3):
            row[i] += counts[i]
    TrendDay.objects.bulk_create([TrendDay(day=day, workflow_id=wf, channel=channel, created=c, completed=d,
                                           on_time=ok) for (day, wf, channel), (c, d, ok) in channels.items()],
                                 batch_size=2000)
    CustomerTrendDay.objects.bulk_create([
        CustomerTrendDay(day=day, workflow_id=wf, channel=channel, customer_id=customer, created=c, completed=d,
                         on_time=ok)
        for (day, wf, channel, customer), (c, d, ok) in acc.items() if customer is not None], batch_size=2000)


def rollup_days(first: date, last: date, *, fast: bool | None = None, upto: datetime | None = None) -> int:
    """Roll up the days ``first``..``last`` (again) up to the moment ``upto`` (default: now; a
    past day whole): their rows deleted and written anew, each day marked in ``RolledDay`` with
    that moment, in one transaction. ``fast``: the set-based statements (default on
    PostgreSQL) or the plain twin. Returns the stays rolled up."""
    fast = connection.vendor == "postgresql" if fast is None else fast
    cut = upto or clock.now()
    since, until = midnight(first), min(midnight(last + timedelta(days=1)), cut)
    with transaction.atomic():
        for model in TABLES:
            model.objects.filter(day__gte=first, day__lte=last).delete()
        buckets = _stage_sql_buckets if fast else _stage_plain_buckets
        StageDurations.objects.bulk_create(stage_rows(buckets(since, until)), batch_size=2000)
        (_trend_sql if fast else _trend_plain)(since, until)
        span = {"day__gte": first, "day__lte": last}
        stays = dict(StageDurations.objects.filter(**span).values_list("day").annotate(Sum("stays")))
        created = dict(TrendDay.objects.filter(**span).values_list("day").annotate(Sum("created")))
        d, marks = first, []
        while d <= last:
            marks.append(RolledDay(day=d, rolled_at=cut, stays=stays.get(d, 0), created=created.get(d, 0)))
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
    rolled = {d for d, at in RolledDay.objects.filter(day__gte=first, day__lte=last).values_list("day", "rolled_at")
              if at >= midnight(d + timedelta(days=1))}   # a day rolled up only in part is not
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
    """Roll up today up to ``TODAY_LAG`` before ``now``, then every past day not rolled up yet
    and the last days again (``days_to_roll``), newest first, ``CHUNK_DAYS`` days per
    transaction; at most ``max_days`` past days per call. Another run holding the lock makes
    this one stop. Cached pages are made anew afterwards (``bump_generation``). Returns the
    past days rolled up (today's part besides)."""
    now = now or clock.now()
    today = timezone.localdate(now)
    runs = day_ranges(days_to_roll(today), longest=CHUNK_DAYS)
    done = 0
    try:
        with transaction.atomic():
            if not _locked():
                return 0
            if now - TODAY_LAG > midnight(today):
                rollup_days(today, today, upto=now - TODAY_LAG)
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
    finally:
        bump_generation()
    return done


def generation() -> int:
    """The rollup's generation: a cached page made before the last run is not used after it."""
    return int(cache.get(GENERATION_KEY) or 0)


def bump_generation() -> None:
    cache.add(GENERATION_KEY, 0, None)
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:   # evicted between the two calls
        cache.set(GENERATION_KEY, 1, None)


def rolled_until() -> date | None:
    """The newest day rolled up (None: none)."""
    return RolledDay.objects.aggregate(m=Max("day"))["m"]

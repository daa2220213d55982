"""Rush-order options: for a candidate order, the lines that can take it (a routing step on
that line for every product of the order that has a routing), and for each the order's
completion if inserted first on that line, its delivery date before (where the schedule has it,
else placed after everything booked) and which orders the insertion delays, by how much.

Set-based: one query reads the booked load (every line, from today); one reads the operations
booked on the candidate lines, in the order they run; each line is then simulated in memory:
the rush order first, then the line's queue placed again in its order, each operation never
earlier than it was. An order's delay is how much later its last operation on that line ends
(its later operations on other lines move by up to as much). The top 3 by completion date,
then by total delay.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Max, Min, Sum
from django.utils.translation import gettext as _

from orderhub.core.errors import NotFound
from orderhub.orders.models import Order, OrderLine

from .engine import EPS, HORIZON_DAYS, Board, Job
from .materials import materials_dates
from .models import OrderPlan, ScheduledOperation, WorkCenter
from .schedule import capacities, job_ops, new_board, routings, today

TOP = 3


@dataclass
class Delay:
    order_id: int
    number: str = ""
    before: date | None = None
    after: date | None = None
    days: int = 0


@dataclass
class RushOption:
    line_id: int
    code: str
    name: str
    completion: date
    delays: list[Delay] = field(default_factory=list)

    @property
    def delayed_days(self) -> int:
        return sum(d.days for d in self.delays)


@dataclass
class RushOptions:
    order: Order
    before: date | None                    # the delivery date the schedule gives it now
    promised: date | None
    options: list[RushOption]
    considered: int                        # lines that could take it


def _capable_lines(lines: list[tuple[int, Decimal]], routes: dict) -> set[int]:
    sets = [{s.line for steps in routes[pid].values() for s in steps} for pid, _q in lines if pid in routes]
    return set.intersection(*sets) if sets else set()


def _queue(line_ids: set[int], since: date, exclude: int) -> dict[int, list[tuple[int, int, str, date, float, date]]]:
    """Per line, its booked operations from ``since`` as (order, seq, operation, first day,
    hours, last day), in the order they run (first day, then order id). One query, its rows
    read straight from the cursor (tens of thousands at 5,000 released orders)."""
    if not line_ids:
        return {}
    qs = (ScheduledOperation.objects.filter(work_center_id__in=line_ids, day__gte=since)
          .exclude(order_id=exclude)
          .values("work_center_id", "order_id", "seq", "operation")
          .annotate(first=Min("day"), last=Max("day"), h=Sum("hours"))
          .order_by("work_center_id", "first", "order_id", "seq")
          .values_list("work_center_id", "order_id", "seq", "operation", "first", "last", "h"))
    sql, params = qs.query.sql_with_params()
    out: dict[int, list] = defaultdict(list)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for wc, oid, seq, op, first, last, h in cur.fetchall():
            if isinstance(first, str):   # SQLite's cursor gives a day as its text
                first, last = date.fromisoformat(first), date.fromisoformat(last)
            out[wc].append((oid, seq, op, first, float(h), last))
    return out


def _board(caps: dict[int, float], load: dict[int, dict[date, float]], *, skip_line: int | None = None) -> Board:
    board = new_board(caps)
    for wc, days in load.items():
        if wc != skip_line:
            board.used[wc].update(days)
    return board


def _simulate(line: int, job: Job, queue: list, board: Board, since: date) -> tuple[date, dict[int, date]]:
    """The rush job first (``board`` holds every other line's load, not this line's), then the
    line's queue again in its order, each entry never before its old first day: the rush job's
    end and each queued order's new last day on the line. The queue is sorted by first day, so
    it is placed in one forward pass over the line's days (what ``Board.place_op`` would do,
    without its per-call overhead: this is the rush options' inner loop)."""
    done = board.place(job)
    cap = board.capacity.get(line, 0.0)
    rush_used = board.used.get(line, {})
    start = since          # today: every queued entry starts on or after it
    avail: list[float] = []

    def free_at(i: int) -> float:
        while i >= len(avail):
            d = start + timedelta(days=len(avail))
            avail.append(cap - rush_used.get(d, 0.0) if board.workday(d) else 0.0)
        return avail[i]

    new_end: dict[int, date] = {}
    i, used = 0, 0.0
    limit = HORIZON_DAYS * 2
    for oid, _seq, _op, first, hours, _last in queue:
        fi = (first - start).days
        if fi > i:
            i, used = fi, 0.0
        left = hours
        while left > EPS and i < limit:
            take = min(free_at(i) - used, left)
            if take > EPS:
                used += take
                left -= take
            if left > EPS:
                i, used = i + 1, 0.0
        end = start + timedelta(days=i)
        prev = new_end.get(oid)
        new_end[oid] = end if prev is None or end > prev else prev
    return done.end or job.start, new_end


def rush_options(number: str) -> RushOptions:
    order = Order.objects.filter(number=number).first()
    if order is None:
        raise NotFound("unknown_order", _("Order %(number)s does not exist.") % {"number": number})
    day = today()
    lines = list(OrderLine.objects.filter(order=order).values_list("product_id", "base_qty"))
    routes = routings(pid for pid, _q in lines)
    capable = _capable_lines(lines, routes)
    plan = OrderPlan.objects.filter(order=order).first()
    mats = materials_dates([order.pk], today=day)[order.pk]
    start = max(day, mats.ready)
    caps = capacities()
    load: dict[int, dict[date, float]] = defaultdict(dict)
    for wc, d, h in (ScheduledOperation.objects.filter(day__gte=day).exclude(order_id=order.pk)
                     .values("work_center_id", "day").annotate(h=Sum("hours"))
                     .values_list("work_center_id", "day", "h")):
        load[wc][d] = float(h)
    before = plan.expected_date if plan and plan.expected_date else None
    if before is None:   # not scheduled yet: after everything booked
        before = _board(caps, load).place(Job(order.pk, start, job_ops(lines, routes))).end
    queues = _queue(capable, day, order.pk)
    booked_end: dict[tuple[int, int], date] = {}
    for wc, queue in queues.items():
        for row in queue:
            oid, last = row[0], row[5]
            booked_end[(wc, oid)] = max(booked_end.get((wc, oid), last), last)
    options = []
    names = {pk: (c, n) for pk, c, n in WorkCenter.objects.filter(pk__in=capable).values_list("pk", "code", "name")}
    for line in sorted(capable):
        job = Job(order.pk, start, job_ops(lines, routes, on_line=line))
        end, moved = _simulate(line, job, queues.get(line, []), _board(caps, load, skip_line=line), day)
        delays = []
        for oid, new in moved.items():
            old = booked_end.get((line, oid))
            if old is not None and new > old:
                delays.append(Delay(oid, before=old, after=new, days=(new - old).days))
        options.append(RushOption(line, *names[line], completion=end, delays=delays))
    options.sort(key=lambda o: (o.completion, o.delayed_days, o.code))
    top = options[:TOP]
    numbers = dict(Order.objects.filter(pk__in={d.order_id for o in top for d in o.delays}).values_list("pk", "number"))
    for opt in top:
        for delay in opt.delays:
            delay.number = numbers.get(delay.order_id, "")
        opt.delays.sort(key=lambda x: (-x.days, x.number))
    return RushOptions(order, before, order.promised_date, top, len(capable))

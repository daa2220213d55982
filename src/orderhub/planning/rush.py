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
from datetime import date
from decimal import Decimal

from django.db.models import Max, Min, Sum
from django.utils.translation import gettext as _

from orderhub.core.errors import NotFound
from orderhub.orders.models import Order, OrderLine

from .engine import Board, Job, Op
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
    hours), in the order they run (first day, then order id). One query."""
    rows = (ScheduledOperation.objects.filter(work_center_id__in=line_ids, day__gte=since)
            .exclude(order_id=exclude)
            .values("work_center_id", "order_id", "seq", "operation")
            .annotate(first=Min("day"), last=Max("day"), h=Sum("hours"))
            .values_list("work_center_id", "order_id", "seq", "operation", "first", "last", "h"))
    out: dict[int, list] = defaultdict(list)
    for wc, oid, seq, op, first, last, h in rows:
        out[wc].append((oid, seq, op, first, float(h), last))
    for q in out.values():
        q.sort(key=lambda r: (r[3], r[0], r[1]))
    return out


def _board(caps: dict[int, float], load: dict[int, dict[date, float]], *, skip_line: int | None = None) -> Board:
    board = new_board(caps)
    for wc, days in load.items():
        if wc != skip_line:
            board.used[wc].update(days)
    return board


def _simulate(line: int, job: Job, queue: list, board: Board) -> tuple[date, dict[int, date]]:
    """The rush job first (``board`` holds every other line's load, not this line's), then the
    line's queue again in its order: the rush job's end and each queued order's new end."""
    done = board.place(job)
    new_end: dict[int, date] = {}
    for oid, seq, op, first, hours, _last in queue:
        end, _rows = board.place_op(Op(seq, op, line, hours), first)
        new_end[oid] = max(new_end.get(oid, end), end)
    return done.end or job.start, new_end


def rush_options(number: str) -> RushOptions:
    order = Order.objects.filter(number=number).first()
    if order is None:
        raise NotFound("unknown_order", _("订单 %(n)s 不存在。") % {"n": number})
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
        end, moved = _simulate(line, job, queues.get(line, []), _board(caps, load, skip_line=line))
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

"""The promised date at confirmation (the entry action ``promise_date``; orders calls
:func:`promise_at_confirmation` through ``orders.promising``): the day the order's materials are
there (stock, its holds, open POs by their expected date), then each operation of its routings
placed on the earliest days with free hours on its line after what is already booked. The
operations are stored (the order now holds that capacity) and the date is returned for the
order's ``promised_date``.

Cost: a fixed number of queries whatever the number of lines (routings: one, and that is all for
an order none of whose products is routed; the lock; materials: up to six; the booked load of the
order's lines from today: one aggregate; the writes: three).
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.orders.kitting import day_label
from orderhub.orders.models import Order, OrderLine
from orderhub.orders.promising import Promise

from .engine import Job, Placed
from .materials import Materials, materials_dates, names_list
from .models import OrderPlan, ScheduledOperation
from .schedule import job_ops, load_booked, lock_schedule, new_board, routings, rows_of


def plan_order(order: Order, lines: list[OrderLine], now: datetime, routes: dict | None = None,
               caps: dict[int, float] | None = None) -> tuple[Materials, Placed]:
    """Where the order would go on today's schedule (writes nothing)."""
    today = timezone.localdate(now)
    mats = materials_dates([order.pk], today=today)[order.pk]
    if routes is None:
        routes = routings(ln.product_id for ln in lines)
    ops = job_ops(((ln.product_id, ln.base_qty) for ln in lines), routes)
    board = new_board(caps)
    load_booked(board, since=today, lines={op.line for op in ops}, exclude_order=order.pk)
    return mats, board.place(Job(order.pk, max(today, mats.ready), ops))


def promise_at_confirmation(order: Order, lines: list[OrderLine], now: datetime, actor: Actor) -> Promise | None:
    if not order.pk:
        return None
    routes = routings(ln.product_id for ln in lines)
    if not routes:
        return None   # nothing of the order has a routing (one query): no capacity to promise from
    caps = lock_schedule()
    mats, placed = plan_order(order, lines, now, routes, caps)
    if placed.end is None:
        return None   # nothing of the order has a routing: no capacity to promise from
    ScheduledOperation.objects.filter(order_id=order.pk).delete()
    ScheduledOperation.objects.bulk_create(rows_of(placed))
    OrderPlan.objects.bulk_create(   # one upsert
        [OrderPlan(order_id=order.pk, materials_date=mats.ready, expected_date=placed.end, promised_date=placed.end,
                   slipped_to=None, computed_at=now)],
        update_conflicts=True, unique_fields=["order"],
        update_fields=["materials_date", "expected_date", "promised_date", "slipped_to", "computed_at"])
    note = _("Materials ready %(m)s, finished %(d)s") % {"m": day_label(mats.ready), "d": day_label(placed.end)}
    if mats.uncovered:
        note += _(" (%(names)s: no purchase order makes it up, estimated from the lead time)") % {
            "names": names_list(mats.uncovered)}
    return Promise(placed.end, note)

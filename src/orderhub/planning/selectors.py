"""Planning reads: the capacity board (load per line and day), lines with their routings, an
order's plan and scheduled operations. Shared by the pages and the API."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Max, Min, Sum
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.errors import NotFound
from orderhub.orders.models import Order
from orderhub.orders.selectors import visible

from .models import OrderPlan, Routing, ScheduledOperation, WorkCenter

CENTS = Decimal("0.01")
FULL = 100      # % load at which a day is booked full


@dataclass(frozen=True)
class Cell:
    day: date
    hours: Decimal
    capacity: Decimal
    orders: int

    @property
    def percent(self) -> int:
        if not self.capacity:
            return 0 if not self.hours else 999
        return int(round(self.hours * 100 / self.capacity))

    @property
    def level(self) -> str:
        """off (no working day), free, low (< 50 %), mid (< 85 %), high (< 100 %), full."""
        p = self.percent
        if not self.capacity and not self.hours:
            return "off"
        return "free" if p == 0 else "low" if p < 50 else "mid" if p < 85 else "high" if p < FULL else "full"


@dataclass
class BoardRow:
    line: WorkCenter
    cells: list[Cell] = field(default_factory=list)

    @property
    def booked(self) -> Decimal:
        return sum((c.hours for c in self.cells), Decimal(0))

    @property
    def capacity(self) -> Decimal:
        return sum((c.capacity for c in self.cells), Decimal(0))


def capacity_board(*, start: date, days: int = 14) -> tuple[list[date], list[BoardRow]]:
    """Every active line × ``days`` days from ``start``: hours booked, capacity, orders. Two queries."""
    cal = get_business_calendar()
    dates = [start + timedelta(days=i) for i in range(days)]
    work = {d: cal.is_workday(d) for d in dates}
    load: dict[tuple[int, date], tuple[Decimal, int]] = {
        # (a sum to the column's two places: SQLite's sum of decimals drops trailing zeros)
        (wc, d): (h.quantize(CENTS), n) for wc, d, h, n in ScheduledOperation.objects.filter(
            day__gte=start, day__lte=dates[-1])
        .values("work_center_id", "day").annotate(h=Sum("hours"), n=Count("order_id", distinct=True))
        .values_list("work_center_id", "day", "h", "n")}
    rows = []
    for line in WorkCenter.objects.filter(is_active=True).order_by("code"):
        row = BoardRow(line)
        for d in dates:
            h, n = load.get((line.pk, d), (Decimal(0), 0))
            row.cells.append(Cell(d, h, line.hours_per_day if work[d] else Decimal(0), n))
        rows.append(row)
    return dates, rows


def lines_with_routings() -> list[tuple[WorkCenter, list[Routing]]]:
    by_line: dict[int, list[Routing]] = defaultdict(list)
    for r in Routing.objects.select_related("product").order_by("work_center_id", "product__sku", "seq"):
        by_line[r.work_center_id].append(r)
    return [(wc, by_line.get(wc.pk, [])) for wc in WorkCenter.objects.order_by("code")]


def visible_order(number: str, actor: Actor) -> Order:
    order = visible(Order.objects.filter(number=number), actor).first()
    if order is None:
        raise NotFound("unknown_order", _("Order %(number)s does not exist.") % {"number": number})
    return order


@dataclass
class OrderSchedule:
    plan: OrderPlan | None
    operations: list[tuple[str, str, str, date, date, Decimal]]   # line code, name, operation, first, last, hours


def order_schedule(order: Order) -> OrderSchedule:
    plan = OrderPlan.objects.filter(order=order).select_related("rush_line").first()
    ops = (ScheduledOperation.objects.filter(order=order)
           .values("work_center__code", "work_center__name", "operation", "seq")
           .annotate(first=Min("day"), last=Max("day"), h=Sum("hours"))
           .order_by("seq", "work_center__code"))
    return OrderSchedule(plan, [(o["work_center__code"], o["work_center__name"], o["operation"], o["first"], o["last"], o["h"])
                                for o in ops])

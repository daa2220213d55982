"""KPI selectors (orders/kpis.py) over histories made through the order services."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orderhub.core import clock
from orderhub.orders import kpis, services
from orderhub.orders.inputs import LineInput
from tests.conftest import SH, order_input

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=SH)


def _t2(company, *, required, promised=None, ref=None):
    data = order_input(lines=[LineInput(sku="M8X30", qty=Decimal("10"))], workflow="T2",
                       required_date=required, promised_date=promised, external_ref=ref)
    return services.order_create(data=data, actor=company["actors"]["sales"]).order


def _move(company, order, to, role, at):
    with clock.frozen(at):
        r = services.order_transition(order=order.number, to=to, actor=company["actors"][role])
    assert r.ok, r.reasons


def _deliver(company, order, start, hours_paid, hours_picking, hours_shipped):
    """paid → picking → shipped → delivered, each stay lasting the given hours."""
    t = start + timedelta(hours=hours_paid)
    _move(company, order, "picking", "service", t)
    t += timedelta(hours=hours_picking)
    _move(company, order, "shipped", "warehouse", t)
    t += timedelta(hours=hours_shipped)
    _move(company, order, "delivered", "logistics", t)
    return t


@pytest.fixture
def history(company):
    """Four T2 orders created Monday 09:00 Shanghai: on time, late, late against the required
    date but on time against the promise, still open (overdue in 'paid')."""
    with clock.frozen(MONDAY):
        on_time = _t2(company, required=date(2026, 11, 25), ref="k1")
        late = _t2(company, required=date(2026, 11, 23), ref="k2")
        promised = _t2(company, required=date(2026, 11, 23), promised=date(2026, 11, 24), ref="k3")
        still_open = _t2(company, required=date(2026, 12, 1), ref="k4")
    # on_time: 1 h paid, 2 h picking, 3 h shipped → delivered Monday 15:00
    _deliver(company, on_time, MONDAY, 1, 2, 3)
    # late: 2 h paid, 4 h picking, 20 h shipped → delivered Tuesday 11:00 (required Monday)
    _deliver(company, late, MONDAY, 2, 4, 20)
    # promised: 3 h, 6 h, 18 h → Tuesday 12:00, promised Tuesday: on time
    _deliver(company, promised, MONDAY, 3, 6, 18)
    return {"on_time": on_time, "late": late, "promised": promised, "open": still_open}


def test_on_time_delivery_rate_uses_the_promise_then_the_required_date(history):
    r = kpis.on_time_delivery_rate(since=MONDAY - timedelta(days=1), until=MONDAY + timedelta(days=3))
    assert (r.completed, r.on_time, r.late) == (3, 2, 1)
    assert r.rate == pytest.approx(2 / 3)
    assert kpis.on_time_delivery_rate(since=MONDAY, until=MONDAY + timedelta(days=3),
                                      workflow="T1").completed == 0


def test_on_time_window_counts_orders_by_their_completion_time(history):
    # only the Monday delivery falls in Monday
    monday = kpis.on_time_delivery_rate(since=MONDAY - timedelta(hours=9),
                                        until=MONDAY + timedelta(hours=15))
    assert (monday.completed, monday.on_time) == (1, 1)
    empty = kpis.on_time_delivery_rate(since=MONDAY + timedelta(days=5),
                                       until=MONDAY + timedelta(days=6))
    assert empty.completed == 0 and empty.rate is None


def test_on_time_day_boundary_is_the_business_time_zone(company):
    """Completed 23:30 Shanghai on the required date = 15:30 UTC the same day: on time;
    00:30 Shanghai the next day (16:30 UTC, still the required date in UTC): late."""
    with clock.frozen(MONDAY):
        a = _t2(company, required=date(2026, 11, 23), ref="tz1")
        b = _t2(company, required=date(2026, 11, 23), ref="tz2")
    _deliver(company, a, MONDAY, 1, 1, 12.5)   # 23:30 Monday Shanghai
    _deliver(company, b, MONDAY, 1, 1, 13.5)   # 00:30 Tuesday Shanghai
    r = kpis.on_time_delivery_rate(since=MONDAY - timedelta(days=1), until=MONDAY + timedelta(days=2))
    assert (r.completed, r.on_time) == (2, 1)


def test_stage_processing_times_median_and_p90_per_stage(history):
    rows = kpis.stage_processing_times(since=MONDAY - timedelta(days=1),
                                       until=MONDAY + timedelta(days=3))
    by_stage = {(r.workflow, r.stage): r for r in rows}
    assert set(by_stage) == {("T2", "paid"), ("T2", "picking"), ("T2", "shipped")}
    paid = by_stage[("T2", "paid")]          # 1, 2, 3 h (the open order has not left 'paid')
    assert paid.count == 3
    assert paid.median_s == pytest.approx(2 * 3600)
    assert paid.p90_s == pytest.approx(2.8 * 3600)   # 2 h + 0.8 × (3 h − 2 h)
    shipped = by_stage[("T2", "shipped")]    # 3, 18, 20 h
    assert shipped.median_s == pytest.approx(18 * 3600)
    assert shipped.p90_s == pytest.approx(19.6 * 3600)
    assert kpis.stage_processing_times(since=MONDAY, until=MONDAY + timedelta(days=3),
                                       workflow="T3") == []


def test_stage_processing_times_window_is_by_when_the_stay_ended(history):
    # by Monday 11:30 only the 'paid' stays of 1 and 2 h have ended (picking ends at 12:00)
    rows = kpis.stage_processing_times(since=MONDAY, until=MONDAY + timedelta(hours=2.5))
    assert [(r.stage, r.count, r.median_s) for r in rows] == [("paid", 2, 1.5 * 3600)]
    rows = kpis.stage_processing_times(since=MONDAY, until=MONDAY + timedelta(hours=3, minutes=1))
    assert [(r.stage, r.count) for r in rows] == [("paid", 3), ("picking", 1)]


def test_overdue_by_stage_counts_open_orders_past_their_deadline(company, history):
    # 'paid' has a 2 h deadline: at Monday 10:00 the open order is on time, at 12:00 late
    early = kpis.overdue_by_stage(now=MONDAY + timedelta(hours=1))
    assert [(r.workflow, r.stage, r.open, r.overdue) for r in early] == [("T2", "paid", 1, 0)]
    late = kpis.overdue_by_stage(now=MONDAY + timedelta(hours=3))
    assert [(r.workflow, r.stage, r.open, r.overdue, r.on_hold) for r in late] == [
        ("T2", "paid", 1, 1, 0)]
    with clock.frozen(MONDAY + timedelta(hours=3)):
        services.order_hold(order=history["open"].number, actor=company["actors"]["finance"],
                            reason="税号有误")
    held = kpis.overdue_by_stage(now=MONDAY + timedelta(hours=4))
    assert [(r.open, r.overdue, r.on_hold) for r in held] == [(1, 0, 1)]
    assert kpis.overdue_by_stage(now=MONDAY + timedelta(hours=4), workflow="T1") == []


def test_each_kpi_is_one_query_whatever_the_history(company, history):
    with clock.frozen(MONDAY):
        for i in range(5):
            _t2(company, required=date(2026, 11, 30), ref=f"more{i}")
    since, until = MONDAY - timedelta(days=1), MONDAY + timedelta(days=3)
    for fn in (lambda: kpis.on_time_delivery_rate(since=since, until=until),
               lambda: kpis.stage_processing_times(since=since, until=until, workflow="T2"),
               lambda: kpis.overdue_by_stage(now=until, workflow="T2")):
        with CaptureQueriesContext(connection) as q:
            fn()
        assert len(q) == 1


def test_windows_must_be_aware_and_ordered():
    with pytest.raises(ValueError):
        kpis.on_time_delivery_rate(since=datetime(2026, 11, 23), until=MONDAY)
    with pytest.raises(ValueError):
        kpis.stage_processing_times(since=MONDAY, until=MONDAY - timedelta(hours=1))

"""Kept COEI scores (``portal.models.CoeiScore``): a set's COEI read from kept scores equals the
one scored order by order, and a kept score stops standing when the order's history moves, a
staff message is posted, the clock passes its end, or the settings change."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from orderhub.core import clock
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order
from orderhub.portal import coei
from orderhub.portal.messages import message_post
from orderhub.portal.models import CoeiScore
from orderhub.portal.survey import customer_setting_save
from tests.conftest import SH, order_input

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=SH)


def _t2(company, *, required, ref):
    data = order_input(lines=[LineInput(sku="M8X30", qty=Decimal("10"))], workflow="T2", required_date=required,
                       external_ref=ref)
    return services.order_create(data=data, actor=company["actors"]["sales"]).order


def _move(company, order, to, role, at):
    with clock.frozen(at):
        r = services.order_transition(order=order.number, to=to, actor=company["actors"][role])
    assert r.ok, r.reasons


@pytest.fixture
def orders(company):
    """Three T2 orders of Monday 09:00: one delivered Monday afternoon, one late and in picking
    (its rep wrote Tuesday), one untouched and due Friday."""
    with clock.frozen(MONDAY):
        done = _t2(company, required=date(2026, 11, 24), ref="s1")
        late = _t2(company, required=date(2026, 11, 23), ref="s2")
        fresh = _t2(company, required=date(2026, 11, 27), ref="s3")
    for to, role, h in (("picking", "service", 1), ("shipped", "warehouse", 2), ("delivered", "logistics", 5)):
        _move(company, done, to, role, MONDAY + timedelta(hours=h))
    _move(company, late, "picking", "service", MONDAY + timedelta(hours=3))
    with clock.frozen(MONDAY + timedelta(days=1, hours=1)):
        message_post(order=late.number, body="原料晚到，明天发货。", actor=company["actors"]["sales"])
    return {"done": done, "late": late, "fresh": fresh}


def _all():
    return Order.objects.all()


def _summary_at(at, **kw):
    with clock.frozen(at):
        return coei.summary(_all(), now=at, **kw)


def _live(at):
    """The figures scored order by order, nothing kept read or written."""
    kept = list(CoeiScore.objects.all())
    CoeiScore.objects.all().delete()
    try:
        return _summary_at(at, keep=False)
    finally:
        CoeiScore.objects.bulk_create(kept)


def _no_scoring(monkeypatch):
    def refuse(*a, **kw):
        raise AssertionError("scored an order although a kept score stands")
    monkeypatch.setattr(coei, "_scored", refuse)


def test_kept_scores_give_the_same_figures_and_are_read_not_scored(orders, monkeypatch):
    wednesday = MONDAY + timedelta(days=2, hours=1)
    live = _summary_at(wednesday, keep=False)
    assert not CoeiScore.objects.exists()
    assert live["scored"] == 3 and live["coei"] is not None
    first = _summary_at(wednesday)              # scores the three and keeps them
    assert first == live
    assert CoeiScore.objects.count() == 3
    done = CoeiScore.objects.get(order=orders["done"])
    assert done.valid_until is None             # completed: the clock does not move it
    fresh = CoeiScore.objects.get(order=orders["fresh"])
    # open and due Friday: its next 24-hour window starts Thursday 09:00
    assert fresh.valid_until == MONDAY + timedelta(days=3)
    later = _live(wednesday + timedelta(hours=1))
    _no_scoring(monkeypatch)
    assert _summary_at(wednesday + timedelta(hours=1)) == later


def test_a_kept_score_stops_standing_when_the_order_or_the_settings_move(orders, company, monkeypatch):
    wednesday = MONDAY + timedelta(days=2, hours=1)
    _summary_at(wednesday)
    assert CoeiScore.objects.count() == 3

    def standing():
        mine = {o: (s, c) for o, s, c in Order.objects.values_list("pk", "audit_seq", "customer_id")}
        return set(coei.standing(coei.config(), clock.now(), mine))

    ids = {k: o.pk for k, o in orders.items()}
    t = wednesday + timedelta(minutes=10)
    # the history moves: the late order ships
    _move(company, orders["late"], "shipped", "warehouse", t)
    with clock.frozen(t):
        assert standing() == {ids["done"], ids["fresh"]}
        assert coei.summary(_all(), now=t) == _live(t)
        assert standing() == set(ids.values())
    # a staff message on the untouched order
    t += timedelta(minutes=10)
    with clock.frozen(t):
        message_post(order=orders["fresh"].number, body="已排产。", actor=company["actors"]["sales"])
        assert standing() == {ids["done"], ids["late"]}
    with clock.frozen(t + coei.MESSAGE_MARGIN + timedelta(seconds=1)):
        assert coei.summary(_all(), now=clock.now()) == _live(clock.now())
        assert ids["fresh"] in standing()
    # the clock alone: Thursday 09:00 opens the untouched order's next window
    thursday = MONDAY + timedelta(days=3, seconds=1)
    with clock.frozen(thursday):
        assert ids["fresh"] not in standing() and ids["done"] in standing()
        assert coei.summary(_all(), now=thursday) == _live(thursday)
    # the customer's own interval, then the weights
    with clock.frozen(thursday):
        customer_setting_save(customer="C001", update_hours=12, actor=company["actors"]["admin"])
        assert standing() == set()
        assert coei.summary(_all(), now=thursday) == _live(thursday)
        assert standing() == set(ids.values())
        coei.config_save(actor=company["actors"]["admin"], values={
            "weight_notice": 50, "weight_updates": 50, "weight_delay": 0, "update_hours": 24, "explain_hours": 2,
            "survey_days": 14})
        assert standing() == set()
        got = coei.summary(_all(), now=thursday)
        assert got == _live(thursday)
        _no_scoring(monkeypatch)
        assert coei.summary(_all(), now=thursday) == got


def test_a_look_at_the_past_keeps_nothing_and_a_later_fact_is_never_kept(orders):
    tuesday = MONDAY + timedelta(days=1)
    assert coei.summary(_all(), now=tuesday)["scored"] == 3     # clock at today: a look back
    assert not CoeiScore.objects.exists()
    # kept explicitly at Monday noon: the delivered order's later stages are after it, not kept
    _summary_at(MONDAY + timedelta(hours=3, minutes=30), keep=True)
    assert set(CoeiScore.objects.values_list("order_id", flat=True)) == {orders["fresh"].pk}


def test_refresh_scores_every_order_whose_score_does_not_stand(orders, monkeypatch):
    wednesday = MONDAY + timedelta(days=2, hours=1)
    with clock.frozen(wednesday):
        assert coei.refresh(chunk=2) == 3
        assert coei.refresh(chunk=2) == 0
    assert CoeiScore.objects.count() == 3
    live = _live(wednesday)
    _no_scoring(monkeypatch)
    assert _summary_at(wednesday) == live


def _stale(now):
    """How many orders' kept scores do not stand at ``now``, by ``coei.standing`` (the final word)."""
    rows = {o.pk: (o.audit_seq, o.customer_id) for o in Order.objects.exclude(status=Order.Status.CANCELLED)}
    return len(rows) - len(coei.standing(coei.config(), now, rows))


def test_refresh_finds_each_kind_of_score_that_no_longer_stands(company, orders):
    """The refresh (which pages through the period index) scores exactly what ``standing`` finds stale:
    a staff message, an order moved, the customer's update interval changed, the clock past a
    score's end."""
    wednesday = MONDAY + timedelta(days=2, hours=1)
    with clock.frozen(wednesday):
        assert coei.refresh() == 3 and coei.refresh() == 0
        message_post(order=orders["done"].number, body="已签收，谢谢。", actor=company["actors"]["sales"])
    later = wednesday + timedelta(minutes=10)
    with clock.frozen(later):
        assert _stale(later) == 1
        assert coei.refresh() == 1 and _stale(later) == 0
    _move(company, orders["fresh"], "picking", "service", later + timedelta(minutes=1))
    later += timedelta(minutes=2)
    with clock.frozen(later):
        assert _stale(later) == 1
        assert coei.refresh() == 1 and _stale(later) == 0
        customer_setting_save(customer=orders["done"].customer.code, update_hours=8, actor=company["actors"]["admin"])
        assert _stale(later) == 3
        assert coei.refresh() == 3 and _stale(later) == 0
    ends = [e for e in CoeiScore.objects.values_list("valid_until", flat=True) if e is not None]
    assert ends, "an open order's score ends when the clock alone would move it"
    past = max(ends) + timedelta(seconds=1)
    with clock.frozen(past):
        stale = _stale(past)
        assert stale >= 1
        assert coei.refresh() == stale and _stale(past) == 0


def test_a_change_of_the_business_calendar_expires_every_kept_score(company, orders):
    """The delay part counts business hours: a day made a holiday changes what a kept score
    was computed under (``coei.basis`` names the calendar), so none of them stands."""
    from orderhub.core.calendar_config import clear_calendar_cache
    from orderhub.core.services import calendar_override_set

    wednesday = MONDAY + timedelta(days=2, hours=1)
    with clock.frozen(wednesday):
        assert coei.refresh() == 3 and _stale(wednesday) == 0
        before = coei.basis(coei.config())
        calendar_override_set(day=date(2026, 11, 24), is_workday=False, note="停电检修",
                              actor=company["actors"]["admin"])
        clear_calendar_cache()   # on commit in production; the test's transaction never commits
        assert coei.basis(coei.config()) != before
        assert _stale(wednesday) == 3
        assert coei.refresh() == 3 and _stale(wednesday) == 0


def test_the_summary_reads_its_rows_with_the_collector_paused_and_restores_it(orders, monkeypatch):
    """Up to 20,000 score rows a dashboard call: a full collection of a big process landing in
    one (60 ms each in the history bench's) made the KPI's p95 double (bench/HISTORY.md)."""
    import gc

    seen = []
    standing = coei.standing
    monkeypatch.setattr(coei, "standing", lambda *a, **kw: seen.append(gc.isenabled()) or standing(*a, **kw))
    assert gc.isenabled()
    _summary_at(MONDAY + timedelta(days=2))
    assert seen == [False]
    assert gc.isenabled()

"""Item 9: delivery risk 48 h ahead (the reasons, the owners told once per order and risk) and
its precision and recall against what happened."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from orderhub.core import clock
from orderhub.notify.models import Message
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.planning import events
from orderhub.planning.models import RiskNotice
from orderhub.planning.risk import precision_recall, risk_backtest, risk_list, risk_scan
from orderhub.planning.services import RoutingIn, line_save
from tests.conftest import SH, order_input
from tests.planning.test_promise import confirm

pytestmark = pytest.mark.django_db


def test_precision_and_recall():
    s = precision_recall({1, 2, 3, 9}, {2, 3, 4}, {1, 2, 3, 4, 5})
    assert (s.true_positive, s.false_positive, s.false_negative) == (2, 1, 1)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 3) and s.orders == 5
    none = precision_recall(set(), set(), {1})
    assert none.precision is None and none.recall is None


def test_risks_are_listed_with_reasons_and_told_once(company, lines, monday_morning):
    a = company["actors"]
    overdue = confirm(company, qty="10")                       # promised Monday; 已排产 due in 8 business hours
    short = services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("150"))],
                                                   promised_date=date(2026, 11, 24)), actor=a["sales"]).order
    assert overdue.promised_date == date(2026, 11, 23)
    with clock.frozen(datetime(2026, 11, 24, 10, 0, tzinfo=SH)):
        services.order_transition(order=short, to="scheduled", actor=a["service"])
        short.refresh_from_db()
        risks = {r.order.number: r for r in risk_list()}
        # 150 housings need 90 kg of bar, 80 on hand, no PO: short (the promise counted the lead time)
        assert short.promised_date is not None
        assert RiskNotice.Kind.MATERIAL in risks[short.number].kinds
        assert RiskNotice.Kind.STAGE in risks[overdue.number].kinds
        line_save(actor=a["planner"], code="L1", name="一号线", hours_per_day=Decimal("1"),
                  routings=[RoutingIn(company["housing"].pk, 10, "机加工", Decimal("0.1"))])
    with clock.frozen(datetime(2026, 11, 24, 11, 0, tzinfo=SH)):
        risks = {r.order.number: r for r in risk_list()}
        assert RiskNotice.Kind.CAPACITY in risks[short.number].kinds
        first = risk_scan()
        assert first >= 2
        assert Message.objects.filter(event=events.DELIVERY_RISK, order=short).exists()
        assert risk_scan() == 0                                # once per order and risk
        assert RiskNotice.objects.filter(order=short).count() == len(risks[short.number].kinds)


def test_backtest_scores_warnings_against_outcomes(company, lines, monday_morning):
    """Demo-like history: four orders promised for Wednesday; two warned by the risk scan on
    Tuesday (one then late, one made it), one late without a warning, one on time."""
    a = company["actors"]
    orders = [confirm(company, qty="10") for _ in range(4)]
    for o in orders:
        services.order_update(order=o.number, changes={"promised_date": date(2026, 11, 25)}, actor=a["sales"])
    on_time_at = datetime(2026, 11, 25, 15, 0, tzinfo=SH)
    late_at = datetime(2026, 11, 26, 10, 0, tzinfo=SH)
    with clock.frozen(datetime(2026, 11, 24, 9, 0, tzinfo=SH)):
        for o in orders[:2]:
            RiskNotice.objects.create(order=o, kind="capacity", detail="x", promised_date=date(2026, 11, 25),
                                      noticed_at=clock.now())
    for o, at in zip(orders, (late_at, on_time_at, late_at, on_time_at), strict=True):
        with clock.frozen(at):
            for stage in ("materials_ready", "machining", "qc", "packed", "shipped"):
                services.order_override(order=o.number, to=stage, actor=a["manager"], reason="补录")
    with clock.frozen(datetime(2026, 11, 30, 9, 0, tzinfo=SH)):
        score = risk_backtest()
    assert (score.true_positive, score.false_positive, score.false_negative) == (1, 1, 1)
    assert score.precision == 0.5 and score.recall == 0.5 and score.orders == 4
    _ = timedelta

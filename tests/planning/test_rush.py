"""Item 8: rush-order options (the lines that can take it, its completion on each, before vs
after, the orders delayed and by how much) and applying one (reschedule, owners told)."""

from datetime import date
from decimal import Decimal

import pytest

from orderhub.core.models import AuditEvent
from orderhub.notify.models import Message
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.planning import events
from orderhub.planning.models import OrderPlan
from orderhub.planning.rush import rush_options
from orderhub.planning.services import rush_apply
from tests.conftest import order_input
from tests.planning.test_promise import confirm

pytestmark = pytest.mark.django_db


def test_options_rank_lines_and_name_the_delayed_orders(company, lines, monday_morning):
    booked = [confirm(company, qty="160") for _ in range(2)]   # 32 h on L1: Mon–Thu
    rush = confirm(company, qty="80")                          # 8 h: after them, Friday
    assert rush.promised_date == date(2026, 11, 27)
    opts = rush_options(rush.number)
    assert opts.before == date(2026, 11, 27) and opts.considered == 3
    by_line = {o.code: o for o in opts.options}
    # L2 is free: done Monday, delays nobody; L1: done Monday, pushes both booked orders a day;
    # L3 (4 h a day at 0.2 h a piece) needs 16 h: Thursday
    assert [o.code for o in opts.options] == ["L2", "L1", "L3"]
    assert by_line["L2"].completion == date(2026, 11, 23) and by_line["L2"].delays == []
    assert by_line["L1"].completion == date(2026, 11, 23)
    assert {(d.number, d.days) for d in by_line["L1"].delays} == {(booked[0].number, 1), (booked[1].number, 1)}
    assert by_line["L3"].completion == date(2026, 11, 26)


def test_applying_reschedules_and_tells_the_owners_of_delayed_orders(company, lines, monday_morning):
    booked = [confirm(company, qty="160") for _ in range(2)]
    rush = confirm(company, qty="80")
    result = rush_apply(actor=company["actors"]["planner"], number=rush.number, line_code="L1", reason="客户急单")
    assert OrderPlan.objects.get(order=rush).expected_date == date(2026, 11, 23)
    assert OrderPlan.objects.get(order=booked[1]).expected_date == date(2026, 11, 27)
    assert result.moved[booked[0].pk] == (date(2026, 11, 24), date(2026, 11, 25))
    told = Message.objects.filter(event=events.DELAYED_BY_RUSH)
    assert {m.order_id for m in told} == {booked[0].pk, booked[1].pk}
    assert "推迟 1 天" in told.first().payload["context"]["message"]
    ev = AuditEvent.objects.get(subject_type="order_plan", subject_id=rush.pk, action=events.RUSH_APPLIED)
    assert ev.data["line"] == "L1" and ev.reason == "客户急单"
    assert {d["order"] for d in ev.data["delayed"]} == {booked[0].number, booked[1].number}


def test_only_lines_that_make_every_product_are_offered(company, lines, monday_morning):
    a = company["actors"]
    order = services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("10")),
                                                          LineInput(sku="M8X30", qty=Decimal("10"))]),
                                  actor=a["sales"]).order
    from orderhub.planning.services import RoutingIn, line_save
    line_save(actor=a["planner"], code="L4", name="四号线", hours_per_day=Decimal("8"),
              routings=[RoutingIn(company["bolt"].pk, 10, "包装", Decimal("0.01")),
                        RoutingIn(company["housing"].pk, 10, "机加工", Decimal("0.1"), False)])
    assert services.order_transition(order=order, to="scheduled", actor=a["service"]).ok
    opts = rush_options(order.number)
    assert [o.code for o in opts.options] == ["L4"]


def test_refuses_an_order_not_released(company, lines, monday_morning):
    from orderhub.core.errors import NotFound
    order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    with pytest.raises(NotFound):
        rush_apply(actor=company["actors"]["planner"], number=order.number, line_code="L1")


def test_an_order_no_line_can_take_has_no_options(company, lines, monday_morning):
    order = services.order_create(data=order_input(lines=[LineInput(sku="M8X30", qty=Decimal("10"))]),
                                  actor=company["actors"]["sales"]).order
    opts = rush_options(order.number)
    assert opts.options == [] and opts.considered == 0 and opts.before is None

"""Safety stock alerts (issue 18 item 4): a stock change that crosses a material's safety stock
downwards flags every not-yet-started order needing it (directly or through its BOM), red on the
board and the order page with the substitute offer, and its owner is told once; crossing back up
clears the flags."""

from decimal import Decimal

import pytest
from django.test import Client

from orderhub.core.models import AuditEvent
from orderhub.core.tokens import token_create
from orderhub.inventory.models import SafetyBreach
from orderhub.inventory.services import stock_adjust, stock_receive
from orderhub.notify.models import Message
from orderhub.orders import events, services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import SafetyFlag
from orderhub.orders.safety import safety_notices_send, safety_overview
from orderhub.orders.tasks import safety_notices_job
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def _order(company, sku, qty):
    return services.order_create(data=order_input(lines=[LineInput(sku=sku, qty=Decimal(qty))]),
                                 actor=company["actors"]["sales"]).order


def _flagged():
    return set(SafetyFlag.objects.values_list("order__number", "product__sku"))


@pytest.fixture
def orders(company, monday_morning):
    """6061 bar: 80 kg free, safety stock 70. Orders needing it through the housing's BOM and
    directly, one that does not need it, one already started (holding its 6 kg)."""
    a = company["actors"]
    company["bar"].safety_stock = Decimal("70")
    company["bar"].save()
    via_bom, direct = _order(company, "HSG-100", "100"), _order(company, "AL6061-BAR", "10")
    bolts = _order(company, "M8X30", "50")
    started = _order(company, "HSG-100", "10")
    assert services.order_transition(order=started, to="scheduled", actor=a["service"]).ok
    assert services.order_transition(order=started, to="materials_ready", actor=a["planner"]).ok  # 74 free
    assert not SafetyBreach.objects.exists() and not SafetyFlag.objects.exists()
    return {"via_bom": via_bom, "direct": direct, "bolts": bolts, "started": started}


def test_crossing_down_flags_exactly_the_not_started_orders_that_need_it(company, orders):
    a = company["actors"]
    stock_adjust(product_id=company["bar"].pk, warehouse_id=company["wh1"].pk, qty=Decimal("-3"),
                 actor=a["admin"], note="盘亏")                      # 71: not crossed
    assert not SafetyFlag.objects.exists()
    stock_adjust(product_id=company["bar"].pk, warehouse_id=company["wh1"].pk, qty=Decimal("-5"),
                 actor=a["admin"], note="盘亏")                      # 66 < 70
    assert _flagged() == {(orders["via_bom"].number, "AL6061-BAR"), (orders["direct"].number, "AL6061-BAR")}
    breach = SafetyBreach.objects.get()
    assert breach.product_id == company["bar"].pk and breach.free == 66
    # a further fall is not a new crossing: nothing is flagged twice
    stock_adjust(product_id=company["bar"].pk, warehouse_id=company["wh2"].pk, qty=Decimal("-1"),
                 actor=a["admin"], note="盘亏")
    assert SafetyFlag.objects.count() == 2
    [alert] = safety_overview()
    assert alert.free == 65 and alert.safety_stock == 70
    assert sorted(alert.orders) == sorted([orders["via_bom"].number, orders["direct"].number])
    [sub] = alert.substitutes
    assert sub["sku"] == "AL6063-BAR" and sub["cost_diff"] == Decimal("-2.00") and sub["available"] == 500


def test_crossing_back_up_clears_and_a_reservation_or_release_crosses_too(company, orders):
    a = company["actors"]
    stock_adjust(product_id=company["bar"].pk, warehouse_id=company["wh1"].pk, qty=Decimal("-10"),
                 actor=a["admin"], note="盘亏")                      # 64
    assert len(_flagged()) == 2
    stock_receive(product_id=company["bar"].pk, warehouse_id=company["wh2"].pk, qty=Decimal("6"),
                  actor=a["warehouse"])                                 # 70: back at safety stock
    assert not SafetyFlag.objects.exists() and not SafetyBreach.objects.exists()
    # the started order gives its 6 kg back (76 free), then another order's kitting takes 60: 16
    services.order_cancel(order=orders["started"], actor=a["manager"], reason="客户取消")
    assert not SafetyFlag.objects.exists()
    assert services.order_transition(order=orders["via_bom"], to="scheduled", actor=a["service"]).ok
    assert services.order_transition(order=orders["via_bom"], to="materials_ready", actor=a["planner"]).ok
    # the reserving order itself has started: only the direct one is flagged
    assert _flagged() == {(orders["direct"].number, "AL6061-BAR")}


def test_red_on_the_board_and_the_order_page_and_the_owner_told_once(company, orders):
    a = company["actors"]
    stock_adjust(product_id=company["bar"].pk, warehouse_id=company["wh1"].pk, qty=Decimal("-10"),
                 actor=a["admin"], note="盘亏")
    sales = Client()
    sales.force_login(company["users"]["sales"])
    board = sales.get("/board/T1/").content.decode()
    assert board.count('data-testid="safety-low"') == 2
    page = sales.get(f"/orders/{orders['via_bom'].number}/").content.decode()
    assert 'data-testid="safety-alerts"' in page and "6063铝棒" in page and "-2.00" in page
    assert 'data-testid="safety-alerts"' not in sales.get(f"/orders/{orders['bolts'].number}/").content.decode()
    safety_notices_job()                                                # the periodic job, as registered
    assert safety_notices_send() == []                                  # told once
    for key in ("via_bom", "direct"):
        order = orders[key]
        msg = Message.objects.get(event=events.ORDER_SAFETY_STOCK_LOW, order=order, channel="inapp")
        assert msg.user_id == order.owner_id == company["users"]["sales"].pk
        assert "低于安全库存 70" in msg.payload["context"]["message"]
        assert "6063铝棒" in msg.payload["context"]["message"]
        assert AuditEvent.objects.filter(subject_type="order", subject_id=order.pk,
                                         action=events.ORDER_SAFETY_STOCK_LOW).count() == 1
    assert not Message.objects.filter(event=events.ORDER_SAFETY_STOCK_LOW,
                                      order__in=[orders["bolts"], orders["started"]]).exists()
    raw = token_create(user=company["users"]["purchaser"], name="p")[1]
    auth = {"Authorization": f"Bearer {raw}"}
    [row] = Client().get("/api/shortages/safety", headers=auth).json()
    assert row["sku"] == "AL6061-BAR" and Decimal(row["free"]) == 70 - 6 - 0 and len(row["orders"]) == 2
    [mine] = Client().get(f"/api/shortages/{orders['direct'].number}/safety", headers=auth).json()
    assert mine["substitutes"][0]["sku"] == "AL6063-BAR"
    shortages = Client()
    shortages.force_login(company["users"]["purchaser"])
    assert 'data-testid="safety-overview"' in shortages.get("/purchasing/shortages/").content.decode()


def test_the_notice_job_is_registered_with_the_others():
    from orderhub.celery import periodic_jobs

    job = {j.name: j for j in periodic_jobs()}["orders.safety_notices"]
    assert job.seconds == 60 and job.raw is safety_notices_job

"""Shortage lists (per order and overall) and the purchaser's home: top 3 shortages with
substitutes and cost difference, a to-do sorted by countdown, overdue ones called out."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from orderhub.core import clock
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.orders.shortages import order_shortages, shortage_overview
from orderhub.purchasing.models import PurchaseRequest
from orderhub.purchasing.services import (
    LineIn,
    po_place,
    request_decide,
    request_raise,
    supplier_save,
)
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def _order(company, qty):
    return services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal(qty))]),
                                 actor=company["actors"]["sales"]).order


def test_order_and_overall_shortages_count_stock_pos_and_substitutes(company, monday_morning):
    a = company["actors"]
    first, second = _order(company, "100"), _order(company, "100")   # 60 kg each, 80 on hand
    sup = supplier_save(actor=a["purchaser"], code="S01", name="无锡铝材")
    po = po_place(actor=a["purchaser"], supplier_id=sup.pk,
                  lines=[LineIn(company["bar"].pk, Decimal("30"), date(2026, 11, 30), orders={first.pk: Decimal("30")})])
    assert order_shortages(first) == []                               # 60 of 80 kg free
    [overall] = shortage_overview()
    assert overall.product.sku == "AL6061-BAR"
    assert (overall.needed, overall.free, overall.on_order, overall.missing) == (120, 80, 30, 10)
    assert sorted(overall.orders) == sorted([first.number, second.number])
    [sub] = overall.substitutes
    assert sub["sku"] == "AL6063-BAR" and sub["enough"] and sub["cost_diff"] == Decimal("-2.00")
    # the first order takes its 60 kg: the second is short 40, the PO serving the first is not its
    assert services.order_transition(order=first, to="scheduled", actor=a["service"]).ok
    assert services.order_transition(order=first, to="materials_ready", actor=a["planner"]).ok
    [mine] = order_shortages(second)
    assert (mine.free, mine.on_order, mine.missing) == (20, 0, 40)
    assert mine.as_dict()["purchase_orders"] == [] and po.number


def test_a_request_raised_from_the_order_page_and_the_api(company, monday_morning):
    order = _order(company, "200")                                    # 120 kg, 80 on hand
    buyer = Client()
    buyer.force_login(company["users"]["purchaser"])
    page = buyer.get(f"/orders/{order.number}/").content.decode()
    assert 'data-testid="order-shortages"' in page and 'data-testid="missing-AL6061-BAR">40<' in page
    buyer.post(f"/orders/{order.number}/purchase-request", {"sku": "AL6061-BAR"})
    pr = PurchaseRequest.objects.get()
    assert (pr.order_id, pr.qty, pr.source, pr.needed_by) == (order.pk, 40, "shortage", order.required_date)
    from orderhub.core.tokens import token_create

    raw = token_create(user=company["users"]["planner"], name="p")[1]
    r = Client().post(f"/api/shortages/{order.number}/requests", {"sku": "AL6061-BAR", "qty": "500"},
                      content_type="application/json", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 201 and Decimal(r.json()["qty"]) == 500
    r = Client().post(f"/api/shortages/{order.number}/requests", {"sku": "M8X30"},
                      content_type="application/json", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 422 and r.json()["code"] == "not_short"
    listed = Client().get("/api/shortages", headers={"Authorization": f"Bearer {raw}"}).json()
    assert listed[0]["sku"] == "AL6061-BAR" and Decimal(listed[0]["missing"]) == 40


def test_the_purchasers_home_shows_top_shortages_and_the_todo_by_countdown(company, monday_morning):
    a = company["actors"]
    _order(company, "200")
    sup = supplier_save(actor=a["purchaser"], code="S01", name="无锡铝材")
    today = clock.now().date()
    late = request_raise(actor=a["purchaser"], product_id=company["bar"].pk, qty=Decimal("40"),
                         needed_by=today - timedelta(days=1))
    request_decide(actor=a["manager"], number=late.number, approve=True)
    po = po_place(actor=a["purchaser"], supplier_id=sup.pk,
                  lines=[LineIn(company["bolt"].pk, Decimal("10"), today + timedelta(days=3))])
    buyer = Client()
    buyer.force_login(company["users"]["purchaser"])
    home = buyer.get("/").content.decode()
    assert 'data-testid="top-shortages"' in home and "6061铝棒" in home and "6063铝棒" in home
    todo = home.split('data-testid="purchase-todo"')[1]
    assert todo.index(late.number) < todo.index(po.number)          # overdue first, then by days left
    assert "超期 1 天" in todo and "剩 3 天" in todo
    assert 'data-testid="purchase-overdue"' in home
    sales = Client()
    sales.force_login(company["users"]["sales"])
    assert 'data-testid="purchase-todo"' not in sales.get("/").content.decode()

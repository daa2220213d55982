"""The shipping pages: plan a shipment on the order page choosing quantities per line, mark it
shipped on its page, the list; settings of the letterhead and templates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderhub.inventory.models import StockLevel
from orderhub.orders import services as orders
from orderhub.orders.inputs import LineInput
from orderhub.shipping.models import DocumentTemplate, Letterhead, Shipment
from tests.conftest import order_input
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def order(company):
    data = order_input(lines=[LineInput(sku="M8X30", qty=D("100")), LineInput(sku="HSG-100", qty=D("4"))])
    return orders.order_create(data=data, actor=company["actors"]["sales"]).order


def test_warehouse_plans_and_ships_from_the_pages(order, company):
    wh = login("warehouse")
    page = wh.get(f"/orders/{order.number}/").content.decode()
    assert 'data-testid="shipment-form"' in page and 'name="qty-1"' in page
    resp = wh.post(f"/orders/{order.number}/shipments", {"qty-1": "60", "qty-2": "", "carrier": "顺丰速运",
                                                          "waybill": "SF9", "packages": "2", "weight_kg": "1.5"})
    sh = Shipment.objects.get(order=order)
    assert resp.status_code == 302 and resp["Location"] == f"/shipping/{sh.number}/"
    detail = wh.get(f"/shipping/{sh.number}/").content.decode()
    assert "顺丰速运" in detail and 'data-testid="mark-shipped"' in detail and "delivery-note.pdf" in detail
    over = wh.post(f"/orders/{order.number}/shipments", {"qty-1": "41"}, follow=True).content.decode()
    assert "最多还能发 40" in over
    assert "数量必须是数字" in wh.post(f"/orders/{order.number}/shipments", {"qty-1": "abc"},
                                       follow=True).content.decode()
    wh.post(f"/shipping/{sh.number}/ship", {"waybill": "SF10"})
    sh.refresh_from_db()
    assert sh.status == "shipped" and sh.waybill == "SF10"
    assert StockLevel.objects.get(product=company["bolt"]).on_hand == D("99940")
    page = wh.get(f"/orders/{order.number}/").content.decode()
    assert 'data-testid="open-1">40<' in page and "已发货" in page and 'data-testid="event-shipment"' in page
    listing = login("finance").get("/shipping/?status=shipped").content.decode()
    assert sh.number in listing and "SF10" in listing


def test_other_roles_see_but_do_not_ship(order):
    sales = login("sales")
    page = sales.get(f"/orders/{order.number}/").content.decode()
    assert 'data-testid="shipments"' in page and 'data-testid="shipment-form"' not in page
    assert sales.post(f"/orders/{order.number}/shipments", {"qty-1": "1"}).status_code == 403
    assert not Shipment.objects.exists()


def test_admin_sets_the_letterhead_and_a_template(company):
    admin = login("admin")
    assert "单据与抬头" in admin.get("/settings/").content.decode()
    resp = admin.post("/settings/documents/", {"name": "苏州精密", "address": "苏州", "phone": "0512"})
    assert resp.status_code == 302 and Letterhead.objects.get().name == "苏州精密"
    bad = admin.post("/settings/documents/delivery-note/", {"body": "<p>{% for l in lines %}</p>"})
    assert bad.status_code == 200 and "单据模板有错误" in bad.content.decode()
    assert not DocumentTemplate.objects.exists()
    admin.post("/settings/documents/delivery-note/", {"body": "<p>{{ order.number }}</p>"})
    assert DocumentTemplate.objects.get().body == "<p>{{ order.number }}</p>"
    admin.post("/settings/documents/delivery-note/", {"reset": "1"})
    assert not DocumentTemplate.objects.exists()

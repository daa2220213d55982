"""The line edit from the API (``POST /api/orders/{number}/lines``) and the order's edit-lines
page: both through ``order_lines_change``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order, OrderLine
from tests.api.conftest import order_body
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def test_api_changes_lines_as_a_new_version(api_as):
    sales = api_as("sales")
    number = sales.post("/api/orders", order_body()).json()["number"]
    resp = sales.post(f"/api/orders/{number}/lines", {"reason": "客户追加", "changes": [
        {"op": "update", "line_no": 1, "qty": 90}, {"op": "add", "sku": "M8X30", "qty": 500}]})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["version"] == 2
    assert [(ln["line_no"], ln["sku"]) for ln in body["lines"]] == [(1, "HSG-100"), (2, "M8X30")]
    assert body["total_amount"] == "10850.00"


def test_api_refusals_name_the_change(api_as, company):
    sales = api_as("sales")
    number = sales.post("/api/orders", order_body()).json()["number"]
    resp = sales.post(f"/api/orders/{number}/lines", {"changes": [
        {"op": "update", "line_no": 1, "qty": 5}, {"op": "update", "line_no": 1, "unit_price": 1}]})
    assert resp.status_code == 403 and resp.json()["code"] == "price_not_allowed"
    assert resp.json()["errors"][0]["field"] == "changes[1].unit_price"
    resp = sales.post(f"/api/orders/{number}/lines", {"changes": [{"op": "update", "line_no": 7, "qty": 5}]})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "changes[0].line_no"
    resp = sales.post(f"/api/orders/{number}/lines", {"changes": [{"op": "update", "line_no": 1, "qty": 0}]})
    assert resp.status_code == 422
    resp = api_as("warehouse").post(f"/api/orders/{number}/lines", {"changes": [{"op": "remove", "line_no": 1}]})
    assert resp.status_code == 403
    assert Order.objects.get(number=number).version == 1
    manager = api_as("manager")
    resp = manager.post(f"/api/orders/{number}/lines", {"changes": [{"op": "update", "line_no": 1, "unit_price": 1}]})
    assert resp.status_code == 200 and resp.json()["total_amount"] == "100.00"


def test_api_409_at_a_locked_stage(api_as, company):
    a = company["actors"]
    number = services.order_create(data=order_input(workflow="T2", lines=[LineInput(sku="M8X30", qty=Decimal(10))]),
                                   actor=a["sales"]).order.number
    for to, who in (("picking", "service"), ("shipped", "warehouse")):
        assert services.order_transition(order=number, to=to, actor=a[who]).ok
    resp = api_as("admin").post(f"/api/orders/{number}/lines", {"changes": [{"op": "update", "line_no": 1, "qty": 5}]})
    assert resp.status_code == 409 and resp.json()["code"] == "not_editable"
    assert "已出库" in resp.json()["message"] and resp.json()["order"]["number"] == number


def _web(company, role: str) -> Client:
    c = Client()
    c.force_login(company["users"][role])
    return c


def test_the_edit_lines_page(company):
    number = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order.number
    c = _web(company, "sales")
    assert f"/orders/{number}/lines" in c.get(f"/orders/{number}/").content.decode()
    page = c.get(f"/orders/{number}/lines")
    assert page.status_code == 200 and "新增明细行" in page.content.decode()
    assert "price-1" not in page.content.decode()     # sales may not change prices: no price field
    # errors next to their fields, nothing saved
    resp = c.post(f"/orders/{number}/lines", {"qty-1": "-2", "new-0-sku": "NOPE", "new-0-qty": "3"})
    assert resp.status_code == 400
    assert resp.content.decode().count("invalid-feedback") == 1
    resp = c.post(f"/orders/{number}/lines", {"qty-1": "100", "new-0-sku": "NOPE", "new-0-qty": "3"})
    assert resp.status_code == 400 and "NOPE" in resp.content.decode() and "invalid-feedback" in resp.content.decode()
    assert Order.objects.get(number=number).version == 1
    resp = c.post(f"/orders/{number}/lines", {"qty-1": "80", "new-0-sku": "M8X30", "new-0-qty": "20",
                                              "reason": "电话确认"})
    assert resp.status_code == 302, resp.content.decode()[:3000]
    order = Order.objects.get(number=number)
    assert order.version == 2
    assert [(ln.product.sku, ln.qty) for ln in OrderLine.objects.filter(order=order).order_by("line_no")] == [
        ("HSG-100", 80), ("M8X30", 20)]
    resp = c.post(f"/orders/{number}/lines", {"qty-1": "80", "qty-2": "20", "remove-2": "1"})
    assert resp.status_code == 302
    assert OrderLine.objects.filter(order=order).count() == 1
    # the manager sees price fields and may set them
    m = _web(company, "manager")
    assert "price-1" in m.get(f"/orders/{number}/lines").content.decode()
    assert m.post(f"/orders/{number}/lines", {"qty-1": "80", "price-1": "100"}).status_code == 302
    assert Order.objects.get(number=number).total_amount == 8000

"""The restore page and ``POST /api/orders/{number}/restore`` (issue 15.3)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from orderhub.orders import services
from orderhub.orders.models import OrderLine
from orderhub.orders.services import LineChange
from tests.conftest import order_input

pytestmark = pytest.mark.django_db

D = Decimal


def _lines(number: str) -> list[tuple]:
    return [(ln.line_no, ln.product.sku, ln.qty, ln.unit_price)
            for ln in OrderLine.objects.filter(order__number=number).order_by("line_no")]


def test_restore_page_and_api(company, api_as):
    a = company["actors"]
    number = services.order_create(data=order_input(), actor=a["sales"]).order.number
    services.order_lines_change(order=number, actor=a["sales"], changes=[
        LineChange("update", line_no=1, qty=D("7")), LineChange("add", sku="M8X30", qty=D("5"))])
    c = Client()
    c.force_login(company["users"]["sales"])
    assert f"/orders/{number}/restore" in c.get(f"/orders/{number}/").content.decode()
    page = c.get(f"/orders/{number}/restore?version=1").content.decode()
    assert "第 1 行: 数量" in page and "restore-form" in page      # the diff, in words
    resp = c.post(f"/orders/{number}/restore", {"version": "1", "reason": "还原"})
    assert resp.status_code == 302
    assert _lines(number) == [(1, "HSG-100", D("100"), D("120"))]
    resp = api_as("sales").post(f"/api/orders/{number}/restore", {"version": 2})
    assert resp.status_code == 200 and resp.json()["version"] == 4
    assert [ln["sku"] for ln in resp.json()["lines"]] == ["HSG-100", "M8X30"]
    resp = api_as("sales").post(f"/api/orders/{number}/restore", {"version": 99})
    assert resp.status_code == 404

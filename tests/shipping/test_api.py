"""The shipping API: plan a shipment with quantities per line, the refusal naming the line and
what remains, the order's progress per line, mark it shipped, the list."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderhub.orders import services as orders
from orderhub.orders.inputs import LineInput
from tests.conftest import order_input
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db


def test_shipments_through_the_api(company):
    order = orders.order_create(data=order_input(lines=[LineInput(sku="M8X30", qty=Decimal("100")),
                                                        LineInput(sku="HSG-100", qty=Decimal("5"))]),
                                actor=company["actors"]["sales"]).order
    wh = login("logistics")
    url = f"/api/orders/{order.number}/shipments"
    made = wh.post(url, {"lines": [{"line_no": 1, "qty": "60"}], "carrier": "顺丰速运", "packages": 2},
                   content_type="application/json")
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["number"] == f"{order.number}-F1" and body["status"] == "planned"
    assert body["lines"] == [{"line_no": 1, "sku": "M8X30", "name": "M8×30 螺栓", "unit": "件", "qty": "60.0000"}]
    assert "缺少签收凭证" in body["invoice_refusal"]
    over = wh.post(url, {"lines": [{"line_no": 1, "qty": "41"}, {"line_no": 2, "qty": "6"}]},
                   content_type="application/json")
    assert over.status_code == 409 and over.json()["code"] == "over_shipped"
    assert [(e["field"], e["data"]) for e in over.json()["errors"]] == [
        ("quantities.1", {"remaining": "40"}), ("quantities.2", {"remaining": "5"})]
    bad = wh.post(url, {"lines": [{"line_no": 1, "qty": "-1"}]}, content_type="application/json")
    assert bad.status_code == 422
    progress = login("finance").get(url).json()
    assert [(ln["line_no"], ln["planned"], ln["open"]) for ln in progress["lines"]] == [
        (1, "60.0000", "40.0000"), (2, "0", "5.0000")]
    shipped = wh.post(f"/api/shipping/shipments/{body['number']}/ship", {"waybill": "SF77"},
                      content_type="application/json")
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped"
    assert shipped.json()["waybill"] == "SF77" and shipped.json()["shipped_at"]
    listed = login("sales").get("/api/shipping/shipments?status=shipped").json()
    assert listed["count"] == 1 and listed["items"][0]["number"] == body["number"]
    assert login("sales").post(url, {"lines": [{"line_no": 1, "qty": "1"}]},
                               content_type="application/json").status_code == 403

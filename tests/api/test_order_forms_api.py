"""The API twins of the order forms' helpers (issue 14.7): the picker search (code, name,
pinyin initials) and the preview (every error at once, amounts, warnings)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.orders.models import Order
from tests.api.conftest import order_body
from tests.conftest import SH

pytestmark = pytest.mark.django_db


def test_customers_by_code_name_and_pinyin_initials(api_as, company):
    Customer.objects.create(code="C002", name="重庆长安机械", credit_limit=Decimal("0"),
                            sales_owner=company["users"]["sales"])   # the rep's picker offers their own
    Customer.objects.create(code="C003", name="停用客户", is_active=False)
    sales = api_as("sales")
    for q, expected in [("C001", "C001"), ("博锐", "C001"), ("szbr", "C001"), ("SZBR", "C001"),
                        ("cqca", "C002"), ("长安", "C002")]:
        resp = sales.get("/api/catalog/customers", q=q)
        assert resp.status_code == 200, resp.content
        codes = [r["code"] for r in resp.json()]
        assert codes and codes[0] == expected, (q, codes)
    assert [r["code"] for r in sales.get("/api/catalog/customers", q="停用").json()] == []
    row = sales.get("/api/catalog/customers", q="szbrjg").json()[0]
    assert row["name"] == "苏州博锐精工" and row["initials"] == "szbrjg"
    assert sales.get("/api/catalog/customers", q="x" * 51).status_code == 422


def test_products_by_sku_name_and_initials_with_unit_and_price(api_as):
    sales = api_as("sales")
    rows = sales.get("/api/catalog/products", q="ls").json()  # 螺栓
    assert rows[0]["code"] == "M8X30" and rows[0]["unit"] == "件" and Decimal(str(rows[0]["price"])) == Decimal("0.1")
    assert sales.get("/api/catalog/products", q="cgqkt").json()[0]["code"] == "HSG-100"  # 传感器壳体
    assert sales.get("/api/catalog/products", q="壳体").json()[0]["code"] == "HSG-100"
    assert api_as("warehouse").get("/api/catalog/products", q="ls").status_code == 403


def test_preview_lists_every_error_at_once_and_writes_nothing(api_as):
    sales = api_as("sales")
    before = Order.objects.count()
    body = order_body(customer="NOPE", lines=[{"sku": "HSG-100", "qty": 200}, {"sku": "XX", "qty": 1},
                                              {"sku": "M8X30", "qty": 1, "unit": "箱"}, {"sku": "HSG-100", "qty": 1, "unit": "吨"}])
    resp = sales.post("/api/orders/preview", body)
    assert resp.status_code == 200, resp.content
    out = resp.json()
    assert out["ok"] is False
    fields = {e["field"] for e in out["errors"]}
    assert {"customer", "lines[1].sku", "lines[2].unit", "lines[3].unit"} <= fields
    assert Order.objects.count() == before


def test_preview_shows_amounts_total_and_warnings(api_as, company):
    cust = company["customer"]  # credit limit 100,000
    cust.unpaid_amount = Decimal("40000")
    cust.save()
    sales = api_as("sales")
    with clock.frozen(datetime(2026, 12, 1, 10, 0, tzinfo=SH)):
        resp = sales.post("/api/orders/preview", order_body(
            lines=[{"sku": "HSG-100", "qty": 500}, {"sku": "M8X30", "qty": 200}], required_date="2026-11-01"))
    out = resp.json()
    assert out["ok"] is True, out
    assert [Decimal(str(ln["amount"])) for ln in out["lines"]] == [Decimal("60000"), Decimal("20")]
    assert Decimal(str(out["total"])) == Decimal("60020")
    codes = {w["code"]: w for w in out["warnings"]}
    assert "past_date" in codes and codes["past_date"]["field"] == "required_date"
    assert "credit_exceeded" in codes and "60,020.00" in codes["credit_exceeded"]["message"]
    assert Decimal(str(out["credit_available"])) == Decimal("60000")
    # within the credit and in the future: no warnings
    with clock.frozen(datetime(2026, 12, 1, 10, 0, tzinfo=SH)):
        out = sales.post("/api/orders/preview", order_body(required_date=str(date(2026, 12, 20)))).json()
    assert out["ok"] and out["warnings"] == []


def test_preview_names_a_workflow_credit_guard_ahead(api_as, company):
    sales = api_as("sales")
    with clock.frozen(datetime(2026, 12, 1, 10, 0, tzinfo=SH)):
        out = sales.post("/api/orders/preview", order_body(workflow="T3", lines=[{"sku": "HSG-100", "qty": 800}])).json()
    guard = [w for w in out["warnings"] if w["code"] == "credit_guard"]
    assert guard and "排产锁定" in guard[0]["message"], out["warnings"]


def test_preview_names_a_price_the_caller_may_not_set(api_as):
    out = api_as("sales").post("/api/orders/preview", order_body(
        lines=[{"sku": "HSG-100", "qty": 1, "unit_price": 1}])).json()
    assert not out["ok"] and out["errors"][0]["field"] == "lines[0].unit_price"

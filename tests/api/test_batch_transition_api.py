"""POST /api/orders/transition: many orders to one stage, one result per order."""

from __future__ import annotations

import pytest
from django.test import Client

from orderhub.catalog.models import Customer
from orderhub.orders.models import Order
from tests.api.conftest import order_body

pytestmark = pytest.mark.django_db


def _create(client, **overrides) -> str:
    resp = client.post("/api/orders", order_body(**overrides))
    assert resp.status_code == 201, resp.content
    return resp.json()["number"]


def test_each_order_gets_its_own_outcome(api_as):
    sales = api_as("sales")
    ok = [_create(sales, lines=[{"sku": "M8X30", "qty": 10}]) for _ in range(2)]
    short = _create(sales, lines=[{"sku": "HSG-100", "qty": 1000}])   # 600 kg of bar: 80 in stock
    service = api_as("service")
    resp = service.post("/api/orders/transition", {"numbers": [*ok, short], "to": "scheduled"})
    assert resp.status_code == 200, resp.content
    assert resp.json()["moved"] == 3
    resp = api_as("planner").post("/api/orders/transition", {
        "numbers": [ok[0], short, ok[1], ok[0], "SO-000000-999999"], "to": "materials_ready", "reason": "齐套"})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert (body["moved"], body["blocked"], body["refused"]) == (2, 1, 2)
    got = [(r["number"], r["outcome"], r["stage"], [p["code"] for p in r["reasons"]]) for r in body["results"]]
    assert got == [(ok[0], "moved", "materials_ready", []), (short, "blocked", "scheduled", ["bom_kitted"]),
                   (ok[1], "moved", "materials_ready", []), (ok[0], "refused", "materials_ready", ["duplicate"]),
                   ("SO-000000-999999", "refused", None, ["order_not_found"])]
    assert "6061铝棒" in body["results"][1]["reasons"][0]["message"]
    assert Order.objects.get(number=short).blocked_reasons[0]["code"] == "bom_kitted"


def test_the_stage_owner_rule_and_scope_are_checked_per_order(api_as, company):
    sales = api_as("sales")
    mine = _create(sales, workflow="T3")
    other = Customer.objects.create(code="C002", name="别人的客户", credit_limit=1_000_000)
    theirs = _create(api_as("manager"), workflow="T3", customer=other.code)
    pending = _create(sales)   # T1 pending: only service moves it on
    resp = sales.post("/api/orders/transition", {"numbers": [mine, theirs, pending], "to": "credit_review"})
    assert resp.status_code == 200, resp.content
    got = [(r["outcome"], [p["code"] for p in r["reasons"]]) for r in resp.json()["results"]]
    # another sales owner's customer: not found, as for a single move; pending → credit_review:
    # not a stage of T1 at all
    assert got[0] == ("moved", []) and got[1] == ("refused", ["order_not_found"])
    assert got[2][0] == "refused"
    resp = api_as("finance").post("/api/orders/transition", {"numbers": [mine], "to": "contract_signed"})
    assert [r["outcome"] for r in resp.json()["results"]] == ["moved"]
    resp = api_as("finance").post("/api/orders/transition", {"numbers": [mine], "to": "production_locked"})
    assert resp.json()["results"][0]["reasons"][0]["code"] == "permission_denied"


def test_the_body_is_checked(api_as):
    service = api_as("service")
    for body in ({"numbers": [], "to": "scheduled"}, {"numbers": ["x"] * 1001, "to": "scheduled"},
                 {"numbers": ["SO-1"]}, {"numbers": "SO-1", "to": "scheduled"}):
        assert service.post("/api/orders/transition", body).status_code == 422, body
    assert Client().post("/api/orders/transition", {}, content_type="application/json").status_code == 401


def test_the_endpoint_is_documented(db):
    spec = Client().get("/api/openapi.json").json()
    op = spec["paths"]["/api/orders/transition"]["post"]
    assert op["x-orderhub-capability"] == "orders.move"
    assert "one result per number" in op["description"]

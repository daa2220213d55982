"""The JSON API for orders, end to end through HTTP: auth, create, read, move, audit, errors."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.core.canonical import canonical_json, sha256_hex
from orderhub.core.tokens import token_create
from orderhub.inventory.models import Reservation, StockLevel
from orderhub.orders.models import Order, Snapshot
from tests.api.conftest import ApiClient, order_body
from tests.conftest import SH

pytestmark = pytest.mark.django_db


def _fields(resp) -> set[str]:
    return {e.get("field") for e in resp.json().get("errors") or []}


def _create(client: ApiClient, **overrides) -> dict:
    resp = client.post("/api/orders", order_body(**overrides))
    assert resp.status_code == 201, resp.content
    return resp.json()


def _reserved(product) -> Decimal:
    return sum((r.reserved for r in StockLevel.objects.filter(product=product)), Decimal(0))


# --------------------------------------------------------------------------- spec, docs, auth


def test_openapi_spec_describes_the_endpoints(db):
    resp = Client().get("/api/openapi.json")
    assert resp.status_code == 200
    spec = resp.json()
    paths = spec["paths"]
    for path in ("/api/orders", "/api/orders/{number}", "/api/orders/{number}/transition",
                 "/api/orders/{number}/hold", "/api/orders/{number}/resume",
                 "/api/orders/{number}/override", "/api/orders/{number}/cancel",
                 "/api/orders/{number}/events", "/api/orders/{number}/snapshots",
                 "/api/workflows", "/api/workflows/{code}"):
        assert path in paths, path
    assert {"post", "get"} <= set(paths["/api/orders"])
    assert "patch" in paths["/api/orders/{number}"]
    # the workflow definition travels in the request body, not in the query string
    put = paths["/api/workflows/{code}"]["put"]
    assert "requestBody" in put
    assert [p["name"] for p in put["parameters"]] == ["code"]
    assert "requestBody" in paths["/api/orders"]["post"]
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert any(s.get("in") == "cookie" for s in schemes.values())


def test_docs_are_served_from_local_static_files_only(db):
    resp = Client().get("/api/docs")
    assert resp.status_code == 200
    html = resp.content.decode()
    refs = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert any("swagger-ui-bundle" in r for r in refs), refs
    remote = [r for r in refs if re.match(r"^(https?:)?//", r)]
    assert remote == []
    assert not re.search(r"https?://[^\s\"']*(cdn|unpkg|jsdelivr)", html)
    for ref in refs:
        if ref.startswith(f"/{settings.STATIC_URL}"):
            path = ref[len(settings.STATIC_URL) + 1:]
            assert finders.find(path), f"{ref} is not a local static file"


def test_no_credentials_is_401_json_with_a_code(company):
    for method, path in [("get", "/api/orders"), ("get", "/api/workflows")]:
        resp = getattr(Client(), method)(path)
        assert resp.status_code == 401
        assert resp.json()["code"] == "unauthorized"
    # an unsafe method without any credentials is also 401 (not a CSRF 403)
    resp = Client(enforce_csrf_checks=True).post("/api/orders", order_body(),
                                                 content_type="application/json")
    assert resp.status_code == 401 and resp.json()["code"] == "unauthorized"
    # a wrong or revoked bearer token is 401 too
    assert ApiClient("oh_not-a-real-token").get("/api/orders").status_code == 401
    token, raw = token_create(user=company["users"]["sales"], name="old")
    token.revoked = True
    token.save()
    resp = ApiClient(raw, enforce_csrf_checks=True).post("/api/orders", order_body())
    assert resp.status_code == 401 and resp.json()["code"] == "unauthorized"
    assert Order.objects.count() == 0


def test_session_reads_freely_but_needs_csrf_for_writes(company):
    client = Client(enforce_csrf_checks=True)
    client.force_login(company["users"]["sales"])
    assert client.get("/api/orders").status_code == 200

    resp = client.post("/api/orders", order_body(), content_type="application/json")
    assert resp.status_code == 403
    assert resp.json()["code"] == "csrf_failed"
    assert Order.objects.count() == 0

    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    resp = client.post("/api/orders", order_body(), content_type="application/json",
                       headers={"X-CSRFToken": secret})
    assert resp.status_code == 201, resp.content
    assert Order.objects.count() == 1
    # the session's user is the actor
    events = client.get(f"/api/orders/{resp.json()['number']}/events").json()
    assert events[0]["actor"] == "sales" and events[0]["actor_kind"] == "user"


def test_bearer_token_needs_no_csrf(api_as):
    client = ApiClient(api_as("sales").headers["Authorization"].split()[1], enforce_csrf_checks=True)
    assert client.post("/api/orders", order_body()).status_code == 201


# --------------------------------------------------------------------------- create & read


def test_create_then_same_key_same_content_returns_existing(api_as):
    sales = api_as("sales")
    first = sales.post("/api/orders", order_body(channel="wechat", external_ref="WX1"))
    assert first.status_code == 201
    order = first.json()
    assert order["stage"] == "pending" and order["status"] == "open"
    assert order["customer"] == "C001" and order["workflow"] == "T1"
    assert order["lines"][0]["sku"] == "HSG-100" and Decimal(order["lines"][0]["qty"]) == 100
    assert order["total_amount"] == "12000.00"

    again = sales.post("/api/orders", order_body(channel="wechat", external_ref="WX1"))
    assert again.status_code == 200
    assert again.json()["number"] == order["number"]
    assert Order.objects.count() == 1
    # the same reference on another channel is another order
    assert sales.post("/api/orders", order_body(channel="email", external_ref="WX1")).status_code == 201
    assert Order.objects.count() == 2


def test_same_key_different_content_is_409_listing_differences(api_as):
    sales = api_as("sales")
    created = _create(sales, channel="wechat", external_ref="WX1")
    resp = sales.post("/api/orders", order_body(channel="wechat", external_ref="WX1",
                                                lines=[{"sku": "HSG-100", "qty": 120}],
                                                urgency="red"))
    assert resp.status_code == 409
    body = resp.json()
    assert body["code"] == "duplicate_conflict"
    assert body["order"] == created["number"]
    assert {"field": "lines[0].qty", "existing": "100", "incoming": "120"} in body["differences"]
    assert {"field": "urgency", "existing": "green", "incoming": "red"} in body["differences"]
    assert Order.objects.count() == 1


def test_get_order_and_unknown_number_is_404_json(api_as):
    sales = api_as("sales")
    created = _create(sales)
    resp = sales.get(f"/api/orders/{created['number']}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["number"] == created["number"]
    assert body["next_stages"] == ["scheduled"]
    assert [s["code"] for s in body["stages"]][:2] == ["pending", "scheduled"]
    resp = sales.get("/api/orders/SO-000000-999999")
    assert resp.status_code == 404
    assert resp.json()["code"] == "order_not_found"


def test_list_filters_and_pagination(api_as, company):
    sales, service = api_as("sales"), api_as("service")
    Customer.objects.create(code="C002", name="宁波华翔", sales_owner=company["users"]["sales"])
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    with clock.frozen(monday):
        a = _create(sales, urgency="red", tags=["急"], required_date="2026-12-01")
        b = _create(sales, customer="C002", required_date="2026-12-10")
    with clock.frozen(datetime(2026, 11, 25, 9, 0, tzinfo=SH)):
        c = _create(sales, urgency="yellow", tags=["样品", "急"], required_date="2026-12-20")
        d = _create(sales, required_date="2026-12-30")
        assert service.post(f"/api/orders/{d['number']}/transition",
                            {"to": "scheduled"}).status_code == 200

    def numbers(**query) -> set[str]:
        resp = sales.get("/api/orders", **query)
        assert resp.status_code == 200, resp.content
        body = resp.json()
        assert body["count"] == len(body["items"])
        return {o["number"] for o in body["items"]}

    with clock.frozen(datetime(2026, 11, 25, 10, 0, tzinfo=SH)):
        assert numbers() == {x["number"] for x in (a, b, c, d)}
        assert numbers(stage="scheduled") == {d["number"]}
        assert numbers(stage="pending") == {a["number"], b["number"], c["number"]}
        assert numbers(urgency="red") == {a["number"]}
        assert numbers(customer="C002") == {b["number"]}
        assert numbers(tag="急") == {a["number"], c["number"]}
        assert numbers(tag="样品") == {c["number"]}
        # a and b were due Monday 14:00; c is due 14:00 today; d just entered scheduled
        assert numbers(overdue="true") == {a["number"], b["number"]}
        assert numbers(overdue="false") == {c["number"], d["number"]}
        assert numbers(created_from="2026-11-24") == {c["number"], d["number"]}
        assert numbers(created_to="2026-11-23") == {a["number"], b["number"]}
        assert numbers(created_from="2026-11-23", created_to="2026-11-23") == {a["number"], b["number"]}
        assert numbers(required_from="2026-12-05", required_to="2026-12-20") == {b["number"], c["number"]}
        assert numbers(required_to="2026-12-01") == {a["number"]}
        assert numbers(customer="C001", urgency="yellow", tag="急") == {c["number"]}

        seen = []
        for page in (1, 2, 3):
            body = sales.get("/api/orders", page=page, page_size=2).json()
            assert body["count"] == 4 and body["page"] == page and body["page_size"] == 2
            seen += [o["number"] for o in body["items"]]
        assert len(seen) == 4 and set(seen) == {x["number"] for x in (a, b, c, d)}
        filtered = sales.get("/api/orders", page=2, page_size=1, tag="急").json()
        assert filtered["count"] == 2 and len(filtered["items"]) == 1

        for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 100000}, {"overdue": "maybe"},
                    {"created_from": "2026-02-30"}):
            resp = sales.get("/api/orders", **bad)
            assert resp.status_code == 422, bad
            assert resp.json()["code"] == "invalid"
            assert _fields(resp) == set(bad), bad


# --------------------------------------------------------------------------- moves


def _to_scheduled(api_as, number):
    resp = api_as("service").post(f"/api/orders/{number}/transition", {"to": "scheduled"})
    assert resp.status_code == 200, resp.content
    return resp.json()


def test_transition_moves_the_order_and_checks_role_and_target(api_as):
    number = _create(api_as("sales"))["number"]
    # wrong role for the stage: 403; stage that does not exist: 422; not a next stage: 409
    resp = api_as("warehouse").post(f"/api/orders/{number}/transition", {"to": "scheduled"})
    assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
    resp = api_as("service").post(f"/api/orders/{number}/transition", {"to": "nowhere"})
    assert resp.status_code == 422 and resp.json()["code"] == "unknown_stage"
    resp = api_as("service").post(f"/api/orders/{number}/transition", {"to": "machining"})
    assert resp.status_code == 409 and resp.json()["code"] == "invalid_transition"
    resp = api_as("service").post(f"/api/orders/{number}/transition", {})
    assert resp.status_code == 422 and "to" in _fields(resp)
    resp = api_as("service").post("/api/orders/SO-000000-999999/transition", {"to": "scheduled"})
    assert resp.status_code == 404

    moved = _to_scheduled(api_as, number)
    assert moved["stage"] == "scheduled" and moved["version"] == 2
    assert moved["next_stages"] == ["materials_ready"]


def test_blocked_transition_is_409_with_every_reason_and_changes_nothing(api_as, company):
    sales, planner = api_as("sales"), api_as("planner")
    first = _create(sales)["number"]
    _to_scheduled(api_as, first)
    ok = planner.post(f"/api/orders/{first}/transition", {"to": "materials_ready"})
    assert ok.status_code == 200, ok.content
    assert _reserved(company["bar"]) == Decimal("60")

    second = _create(sales, lines=[{"sku": "HSG-100", "qty": 100}, {"sku": "M8X30", "qty": 200000}])
    second = second["number"]
    _to_scheduled(api_as, second)
    before = sales.get(f"/api/orders/{second}").json()
    snapshots = Snapshot.objects.count()
    reservations = Reservation.objects.count()

    resp = planner.post(f"/api/orders/{second}/transition", {"to": "materials_ready"},
                        headers={"Accept-Language": "en"})
    assert resp.status_code == 409
    body = resp.json()
    assert body["code"] == "blocked"
    reasons = {r["data"]["sku"]: r for r in body["reasons"]}
    # two shortages: 40 kg of 6061 bar (80 in stock, 60 held) and 100000 bolts
    assert set(reasons) == {"AL6061-BAR", "M8X30"}
    assert all(r["code"] == "bom_kitted" and r["message"] for r in body["reasons"])
    assert reasons["AL6061-BAR"]["data"]["missing"] == "40.0000" or \
        Decimal(reasons["AL6061-BAR"]["data"]["missing"]) == 40
    assert "40" in reasons["AL6061-BAR"]["message"]
    assert reasons["AL6061-BAR"]["data"]["substitutes"][0]["sku"] == "AL6063-BAR"
    assert body["order"]["stage"] == "scheduled"
    assert body["message"] == body["reasons"][0]["message"]

    after = sales.get(f"/api/orders/{second}").json()
    assert after["stage"] == "scheduled" and after["version"] == before["version"]
    assert after["status"] == "open" and not after["forced"]
    assert {r["code"] for r in after["blocked_reasons"]} == {"bom_kitted"}
    assert Snapshot.objects.count() == snapshots
    assert Reservation.objects.count() == reservations
    assert _reserved(company["bar"]) == Decimal("60")
    events = sales.get(f"/api/orders/{second}/events").json()
    assert events[-1]["action"] == "order.blocked"


def test_override_needs_permission_and_reason_and_flags_the_order(api_as, company):
    number = _create(api_as("sales"), lines=[{"sku": "HSG-100", "qty": 200}])["number"]
    _to_scheduled(api_as, number)
    blocked = api_as("planner").post(f"/api/orders/{number}/transition", {"to": "materials_ready"})
    assert blocked.status_code == 409

    resp = api_as("planner").post(f"/api/orders/{number}/override",
                                  {"to": "materials_ready", "reason": "急单"})
    assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
    for body in ({"to": "materials_ready"}, {"to": "materials_ready", "reason": "   "}):
        resp = api_as("manager").post(f"/api/orders/{number}/override", body)
        assert resp.status_code == 422, body
        assert "reason" in _fields(resp)
    assert api_as("sales").get(f"/api/orders/{number}").json()["stage"] == "scheduled"

    resp = api_as("manager").post(f"/api/orders/{number}/override",
                                  {"to": "materials_ready", "reason": "客户急单, 替代料已确认"})
    assert resp.status_code == 200, resp.content
    order = resp.json()
    assert order["forced"] is True and order["stage"] == "materials_ready"
    assert next(s for s in order["stages"] if s["code"] == "materials_ready")["forced"] is True
    last = api_as("manager").get(f"/api/orders/{number}/events").json()[-1]
    assert last["action"] == "order.forced" and last["forced"] is True
    assert last["reason"] == "客户急单, 替代料已确认"
    assert _reserved(company["bar"]) == Decimal("80")


def test_hold_resume_and_cancel(api_as, company):
    number = _create(api_as("sales"))["number"]
    resp = api_as("finance").post(f"/api/orders/{number}/hold", {})
    assert resp.status_code == 422 and "reason" in _fields(resp)
    resp = api_as("warehouse").post(f"/api/orders/{number}/hold", {"reason": "x"})
    assert resp.status_code == 403

    resp = api_as("finance").post(f"/api/orders/{number}/hold", {"reason": "税号错误"})
    assert resp.status_code == 200
    assert resp.json()["on_hold"] is True and resp.json()["hold_reason"] == "税号错误"
    assert api_as("finance").post(f"/api/orders/{number}/hold", {"reason": "again"}).status_code == 409

    resp = api_as("service").post(f"/api/orders/{number}/transition", {"to": "scheduled"})
    assert resp.status_code == 409
    assert resp.json()["code"] == "blocked"
    assert [r["code"] for r in resp.json()["reasons"]] == ["on_hold"]

    resp = api_as("finance").post(f"/api/orders/{number}/resume", {"reason": "税号已更正"})
    assert resp.status_code == 200 and resp.json()["on_hold"] is False
    assert api_as("finance").post(f"/api/orders/{number}/resume", {}).status_code == 409
    _to_scheduled(api_as, number)
    assert api_as("planner").post(f"/api/orders/{number}/transition",
                                  {"to": "materials_ready"}).status_code == 200
    assert _reserved(company["bar"]) == Decimal("60")

    assert api_as("sales").post(f"/api/orders/{number}/cancel", {"reason": "x"}).status_code == 403
    resp = api_as("manager").post(f"/api/orders/{number}/cancel", {"reason": ""})
    assert resp.status_code == 422 and "reason" in _fields(resp)
    resp = api_as("manager").post(f"/api/orders/{number}/cancel", {"reason": "客户取消"})
    assert resp.status_code == 200
    assert resp.json()["status"] == "cancelled" and resp.json()["next_stages"] == []
    assert _reserved(company["bar"]) == Decimal("0")
    assert api_as("manager").post(f"/api/orders/{number}/cancel",
                                  {"reason": "again"}).status_code == 409


def test_patch_changes_header_fields_and_refuses_bad_ones(api_as):
    sales = api_as("sales")
    number = _create(sales)["number"]
    resp = sales.patch(f"/api/orders/{number}", {"urgency": "red", "tags": ["急", "急"],
                                                 "promised_date": "2026-12-18",
                                                 "reason": "客户来电催货"})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["urgency"] == "red" and body["tags"] == ["急"]
    assert body["promised_date"] == "2026-12-18" and body["version"] == 2

    for bad, field in [({"required_date": None}, "required_date"), ({"remarks": None}, "remarks"),
                       ({"tags": None}, "tags"), ({"urgency": None}, "urgency"),
                       ({"urgency": "purple"}, "urgency"), ({"required_date": "2026-02-30"}, "required_date"),
                       ({"status": "completed"}, "status"), ({"customer": "C002"}, "customer"),
                       ({"tags": "急"}, "tags")]:
        resp = sales.patch(f"/api/orders/{number}", bad)
        assert resp.status_code == 422, (bad, resp.content)
        assert field in _fields(resp), (bad, resp.json())
    resp = sales.patch(f"/api/orders/{number}", {"urgency": "red"})
    assert resp.status_code == 409 and resp.json()["code"] == "no_change"
    resp = api_as("warehouse").patch(f"/api/orders/{number}", {"urgency": "yellow"})
    assert resp.status_code == 403
    resp = sales.patch("/api/orders/SO-000000-999999", {"urgency": "yellow"})
    assert resp.status_code == 404
    after = sales.get(f"/api/orders/{number}").json()
    assert after["version"] == 2 and after["urgency"] == "red"
    assert after["required_date"] == "2026-12-20" and after["remarks"] == ""


# --------------------------------------------------------------------------- audit


def test_events_record_who_when_where_what_and_chain(api_as):
    sales = api_as("sales")
    hdr = {"X-Request-ID": "req-create-1", "User-Agent": "ERP-Connector/2.1"}
    number = sales.post("/api/orders", order_body(), headers=hdr).json()["number"]
    resp = sales.patch(f"/api/orders/{number}", {"urgency": "red", "reason": "客户来电催货"},
                       headers={"X-Request-ID": "req-patch-2", "User-Agent": "ERP-Connector/2.2"})
    assert resp.status_code == 200
    assert resp["X-Request-ID"] == "req-patch-2"
    api_as("service").post(f"/api/orders/{number}/transition", {"to": "scheduled", "reason": "排产"},
                           headers={"X-Request-ID": "req-move-3"})

    # where each change came from (IP address, browser) is for roles that may see it
    resp = api_as("manager").get(f"/api/orders/{number}/events")
    assert resp.status_code == 200
    events = resp.json()
    assert [(e["ip"], e["user_agent"]) for e in sales.get(f"/api/orders/{number}/events").json()] == \
        [(None, "")] * 3
    assert [e["action"] for e in events] == ["order.created", "order.updated", "order.transitioned"]
    assert [e["seq"] for e in events] == [1, 2, 3]
    created, updated, moved = events
    assert created["actor"] == "api:test-sales" and created["actor_kind"] == "api_client"
    assert created["ip"] == "127.0.0.1"
    assert created["user_agent"] == "ERP-Connector/2.1" and created["request_id"] == "req-create-1"
    assert updated["user_agent"] == "ERP-Connector/2.2" and updated["request_id"] == "req-patch-2"
    assert moved["request_id"] == "req-move-3" and moved["actor"] == "api:test-service"
    for ev in events:
        assert datetime.fromisoformat(ev["at"]).tzinfo is not None
    assert updated["changes"]["urgency"] == ["green", "red"]
    assert updated["changes"]["version"] == [1, 2]
    assert updated["reason"] == "客户来电催货"
    assert moved["changes"]["stage"] == ["pending", "scheduled"] and moved["reason"] == "排产"
    assert created["prev_hash"] == ""
    for prev, ev in zip(events, events[1:], strict=False):
        assert ev["prev_hash"] == prev["hash"] and len(ev["hash"]) == 64
    assert sales.get("/api/orders/SO-000000-999999/events").status_code == 404


def test_snapshots_hash_their_canonical_content(api_as):
    sales = api_as("sales")
    number = _create(sales, remarks="首单 \"引号\" ✓")["number"]
    _to_scheduled(api_as, number)
    resp = sales.get(f"/api/orders/{number}/snapshots")
    assert resp.status_code == 200
    snaps = resp.json()
    assert [(s["version"], s["stage"]) for s in snaps] == [(1, "pending"), (2, "scheduled")]
    for s in snaps:
        assert s["sha256"] == sha256_hex(canonical_json(s["content"]))
        assert s["content"]["number"] == number and s["content"]["version"] == s["version"]
    assert snaps[0]["content"]["remarks"] == "首单 \"引号\" ✓"
    assert snaps[0]["content"]["lines"][0]["qty"] == "100"
    assert snaps[0]["sha256"] != snaps[1]["sha256"]
    assert sales.get("/api/orders/SO-000000-999999/snapshots").status_code == 404


# --------------------------------------------------------------------------- money


def test_decimal_money_is_exact(api_as):
    sales = api_as("manager")  # sets prices other than the list price (orders.change_price)
    body = _create(sales, lines=[{"sku": "M8X30", "qty": 3, "unit_price": 0.1}])
    assert body["total_amount"] == "0.30"
    assert body["lines"][0]["amount"] == "0.30"
    assert Decimal(body["lines"][0]["unit_price"]) == Decimal("0.1")
    # ten lines of 0.1 add up to exactly 1.00; a price with 4 decimals is kept to the cent
    tenth = {"sku": "M8X30", "qty": 1, "unit_price": 0.1}  # sent as the JSON number 0.1
    assert json.dumps(order_body(lines=[tenth])).count('"unit_price": 0.1}') == 1
    assert _create(sales, lines=[tenth] * 10)["total_amount"] == "1.00"
    body = _create(sales, lines=[{"sku": "M8X30", "qty": "1.5", "unit_price": "0.0333"}])
    assert body["total_amount"] == "0.05"  # 0.04995 rounds half up
    assert Order.objects.get(number=body["number"]).total_amount == Decimal("0.05")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("body, status, field", [
    (order_body(customer="NOPE"), 422, "customer"),
    (order_body(lines=[{"sku": "XX-9", "qty": 1}]), 422, "lines[0].sku"),
    (order_body(lines=[{"sku": "HSG-100", "qty": -1}]), 422, "lines[0].qty"),
    (order_body(lines=[{"sku": "HSG-100", "qty": 0}]), 422, "lines[0].qty"),
    (order_body(lines=[{"sku": "HSG-100", "qty": "abc"}]), 422, "lines[0].qty"),
    (order_body(lines=[{"sku": "HSG-100", "qty": None}]), 422, "lines[0].qty"),
    (order_body(lines=[{"sku": "HSG-100", "qty": True}]), 422, "lines[0].qty"),
    (order_body(lines=[{"sku": "HSG-100", "qty": "NaN"}]), 422, "lines[0].qty"),
    (order_body(lines=[{"sku": "HSG-100", "qty": "Infinity"}]), 422, "lines[0].qty"),
    (order_body(lines=[{"sku": "HSG-100", "qty": "1e400"}]), 422, "lines[0].qty"),
    (order_body(lines=[{"sku": "HSG-100", "qty": "123456789012.3456"}]), 422, "lines[0].qty"),
    (order_body(lines=[{"sku": "HSG-100", "qty": "1.23456"}]), 422, "lines[0].qty"),
    (order_body(lines=[{"sku": "HSG-100", "qty": 1, "unit_price": -0.01}]), 422, "lines[0].unit_price"),
    (order_body(lines=[{"sku": "HSG-100", "qty": 1, "unit_price": "1234567890123.5"}]), 422,
     "lines[0].unit_price"),
    (order_body(lines=[{"sku": "HSG-100", "qty": 1, "unit": "桶"}]), 422, "lines[0].unit"),
    (order_body(required_date="2026-02-30"), 422, "required_date"),
    (order_body(required_date="tomorrow"), 422, "required_date"),
    (order_body(required_date="0001-01-01", promised_date="0001-01-01"), 422, "required_date"),
    (order_body(promised_date="2026-13-01"), 422, "promised_date"),
    (order_body(lines=[]), 422, "lines"),
    (order_body(lines={"sku": "HSG-100", "qty": 1}), 422, "lines"),
    (order_body(urgency="purple"), 422, "urgency"),
    (order_body(channel="Bad Channel!"), 422, "channel"),
    (order_body(workflow="T9"), 422, "workflow"),
    (order_body(owner="nobody"), 422, "owner"),
    (order_body(customer="C0\x0001"), 422, "customer"),
    (order_body(remarks="a\x00b"), 422, "remarks"),
    (order_body(tags=["ok", "x" * 100]), 422, "tags[1]"),
    (order_body(unknown_field=1), 422, "unknown_field"),
    ({k: v for k, v in order_body().items() if k != "customer"}, 422, "customer"),
    ([order_body()], 422, ""),
    ("an order", 422, ""),
    (None, 422, ""),
])
def test_bad_order_input_is_a_4xx_naming_the_field_and_writes_nothing(api_as, body, status, field):
    sales = api_as("sales")
    resp = sales.post("/api/orders", raw=json.dumps(body))
    assert resp.status_code == status, resp.content
    err = resp.json()
    assert err["code"] and err["message"]
    if field:
        assert field in _fields(resp), err
    assert Order.objects.count() == 0


def test_pydantic_errors_name_the_field_in_the_message(api_as):
    resp = api_as("sales").post("/api/orders", order_body(lines=[{"sku": "HSG-100", "qty": "abc"}]),
                                headers={"Accept-Language": "en"})
    assert resp.status_code == 422
    assert "lines[0].qty" in resp.json()["message"]
    resp = api_as("sales").post("/api/orders", order_body(customer="NOPE"),
                                headers={"Accept-Language": "en"})
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid"
    assert "NOPE" in resp.json()["message"] and "customer" in resp.json()["message"].lower()


def test_unicode_that_cannot_be_stored_is_refused(api_as):
    sales = api_as("sales")
    raw = json.dumps(order_body(remarks="x")).replace('"x"', '"\\ud800"')
    resp = sales.post("/api/orders", raw=raw)
    assert resp.status_code == 422 and "remarks" in _fields(resp)
    resp = sales.post("/api/orders", raw=b"\xff\xfe{not utf-8")
    assert resp.status_code == 400 and resp.json()["code"] == "malformed"
    assert Order.objects.count() == 0


@pytest.mark.parametrize("raw", ['{"customer": "C001",', "{'customer': 'C001'}", "not json", "{}}",
                                 '{"customer": "C001", "lines": [}'])
def test_malformed_json_is_400(api_as, raw):
    resp = api_as("sales").post("/api/orders", raw=raw)
    assert resp.status_code == 400
    assert resp.json()["code"] == "malformed"
    assert Order.objects.count() == 0


def test_deeply_nested_json_is_not_a_500(api_as):
    resp = api_as("sales").post("/api/orders", raw="[" * 100000 + "]" * 100000)
    assert 400 <= resp.status_code < 500
    assert Order.objects.count() == 0


def test_oversized_body_is_413(api_as):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = order_body(remarks="x" * (limit + 10))
    resp = api_as("sales").post("/api/orders", body)
    assert resp.status_code == 413
    assert resp.json()["code"] == "too_large"
    assert Order.objects.count() == 0
    # also on the other write endpoints
    number = _create(api_as("sales"))["number"]
    resp = api_as("sales").patch(f"/api/orders/{number}", {"remarks": "y" * (limit + 10)})
    assert resp.status_code == 413
    assert Order.objects.get().remarks == ""


@pytest.mark.parametrize("line, status", [
    ({"sku": "HSG-100", "qty": "99999999999.9999", "unit_price": "99999999999.9999"}, 422),
    ({"sku": "HSG-100", "qty": "99999999999"}, 201),  # × list price 120 = 1.2e13: fits
    ({"sku": "M8X30", "qty": "99999999999", "unit": "吨"}, 422),  # 5.7e15 pieces: beyond the column
    ({"sku": "HSG-100", "qty": "1", "unit_price": "99999999999.9999"}, 201),
])
def test_numbers_too_large_to_store_are_refused_whole_never_500(api_as, line, status):
    resp = api_as("manager").post("/api/orders", order_body(lines=[line]))  # may set prices
    assert resp.status_code == status, resp.content
    if status == 422:
        body = resp.json()
        assert body["code"] == "invalid"
        assert {e["field"] for e in body["errors"]} & {"lines[0].qty", "lines[0].unit_price"}
        assert Order.objects.count() == 0
    else:  # what was accepted reads back exactly
        order = Order.objects.get()
        assert order.lines.get().qty == Decimal(line["qty"])
        assert resp.json()["total_amount"] == str(order.total_amount)
        assert Decimal(resp.json()["total_amount"]) == (
            Decimal(line["qty"]) * Decimal(line.get("unit_price", "120"))).quantize(Decimal("0.01"))


# strings that have broken JSON APIs before: NUL, lone surrogates, huge or odd numbers, bad dates
_nasty = st.sampled_from(["", " ", "\x00", "C001\x00", "\ud800", "1e999999", "-1e-999999", "NaN",
                          "Infinity", "-0", "9" * 40, "0.1", "2026-02-30", "0001-01-01",
                          "9999-12-31", "吨", "null", "[]", "{}"])
_json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
                 | st.text(max_size=20) | st.decimals(allow_nan=False).map(str) | _nasty)
_json = st.recursive(_json_scalars,
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                     max_leaves=20)
def _v(specific):
    """A field value: usually plausible, often nasty, sometimes any JSON at all."""
    return specific | _nasty | _json


_line = st.fixed_dictionaries({}, optional={
    "sku": _v(st.sampled_from(["HSG-100", "M8X30", "AL6061-BAR", "NOPE"])),
    "qty": _v(st.decimals(allow_nan=True, allow_infinity=True).map(str) | st.integers()),
    "unit": _v(st.sampled_from(["件", "kg", "吨", "t", "桶"])),
    "unit_price": _v(st.decimals(allow_nan=False, allow_infinity=False).map(str)),
    "remarks": _v(st.text(max_size=10)),
})
_order_like = st.fixed_dictionaries({}, optional={
    "customer": _v(st.sampled_from(["C001", "NOPE"])),
    "lines": _v(st.lists(_line, max_size=3)),
    "required_date": _v(st.dates().map(str)),
    "promised_date": _v(st.dates().map(str)),
    "urgency": _v(st.sampled_from(["red", "green", "purple"])),
    "channel": _v(st.sampled_from(["api", "wechat", "X"])),
    "external_ref": _v(st.sampled_from(["R1", "R2"])),
    "tags": _v(st.lists(st.text(max_size=5) | _nasty, max_size=3)),
    "workflow": _v(st.sampled_from(["T1", "T2", "T9"])),
    "owner": _v(st.sampled_from(["sales", "nobody"])),
    "remarks": _v(st.text(max_size=10)),
})
_ORDER_KEYS = ["customer", "lines", "required_date", "promised_date", "urgency", "channel",
               "external_ref", "tags", "workflow", "owner", "remarks"]
_LINE_KEYS = ["sku", "qty", "unit", "unit_price", "remarks"]


@st.composite
def _mutated_valid_order(draw):
    """A valid order with one to three values replaced (or removed): reaches the services."""
    body = order_body(lines=[{"sku": "M8X30", "qty": 10, "unit": "件", "unit_price": "0.1",
                              "remarks": "r"}], channel="api", external_ref=draw(
        st.sampled_from(["R1", "R2", "R3"])), promised_date="2026-12-18", urgency="green",
        tags=["t"], remarks="r")
    for _ in range(draw(st.integers(1, 3))):
        lines = body.get("lines")
        if isinstance(lines, list) and lines and isinstance(lines[0], dict) and draw(st.booleans()):
            target, key = lines[0], draw(st.sampled_from(_LINE_KEYS))
        else:
            target, key = body, draw(st.sampled_from(_ORDER_KEYS))
        if draw(st.integers(0, 9)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(st.one_of(_nasty, _nasty, _json, st.text(max_size=8)))
    return body


@pytest.mark.django_db(transaction=False)
@hsettings(max_examples=100, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.one_of(_mutated_valid_order(), _mutated_valid_order(), _order_like, _json))
def test_fuzzed_bodies_never_cause_a_5xx(api_as, body):
    client = api_as("sales")
    resp = client.post("/api/orders", raw=json.dumps(body))
    assert resp.status_code < 500, (body, resp.content)
    assert resp["Content-Type"].startswith("application/json")
    assert resp.json().get("code") or resp.status_code in (200, 201)


def test_created_answer_is_the_order_as_stored(api_as):
    """201 is built from what was written; it must equal a fresh read of the order."""
    client = api_as("sales")
    created = client.post("/api/orders", order_body(external_ref="SAME-AS-READ")).json()
    read = client.get(f"/api/orders/{created['number']}").json()
    assert created == read

"""Editing an order's header and ship-to (issue 14.3): through the order service, audited with
a snapshot, from the API and the web page, and refused once the order's stage locks edits."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from orderhub.catalog.models import CustomerAddress
from orderhub.core.models import AuditEvent
from orderhub.orders import services
from orderhub.orders.models import Order, Snapshot
from orderhub.workflow.services import compiled
from tests.api.conftest import order_body
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def _create(client, **overrides) -> dict:
    resp = client.post("/api/orders", order_body(**overrides))
    assert resp.status_code == 201, resp.content
    return resp.json()


def test_ship_to_defaults_from_the_customers_default_address(api_as, company):
    CustomerAddress.objects.create(customer=company["customer"], label="厂区", address="苏州工业园区星湖街 1 号",
                                   receiver="王工", phone="13800000000", is_default=True)
    body = _create(api_as("sales"))
    assert (body["ship_to_contact"], body["ship_to_phone"], body["ship_to_address"]) == (
        "王工", "13800000000", "苏州工业园区星湖街 1 号")
    assert body["edit_refusal"] is None


def test_patch_keeps_a_snapshot_and_an_event_with_before_and_after(api_as):
    sales = api_as("sales")
    number = _create(sales)["number"]
    order = Order.objects.get(number=number)
    before = Snapshot.objects.filter(order=order).count()
    resp = sales.patch(f"/api/orders/{number}", {"ship_to_address": "上海市嘉定区 88 号", "ship_to_contact": "李四",
                                                 "urgency": "yellow", "reason": "客户改了收货地"})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["ship_to_address"] == "上海市嘉定区 88 号" and body["version"] == 2
    snaps = list(Snapshot.objects.filter(order=order).order_by("version"))
    assert len(snaps) == before + 1 and snaps[-1].version == 2
    content = json.loads(snaps[-1].content)
    assert content["ship_to"]["address"] == "上海市嘉定区 88 号" and content["urgency"] == "yellow"
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("-seq").first()
    assert ev.action == "order.updated" and ev.reason == "客户改了收货地"
    assert ev.changes["ship_to_address"] == ["", "上海市嘉定区 88 号"]
    assert ev.changes["version"] == [1, 2]
    # the snapshot list of the API shows it too
    assert [s["version"] for s in sales.get(f"/api/orders/{number}/snapshots").json()][-1] == 2


def test_ship_to_text_is_checked(api_as):
    sales = api_as("sales")
    number = _create(sales)["number"]
    for bad, field in [({"ship_to_phone": "1" * 33}, "ship_to_phone"),
                       ({"ship_to_address": "a\x07b"}, "ship_to_address"),
                       ({"ship_to_contact": None}, "ship_to_contact")]:
        resp = sales.patch(f"/api/orders/{number}", bad)
        assert resp.status_code == 422, (bad, resp.content)
        assert field in {e["field"] for e in resp.json()["errors"]}


def _walk_to(number: str, stage: str, actor) -> None:
    order = Order.objects.get(number=number)
    while order.stage != stage:
        to = compiled(order.workflow_id).stage(order.stage).spec.next[0]
        result = services.order_override(order=number, to=to, actor=actor, reason="测试")
        assert result.ok, result.reasons
        order = result.order


def test_a_stage_that_locks_edits_refuses_them_and_says_why(api_as, company):
    admin = company["actors"]["admin"]
    number = services.order_create(data=order_input(workflow="T2"), actor=admin).order.number
    _walk_to(number, "shipped", admin)
    sales = api_as("sales")
    body = sales.get(f"/api/orders/{number}").json()
    assert "已出库" in body["edit_refusal"]
    resp = sales.patch(f"/api/orders/{number}", {"urgency": "red"})
    assert resp.status_code == 409 and resp.json()["code"] == "not_editable"
    assert "已出库" in resp.json()["message"]
    assert Order.objects.get(number=number).urgency == "green"


def test_a_cancelled_order_cannot_be_edited(api_as, company):
    sales = api_as("sales")
    number = _create(sales)["number"]
    services.order_cancel(order=number, actor=company["actors"]["admin"], reason="客户取消")
    resp = sales.patch(f"/api/orders/{number}", {"remarks": "改"})
    assert resp.status_code == 409 and resp.json()["code"] == "not_editable"


def _web(company, role: str) -> Client:
    c = Client()
    c.force_login(company["users"][role])
    return c


def test_the_edit_page_saves_through_the_service(company):
    number = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order.number
    c = _web(company, "sales")
    detail = c.get(f"/orders/{number}/").content.decode()
    assert f"/orders/{number}/edit" in detail
    page = c.get(f"/orders/{number}/edit")
    assert page.status_code == 200 and "收货" in page.content.decode()
    resp = c.post(f"/orders/{number}/edit", {
        "required_date": "2026-12-22", "promised_date": "", "urgency": "red", "remarks": "提前发",
        "tags": "#加急 出口", "ship_to_contact": "赵六", "ship_to_phone": "021-5555", "ship_to_address": "宁波北仑",
        "reason": "电话确认"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    order = Order.objects.get(number=number)
    assert (order.urgency, order.tags, order.ship_to_address, str(order.required_date)) == (
        "red", ["出口", "加急"], "宁波北仑", "2026-12-22")
    assert Snapshot.objects.filter(order=order, version=order.version).exists()
    # every error at once, nothing saved
    resp = c.post(f"/orders/{number}/edit", {"required_date": "bad", "urgency": "purple",
                                              "ship_to_phone": "9" * 40})
    assert resp.status_code == 400
    html = resp.content.decode()
    assert html.count("invalid-feedback") >= 3
    assert Order.objects.get(number=number).version == order.version


def test_the_edit_page_explains_a_locked_order(company):
    admin = company["actors"]["admin"]
    number = services.order_create(data=order_input(workflow="T2"), actor=admin).order.number
    _walk_to(number, "shipped", admin)
    c = _web(company, "sales")
    assert "已出库" in c.get(f"/orders/{number}/").content.decode()
    resp = c.post(f"/orders/{number}/edit", {"required_date": "2026-12-22", "urgency": "red"})
    assert resp.status_code == 409 and "已出库" in resp.content.decode()

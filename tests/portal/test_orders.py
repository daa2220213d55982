"""My orders: the list and its search, the order page with the stage under its customer-facing
name (workflow ``customer_label`` / ``customer_note`` / ``hidden``), the ETA and how it moved,
the last update, and nothing internal (prices, remarks, staff)."""

from __future__ import annotations

import copy
import re
from datetime import date

import pytest
from django.test import Client

from orderhub.core.actors import Actor
from orderhub.orders.services import order_override, order_update
from orderhub.portal.models import Visit
from orderhub.workflow.services import current_definition, workflow_save
from orderhub.workflow.spec import compile_workflow

from .conftest import sign_in

pytestmark = pytest.mark.django_db


def _labelled_t1(actor):
    spec = copy.deepcopy(current_definition("T1").spec)
    for st in spec["stages"]:
        if st["code"] == "scheduled":
            st["customer_label"] = "已安排生产"
            st["customer_note"] = "我们已为您的订单安排了生产计划。"
        if st["code"] == "materials_ready":
            st["hidden"] = True
    return workflow_save(data=spec, actor=actor, note="customer labels")


def test_stage_for_customer_defaults_labels_and_hidden(company):
    from orderhub.portal.selectors import stage_for_customer

    wf = compile_workflow(_labelled_t1(company["actors"]["admin"]).spec)
    first = stage_for_customer(wf, "pending")
    assert first.label == "待确认" and "已收到您的订单" in first.note          # the defaults
    assert stage_for_customer(wf, "scheduled").label == "已安排生产"
    hidden = stage_for_customer(wf, "materials_ready", ["pending", "scheduled"])
    assert hidden.label == "已安排生产" and hidden.note == "我们已为您的订单安排了生产计划。"
    assert stage_for_customer(wf, "materials_ready", []).label == "处理中"
    assert "订单已完成" in stage_for_customer(wf, "shipped").note
    assert stage_for_customer(wf, "machining").label == "加工中"


def test_a_spec_refuses_a_customer_label_too_long(company):
    from orderhub.core.errors import DomainError

    spec = copy.deepcopy(current_definition("T1").spec)
    spec["stages"][0]["customer_label"] = "长" * 41
    with pytest.raises(DomainError):
        workflow_save(data=spec, actor=company["actors"]["admin"])


def test_order_page_shows_the_customer_view_and_nothing_internal(two_customers, mail_endpoint,
                                                                 django_capture_on_commit_callbacks):
    admin = company_admin = Actor.system("test")
    _labelled_t1(company_admin)
    from orderhub.orders.services import order_create
    from tests.conftest import order_input

    order = order_create(data=order_input(customer="C001", external_ref="PO-778", remarks="客户难缠，注意成本",
                                          required_date=date(2027, 4, 1)), actor=admin).order
    order_override(order=order.number, to="scheduled", actor=admin, reason="测试")
    order_override(order=order.number, to="materials_ready", actor=admin, reason="测试")
    order_update(order=order.number, changes={"promised_date": date(2027, 4, 5)}, actor=admin)
    order_update(order=order.number, changes={"promised_date": date(2027, 4, 9)}, actor=admin)
    c = Client()
    sign_in(c, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    resp = c.get(f"/portal/orders/{order.number}/")
    assert resp.status_code == 200
    page = resp.content.decode()
    stage = re.search(r'data-testid="portal-stage">([^<]+)<', page).group(1)
    assert stage == "已安排生产"                                     # materials_ready is hidden
    assert "我们已为您的订单安排了生产计划。" in page
    assert "2027-04-09" in page and "承诺交期" in page
    moves = re.search(r'data-testid="portal-eta-moves">(.*?)</ul>', page, re.S).group(1)
    assert "未定 → 2027-04-05" in moves and "2027-04-05 → 2027-04-09" in moves
    assert "PO-778" in page and "传感器壳体" in page
    timeline = re.findall(r"<li class=\"list-group-item d-flex justify-content-between\"><span>([^<]+)</span><span class=\"text-secondary",
                          page)
    assert timeline == ["待确认", "已安排生产"]
    for secret in ("客户难缠", "注意成本", "120.00", "360", "物料齐套", "测试", "planner", "admin"):
        assert secret not in page, secret
    assert Visit.objects.filter(order=order, kind="portal").count() == 1
    listed = c.get("/portal/", {"q": "PO-778"}).content.decode()
    assert re.search(r'<span class="badge bg-primary-lt">已安排生产</span>', listed)   # the list agrees
    api = c.get(f"/api/portal/me/orders/{order.number}").json()
    assert api["stage"] == "已安排生产" and api["eta"] == "2027-04-09" and len(api["eta_moves"]) == 2
    assert not ({"total_amount", "remarks", "unit_price", "owner", "created_by", "tags"} & set(api))
    assert "客户难缠" not in str(api)


def test_list_and_search_are_the_customers_own(two_customers, mail_endpoint, django_capture_on_commit_callbacks):
    c = Client()
    sign_in(c, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    mine = {o.number for o in two_customers["orders"]["A"]}
    theirs = {o.number for o in two_customers["orders"]["B"]}
    page = c.get("/portal/").content.decode()
    shown = set(re.findall(r'data-number="([^"]+)"', page))
    assert shown == mine
    found = set(re.findall(r'data-number="([^"]+)"', c.get("/portal/", {"q": "PO-A-1"}).content.decode()))
    assert found == {two_customers["orders"]["A"][1].number}
    assert set(re.findall(r'data-number="([^"]+)"', c.get("/portal/", {"q": "PO-B"}).content.decode())) == set()
    data = c.get("/api/portal/me/orders").json()
    assert {r["number"] for r in data["results"]} == mine and data["count"] == 2
    assert not theirs & {r["number"] for r in c.get("/api/portal/me/orders", {"q": "SO"}).json()["results"]}

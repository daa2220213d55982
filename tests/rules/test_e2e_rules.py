"""In Chromium: an administrator writes a rule (the fault shown under its field, then saved),
and a salesperson sees an order's deadline, escalation ladder and tickets and opens one."""

from datetime import date

import pytest
from playwright.sync_api import expect

from orderhub.orders.models import Ticket
from orderhub.orders.services import order_create, order_transition
from orderhub.rules.models import Rule
from tests.conftest import order_input

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def _login(page, base: str, role: str):
    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill(role)
    page.get_by_label("密码").fill("pw-" + role)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()


def test_rule_editor_and_order_escalation_in_a_browser(company, live_server, browser, shot):
    a = company["actors"]
    order = order_create(data=order_input(workflow="T4", required_date=date(2027, 3, 1)), actor=a["sales"]).order
    for to, who in (("design", "sales"), ("quote_confirmed", "designer"), ("material_purchase", "sales")):
        assert order_transition(order=order.number, to=to, actor=a[who]).ok
    base = live_server.url
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, base, "admin")
        page.goto(f"{base}/rules/new/")
        page.locator("#f-name").fill("big_order")
        page.get_by_test_id("condition").fill("totl > 50000")
        page.get_by_test_id("rule-save").click()
        expect(page.get_by_test_id("rule-errors")).to_be_visible()
        fault = page.locator("#f-cond ~ .invalid-feedback")
        expect(fault).to_contain_text("totl")
        shot(page, "rule-editor-fault")
        page.get_by_test_id("condition").fill("total > 50000")
        page.get_by_test_id("rule-save").click()
        expect(page.locator(".invalid-feedback", has_text="规则至少要有一个动作。")).to_be_visible()
        # the box at the top lists the fault too, linking to the actions
        expect(page.get_by_test_id("rule-fault-list").get_by_role("link", name="操作")).to_have_attribute(
            "href", "#f-action-rows")
        page.locator("#a-0-type").select_option("add_tag")
        page.locator("[name=a-0-tag]").fill("大单")
        page.get_by_test_id("rule-save").click()
        expect(page.get_by_text("规则 big_order 已保存。")).to_be_visible()
        assert Rule.objects.get(name="big_order").condition == "total > 50000"

        page.goto(f"{base}/orders/{order.number}/")
        steps = page.get_by_test_id("escalation-steps")
        expect(steps).to_contain_text("not_started_72h")
        expect(steps).to_contain_text("untouched_48h")
        expect(page.get_by_test_id("due-state")).to_have_attribute("data-state", "on_track")
        page.get_by_text("开工单").first.click()
        page.get_by_label("标题").fill("板材色差")
        page.get_by_label("负责角色").select_option("production")
        page.get_by_test_id("ticket-open").click()
        expect(page.get_by_test_id("ticket-title")).to_have_text("板材色差")
        shot(page, "ticket-page")
        assert Ticket.objects.get(order=order).owner_role == "production"
    finally:
        ctx.close()

"""Issue 15.2 in a real browser: sales raises a change request from the order page (申请变更: a
date and a quantity in one form), sees its impact and the frozen order; the stage's owner cannot
move it ("变更审批中"), approves with a comment, finance approves, and the order is version 2,
no longer frozen. Every visible word on these pages is Chinese."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orderhub.orders import services
from orderhub.orders.models import ChangeRequest, Order
from tests.conftest import order_input
from tests.e2e.visible import VISIBLE_TEXT_JS, offending_tokens

pytestmark = [pytest.mark.django_db(transaction=True)]


def _login(browser, base: str, role: str):
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill(role)
    page.get_by_label("密码").fill("pw-" + role)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()
    return ctx, page


def _chinese(page) -> None:
    text = page.evaluate(VISIBLE_TEXT_JS)
    assert offending_tokens(text, allowed=frozenset({"sales", "service", "finance"})) == [], page.url


def _decide(browser, base: str, role: str, number: str, comment: str, shot=None) -> None:
    ctx, page = _login(browser, base, role)
    try:
        page.goto(f"{base}/orders/{number}/")
        expect(page.get_by_test_id("frozen")).to_contain_text("变更审批中")
        page.get_by_test_id("frozen-link").click()
        expect(page.get_by_test_id("cr-impact")).to_be_visible()
        _chinese(page)
        if shot:
            shot(page, "change-request-impact")
        page.locator("#id_comment").fill(comment)
        page.get_by_test_id("cr-approve").click()
        expect(page.get_by_test_id("cr-decisions")).to_contain_text(comment)
    finally:
        ctx.close()


def test_raise_see_frozen_approve(company, live_server, browser, shot):
    number = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order.number
    base = live_server.url
    ctx, page = _login(browser, base, "sales")
    try:
        page.goto(f"{base}/orders/{number}/")
        page.get_by_test_id("request-change").click()
        expect(page.get_by_test_id("change-request-form")).to_be_visible()
        _chinese(page)
        page.locator("#id_required_date").fill("2099-03-15")
        page.locator("input[name=qty-1]").fill("8")
        page.locator("#id_reason").fill("客户电话要求加量并推迟")
        page.get_by_test_id("submit-change-request").click()
        expect(page.get_by_test_id("cr-status")).to_contain_text("变更审批中")
        expect(page.get_by_test_id("cr-credit")).to_contain_text("订单金额")
        _chinese(page)
        page.goto(f"{base}/orders/{number}/")
        expect(page.get_by_test_id("frozen")).to_contain_text("变更审批中")
        expect(page.get_by_test_id("request-change")).to_have_count(0)
        _chinese(page)
    finally:
        ctx.close()
    cr = ChangeRequest.objects.get(order__number=number)
    assert cr.status == "pending" and cr.approvers == ["service", "finance"]

    # the stage's owner cannot move the frozen order: the reason in Chinese
    ctx, page = _login(browser, base, "service")
    try:
        page.goto(f"{base}/orders/{number}/")
        page.get_by_test_id("move-scheduled").click()
        expect(page.locator("body")).to_contain_text("变更审批中")
        assert Order.objects.get(number=number).stage == "pending"
    finally:
        ctx.close()
    _decide(browser, base, "service", number, "客户已书面确认", shot)
    _decide(browser, base, "finance", number, "额度足够")
    order = Order.objects.get(number=number)
    assert order.version == 2 and str(order.required_date) == "2099-03-15"
    assert order.lines.get(line_no=1).qty == Decimal("8")
    ctx, page = _login(browser, base, "sales")
    try:
        page.goto(f"{base}/orders/{number}/")
        expect(page.get_by_test_id("frozen")).to_have_count(0)
        expect(page.get_by_test_id("change-requests")).to_contain_text("已批准")
    finally:
        ctx.close()

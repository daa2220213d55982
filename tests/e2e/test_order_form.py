"""The new-order form in a real browser (issue 14.7): the customer and product pickers find by
pinyin initials, the amounts and total follow the typing, warnings come before saving and the
save needs a confirmation; the order page's edit form keeps a snapshot (14.3)."""

from datetime import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.orders.models import Order, Snapshot
from tests.conftest import SH

pytestmark = [pytest.mark.django_db(transaction=True)]


def _login(page, base: str, role: str):
    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill(role)
    page.get_by_label("密码").fill("pw-" + role)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()


def test_pickers_live_total_warnings_and_confirmation(company, live_server, browser, shot):
    Customer.objects.filter(pk=company["customer"].pk).update(credit_limit=Decimal("50000"))
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        _login(page, live_server.url, "sales")
        page.goto(f"{live_server.url}/orders/new/")
        # the customer by the pinyin initials of 苏州博锐精工
        picker = page.get_by_test_id("customer-picker")
        picker.fill("szbr")
        option = page.locator(".picker-menu .dropdown-item[data-code=C001]")
        expect(option).to_be_visible()
        expect(option).to_contain_text("苏州博锐精工")
        option.click()
        expect(picker).to_have_value("C001")
        expect(page.get_by_test_id("picker-label").first).to_contain_text("苏州博锐精工")

        page.locator("#id_required_date").fill("2020-01-10")
        # the product by the initials of 传感器壳体
        sku = page.locator("input[name=line_sku]").first
        sku.fill("cgq")
        page.locator(".picker-menu .dropdown-item[data-code=HSG-100]").click()
        expect(sku).to_have_value("HSG-100")
        page.locator("input[name=line_qty]").first.fill("200")

        preview = page.get_by_test_id("order-preview")
        expect(page.get_by_test_id("preview-total")).to_have_text("¥24,000.00")
        page.locator("input[name=line_qty]").first.fill("500")
        expect(page.get_by_test_id("preview-total")).to_have_text("¥60,000.00")
        expect(preview.locator("[data-code=past_date]")).to_be_visible()
        expect(preview.locator("[data-code=credit_exceeded]")).to_contain_text("50,000.00")
        shot(page, "order-form-live-preview")

        # saving first shows the warnings and asks for a confirmation; nothing is created
        before = Order.objects.count()
        page.get_by_test_id("create-order").click()
        expect(page.get_by_test_id("confirm-warnings")).to_be_visible()
        assert Order.objects.count() == before
        expect(page.locator("input[name=line_qty]").first).to_have_value("500")
        page.get_by_test_id("confirm-checkbox").check()
        page.get_by_test_id("create-order").click()
        expect(page.get_by_test_id("order-number")).to_be_visible()
        order = Order.objects.order_by("-pk").first()
        assert order.total_amount == Decimal("60000") and order.customer.code == "C001"
        assert not [e for e in errors if "Content Security Policy" in e], errors
    finally:
        ctx.close()


def test_edit_an_order_in_the_browser(company, live_server, browser):
    from orderhub.orders.services import order_create
    from tests.conftest import order_input
    with clock.frozen(datetime(2026, 11, 23, 9, 0, tzinfo=SH)):
        order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, live_server.url, "sales")
        page.goto(f"{live_server.url}/orders/{order.number}/")
        page.get_by_test_id("edit-order").click()
        page.locator("#id_ship_to_address").fill("宁波市北仑区 9 号")
        page.locator("#id_urgency").select_option("red")
        page.get_by_test_id("save-order").click()
        expect(page.get_by_test_id("ship-to")).to_contain_text("宁波市北仑区 9 号")
        assert Snapshot.objects.filter(order=order, version=2).exists()
    finally:
        ctx.close()

"""Issue 15 in a real browser: the ship-to select of the new-order form is filled from the
customer's address book when the customer is picked; the edit-lines page changes an order and
shows its errors next to the fields; the restore page shows the differences in words and
restores. Every visible word on these pages is Chinese."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orderhub.catalog.services import customer_address_save
from orderhub.orders import services
from orderhub.orders.models import Order, OrderLine
from tests.conftest import order_input
from tests.e2e.visible import VISIBLE_TEXT_JS, offending_tokens

pytestmark = [pytest.mark.django_db(transaction=True)]


def _login(page, base: str, role: str):
    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill(role)
    page.get_by_label("密码").fill("pw-" + role)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()


def _chinese(page) -> None:
    text = page.evaluate(VISIBLE_TEXT_JS)
    assert offending_tokens(text, allowed=frozenset({"sales", "admin"})) == [], page.url


def test_ship_to_choice_line_edit_and_restore(company, live_server, browser, shot):
    admin = company["actors"]["admin"]
    customer_address_save(customer="C001", data={"label": "工厂", "receiver": "王工", "address": "苏州星湖街 1 号"},
                          actor=admin)
    dock = customer_address_save(customer="C001", data={"label": "码头", "receiver": "李四",
                                                        "address": "上海洋山港 9 号"}, actor=admin)
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    api_errors: list[str] = []
    page.on("response", lambda r: api_errors.append(f"{r.status} {r.url}") if "/api/" in r.url and r.status >= 400
            else None)
    try:
        _login(page, live_server.url, "sales")
        page.goto(f"{live_server.url}/orders/new/")
        picker = page.get_by_test_id("customer-picker")
        picker.fill("szbr")
        page.locator(".picker-menu .dropdown-item[data-code=C001]").click()
        select = page.get_by_test_id("ship-to-select")
        expect(select.locator("option")).to_have_count(3)      # the default choice + the two addresses
        select.select_option(str(dock.pk))
        page.locator("#id_required_date").fill("2026-12-20")
        sku = page.locator("input[name=line_sku]").first
        sku.fill("HSG-100")
        page.locator("input[name=line_qty]").first.fill("5")
        _chinese(page)
        page.get_by_test_id("create-order").click()
        expect(page.get_by_test_id("order-number")).to_be_visible()
        order = Order.objects.order_by("-pk").first()
        assert order.ship_to_address == "上海洋山港 9 号"

        # edit the lines: an error next to its field first, then the change
        page.get_by_test_id("edit-lines").click()
        page.locator("input[name=qty-1]").fill("-1")
        page.get_by_test_id("save-lines").click()
        expect(page.locator(".invalid-feedback")).to_contain_text("数量必须大于零")
        _chinese(page)
        page.locator("input[name=qty-1]").fill("8")
        page.locator("input[name=new-0-sku]").fill("M8X30")
        page.locator("input[name=new-0-qty]").fill("40")
        page.get_by_test_id("save-lines").click()
        expect(page.get_by_test_id("order-number")).to_be_visible()
        assert [(ln.product.sku, ln.qty) for ln in OrderLine.objects.filter(order=order).order_by("line_no")] == [
            ("HSG-100", Decimal("8")), ("M8X30", Decimal("40"))]

        # restore version 1: the differences in words, then the restore
        page.get_by_test_id("restore-version").click()
        page.locator("#id_version").select_option("1")
        page.get_by_role("button", name="查看差异").click()
        expect(page.get_by_test_id("restore-diff")).to_contain_text("第 1 行: 数量")
        _chinese(page)
        shot(page, "restore-diff")
        page.get_by_test_id("restore-submit").click()
        expect(page.get_by_test_id("order-number")).to_be_visible()
        assert OrderLine.objects.filter(order=order).count() == 1
        assert Order.objects.get(pk=order.pk).version == 3
        assert not [e for e in errors if "Content Security Policy" in e], errors
        assert not api_errors, api_errors
    finally:
        ctx.close()


def test_address_book_page_is_chinese(company, live_server, browser):
    services.order_create(data=order_input(), actor=company["actors"]["sales"])
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, live_server.url, "admin")
        page.goto(f"{live_server.url}/settings/customers/C001/addresses")
        page.locator("#anew-address").fill("杭州滨江区 1 号")
        page.get_by_test_id("address-form-new").get_by_role("button", name="保存").click()
        expect(page.locator("#anew-address")).to_have_value("")
        _chinese(page)
    finally:
        ctx.close()

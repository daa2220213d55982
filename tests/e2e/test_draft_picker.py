"""The one picker (web/forms.js) on the OCR draft page as on the new-order form: the customer
and each line's product found by pinyin initials, the product's list price shown as the line's
placeholder, and the draft confirmed with what was picked."""

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect

from orderhub.core.actors import Actor
from orderhub.intake import services
from orderhub.intake.models import Draft
from tests.conftest import SH

from .test_workspace import _login

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_the_draft_page_picks_customer_and_product_like_the_order_form(company, live_server, browser, shot):
    msg = services.inbound_receive(channel="email", kind="api", payload=b"\x89PNG scan",
                                   actor=Actor.system("test"), content_type="image/png")
    draft = Draft.objects.create(message=msg, created_at=datetime(2026, 3, 2, 10, tzinfo=SH), data={
        "customer": "", "required_date": "2026-12-20", "lines": [{"sku": "", "qty": "5"}]})
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 and "/api/" in r.url else None)
    try:
        _login(page, live_server.url, "service")
        page.goto(f"{live_server.url}/intake/drafts/{draft.pk}/")
        picker = page.get_by_test_id("customer-picker")
        picker.fill("szbr")
        option = page.locator(".picker-menu .dropdown-item[data-code=C001]")
        expect(option).to_contain_text("苏州博锐精工")
        picker.press("Enter")
        expect(picker).to_have_value("C001")
        expect(page.get_by_test_id("picker-label").first).to_contain_text("苏州博锐精工")
        sku = page.locator("input[name=line_sku]").first
        sku.fill("cgq")
        page.locator(".picker-menu .dropdown-item[data-code=HSG-100]").click()
        expect(sku).to_have_value("HSG-100")
        expect(page.get_by_test_id("line-price").first).to_have_attribute("placeholder", re.compile(r"^120(\.0+)?$"))
        shot(page, "draft-pickers")
        page.get_by_role("button", name="确认并创建订单").click()
        draft.refresh_from_db()
        expect(page.locator("body")).not_to_contain_text("草稿 #")
        draft.refresh_from_db()
        assert draft.status == "confirmed" and draft.order.customer.code == "C001"
        assert [ln.product.sku for ln in draft.order.lines.all()] == ["HSG-100"]
        assert errors == []
    finally:
        ctx.close()


def test_a_field_left_opens_no_menu_later(company, live_server, browser):
    """The search waits 200 ms after the last key, then asks the server: by then the person
    may have moved on (typed a whole SKU, then the quantity). No search starts after the field
    is left, and an answer that comes late opens no menu under a field that has lost the
    focus."""
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, live_server.url, "sales")
        page.goto(f"{live_server.url}/orders/new/")
        sku, qty = page.locator("input[name=line_sku]").first, page.locator("input[name=line_qty]").first
        sku.fill("HSG-100")
        qty.fill("5")  # left within the 200 ms
        page.wait_for_timeout(800)
        expect(page.locator(".picker-menu.show")).to_have_count(0)
        held = []

        def hold(route):  # the answer waits until we let it go
            held.append(route)

        page.route("**/api/catalog/products*", hold)
        sku.fill("cgq")
        for _ in range(100):  # the search is sent 200 ms after the last key, the field still focused
            if held:
                break
            page.wait_for_timeout(50)
        assert len(held) == 1
        qty.fill("6")
        page.wait_for_timeout(400)  # the field's menu closed on leaving it; then the answer comes
        held[0].continue_()
        page.wait_for_timeout(800)
        expect(page.locator(".picker-menu.show")).to_have_count(0)
        page.unroute("**/api/catalog/products*")
        sku.fill("cgq")  # staying in the field: the menu opens under it
        expect(page.locator(".picker-menu.show .dropdown-item[data-code=HSG-100]")).to_be_visible()
    finally:
        ctx.close()

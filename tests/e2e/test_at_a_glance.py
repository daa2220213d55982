"""Late and why at a glance: boards that fit and put red first, reasons in lists, phone actions."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orderhub.orders.inputs import LineInput
from orderhub.orders.services import order_create, order_transition
from tests.conftest import order_input

from .test_workspace import _login

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_board_fits_1440_and_a_late_red_order_comes_first_with_more_paging(company, live_server, browser):
    service = company["actors"]["service"]
    calm = [order_create(data=order_input(urgency="green"), actor=service).order for _ in range(32)]
    red = order_create(data=order_input(urgency="red"), actor=service).order  # the newest, beyond 30
    first_stage = calm[0].stage
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, live_server.url, "planner")
        page.goto(f"{live_server.url}/board/T1/")
        column = page.locator(f'section[data-stage="{first_stage}"]')
        expect(column.locator("a.board-card").first).to_have_attribute("data-number", red.number)
        assert column.locator("a.board-card").count() == 30
        # every column is on screen: no sideways scrolling at desk width
        sections = page.locator("section.board-col")
        assert sections.count() >= 7  # T1, the widest shipped workflow
        for i in range(sections.count()):
            box = sections.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 1440, (i, box)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1440
        expect(page.get_by_test_id("urgency-legend")).to_contain_text("红（紧急）")
        # "more" shows the rest, and polling keeps the longer column
        column.get_by_test_id("more").click()
        expect(column.locator("a.board-card")).to_have_count(33)
        page.wait_for_timeout(1500)
        expect(column.locator("a.board-card")).to_have_count(33)
    finally:
        ctx.close()


def test_lists_show_why_an_order_is_blocked_and_a_phone_shows_actions_first(company, live_server, browser):
    service = company["actors"]["service"]
    blocked = order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("200"))]),
                           actor=service).order
    order_transition(order=blocked.number, to="scheduled", actor=service)
    order_transition(order=blocked.number, to="materials_ready", actor=company["actors"]["planner"])
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                              locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, live_server.url, "planner")
        for url in ("/", "/orders/"):
            page.goto(live_server.url + url)
            row = page.locator(f'tr[data-number="{blocked.number}"]')
            # the reason is text on the page, not a tooltip
            expect(row.get_by_test_id("blocked-reason")).to_be_visible()
            expect(row.get_by_test_id("blocked-reason")).to_contain_text("6061铝棒 缺 40")
            expect(page.get_by_test_id("urgency-legend")).to_be_visible()
        page.goto(f"{live_server.url}/orders/{blocked.number}/")
        actions = page.get_by_test_id("actions")
        expect(actions).to_be_in_viewport()
        assert actions.bounding_box()["y"] < page.get_by_test_id("stages").bounding_box()["y"]
    finally:
        ctx.close()

"""A planner and a warehouse keeper in real browsers: blocked reasons, moves, live board."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order
from orderhub.orders.services import order_create, order_transition
from tests.conftest import order_input

pytestmark = [pytest.mark.django_db(transaction=True)]


def _login(page, base: str, role: str):
    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill(role)
    page.get_by_label("密码").fill("pw-" + role)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()


def _scheduled(company, qty: str):
    order = order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal(qty))]),
                         actor=company["actors"]["service"]).order
    order_transition(order=order.number, to="scheduled", actor=company["actors"]["service"])
    return order


def test_planner_reads_a_blocked_reason_moves_an_order_and_a_second_browser_sees_it_live(
        company, live_server, browser, shot):
    blocked = _scheduled(company, "200")  # needs 120 kg of 6061 bar, 80 kg in stock
    order_transition(order=blocked.number, to="materials_ready", actor=company["actors"]["planner"])
    movable = _scheduled(company, "50")  # needs 30 kg: kitted
    base = live_server.url

    planner_ctx = browser.new_context(locale="zh-CN")
    watcher_ctx = browser.new_context(locale="zh-CN")
    planner, watcher = planner_ctx.new_page(), watcher_ctx.new_page()
    try:
        _login(planner, base, "planner")
        table = planner.get_by_test_id("order-table")
        expect(table).to_contain_text(blocked.number)
        expect(table).to_contain_text(movable.number)
        shot(planner, "planner-my-work")

        # the blocked order says, in Chinese, what is missing
        planner.get_by_role("link", name=blocked.number).click()
        reasons = planner.get_by_test_id("blocked")
        expect(reasons).to_contain_text("物料未齐套")
        expect(reasons).to_contain_text("6061铝棒 缺 40")
        shot(planner, "planner-blocked-order")

        # a second, separate browser context watches the board
        _login(watcher, base, "warehouse")
        watcher.goto(f"{base}/board/T1/")
        scheduled = watcher.locator('section[data-stage="scheduled"]')
        ready = watcher.locator('section[data-stage="materials_ready"]')
        expect(scheduled).to_contain_text(movable.number)
        expect(ready).not_to_contain_text(movable.number)
        watcher.evaluate("window.__noReload = true")

        planner.goto(f"{base}/orders/{movable.number}/")
        planner.get_by_test_id("move-materials_ready").click()
        expect(planner.get_by_test_id("stage")).to_have_text("物料齐套")

        # the card moves in the other browser within 2 s, without a reload
        expect(ready).to_contain_text(movable.number, timeout=2000)
        expect(scheduled).not_to_contain_text(movable.number)
        assert watcher.evaluate("window.__noReload") is True
        shot(watcher, "board-after-move")
        assert Order.objects.get(pk=movable.pk).stage == "materials_ready"
    finally:
        planner_ctx.close()
        watcher_ctx.close()


def test_phone_sized_pages_fit_390px(company, live_server, browser, shot):
    order = _scheduled(company, "20")
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                              is_mobile=True, has_touch=True, locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, live_server.url, "planner")
        for name, url in (("phone-home", "/"), ("phone-order", f"/orders/{order.number}/"),
                          ("phone-board", "/board/T1/"), ("phone-list", "/orders/"),
                          ("phone-new-order", "/orders/new/")):
            page.goto(live_server.url + url)
            # the page itself never scrolls sideways (the board scrolls inside its own strip)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (url, width)
            shot(page, name)
        # the menu collapses behind the toggler and still works
        page.goto(live_server.url + "/")
        page.get_by_role("button", name="菜单").click()
        page.get_by_role("link", name="订单", exact=True).click()
        expect(page.get_by_test_id("total")).to_be_visible()
        # the move button is reachable and works on a phone
        page.goto(f"{live_server.url}/orders/{order.number}/")
        page.get_by_test_id("move-materials_ready").tap()
        expect(page.get_by_test_id("stage")).to_have_text("物料齐套")
    finally:
        ctx.close()

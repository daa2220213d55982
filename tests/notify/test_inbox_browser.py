"""The in-app inbox in a real browser (Debian's Chromium): a new order reaches customer service,
the nav badge counts it, marking it read through htmx updates the item and the badge."""

import os

import pytest

# Playwright's sync API keeps an event loop in the test thread (see tests/e2e/conftest.py)
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    from tests.e2e.conftest import CHROMIUM

    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]}


def test_inbox_badge_and_mark_read_in_a_browser(company, live_server, browser, settings):
    from playwright.sync_api import expect

    from orderhub.notify.delivery import deliver_due
    from orderhub.orders.services import order_create
    from tests.conftest import order_input

    settings.ORDERHUB_RUN_JOBS_INLINE = False
    order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
    assert deliver_due() == 1                  # the in-app message to the customer-service user
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("用户名").fill("service")
        page.get_by_label("密码").fill("pw-service")
        page.get_by_role("button", name="登录").click()
        badge = page.get_by_test_id("unread-badge")
        expect(badge).to_have_text("1")
        page.get_by_test_id("nav-notifications").click()
        item = page.get_by_test_id("inbox-item")
        expect(item).to_contain_text(order.number)
        expect(item).to_contain_text("新订单")
        page.get_by_test_id("mark-read").click()          # htmx: swaps the item, then the badge
        expect(page.get_by_test_id("mark-read")).to_have_count(0)
        expect(page.get_by_test_id("unread-badge")).to_be_hidden()
        page.reload()
        expect(page.get_by_test_id("unread-count")).to_contain_text("0")
    finally:
        ctx.close()

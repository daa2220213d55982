"""Every word a person reads is Chinese and human: each demo role, in a real browser, crawls every
page reachable from the navigation (boards, orders and an order page, intake, tickets, rules,
notifications, settings) and the test fails on a code token (snake_case, a dotted event type, a
lone English word on a Chinese page), `None`/`True`, or a machine timestamp in the visible text,
and on any link shown to a role that answers with an error. The English switch renders the same
pages in English. Error pages (404, 403) are in the app's own frame, in Chinese.

What is shown *as code* on purpose (an expression in ``<code>``, a template's source, a YAML
editor, audit hashes) is left out: see ``tests/e2e/visible.py``. User names are data.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import Resolver404, resolve
from playwright.sync_api import expect

from orderhub.core.actors import Actor
from orderhub.demo.loader import USERS, load_demo, password_for
from orderhub.notify.delivery import deliver_due
from orderhub.orders.models import Order
from orderhub.orders.services import ticket_open
from orderhub.rules.sweep import sweep_overdue
from tests.e2e.visible import VISIBLE_TEXT_JS, offending_tokens

pytestmark = [pytest.mark.django_db(transaction=True)]

# pages never followed: downloads, the raw payload, leaving, the read-only admin, the API
SKIP_PREFIXES = ("/admin/", "/api/", "/i18n/", "/logout/", "/q/")
SKIP_NAMES = {"order_export", "kpi_export", "attachment", "intake_raw", "logout", "quick_order", "ticket_photo",
              "ticket_photo_thumb", "order_document", "shipment_document", "shipment_pod_file"}
# one visit per kind of page, except pages whose code picks a different page to read
DISTINCT_BY_CODE = {"board", "config_workflow"}
MAX_PAGES_PER_ROLE = 60
USER_NAMES = frozenset(USERS)


@pytest.fixture
def demo_company():
    result = load_demo(orders=24)
    sweep_overdue()            # overdue alerts (the deadline text) as the runner would raise them
    order = Order.objects.filter(status="open").order_by("pk").first()
    ticket_open(order=order, kind="change_request", title="客户要求改交期", actor=Actor.system("demo-loader"))
    ticket_open(order=order, kind="exception", title="来料表面划伤", owner_role="qc",
                actor=Actor.system("demo-loader"))
    deliver_due()
    return result


def _login(page, base: str, username: str):
    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password_for(username))
    page.get_by_role("button", name="登录").click()
    expect(page.locator("[data-testid=who]")).to_be_attached()


def _page_key(path: str):
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.url_name in SKIP_NAMES:
        return None
    code = match.kwargs.get("code") if match.url_name in DISTINCT_BY_CODE else None
    return (match.route, code)


def _crawl(page, base: str, *, chinese: bool, start: list[str]) -> tuple[list[str], list[str]]:
    """Breadth-first over the links each page shows; (problems, pages visited)."""
    problems: list[str] = []
    seen_keys: set = set()
    queue: list[str] = []
    for path in start:
        key = _page_key(urlsplit(path).path)
        if key not in seen_keys:
            seen_keys.add(key)
            queue.append(path)
    visited: list[str] = []
    while queue and len(visited) < MAX_PAGES_PER_ROLE:
        path = queue.pop(0)
        response = page.goto(base + path)
        visited.append(path)
        status = response.status if response else 0
        if status >= 400:
            problems.append(f"{path}: answers {status} although a page links to it")
            continue
        text = page.evaluate(VISIBLE_TEXT_JS)
        bad = offending_tokens(text, chinese=chinese, allowed=USER_NAMES)
        if bad:
            at = text.find(bad[0])
            context = " ".join(text[max(0, at - 60):at + 40].split())
            problems.append(f"{path}: {bad[:15]} (first in: …{context}…)")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/") or parts.path.startswith(SKIP_PREFIXES):
                continue
            key = _page_key(parts.path)
            if key is None or key in seen_keys:
                continue
            seen_keys.add(key)
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return problems, visited


def test_every_role_reads_only_chinese_words_on_every_page(demo_company, live_server, browser):
    base = live_server.url
    order = Order.objects.filter(status="open", workflow__code="T1").order_by("pk").first()
    start = ["/", f"/orders/{order.number}/", "/board/T1/", "/notifications/"]
    report: dict[str, list[str]] = {}
    pages = {}
    for username in USERS:
        ctx = browser.new_context(locale="zh-CN")
        page = ctx.new_page()
        try:
            _login(page, base, username)
            problems, visited = _crawl(page, base, chinese=True, start=start)
        finally:
            ctx.close()
        pages[username] = len(visited)
        if problems:
            report[username] = problems
    assert not report, "codes, None or machine times in visible text:\n" + "\n".join(
        f"{who}: {p}" for who, ps in report.items() for p in ps)
    # the crawl reached far: every role saw its work, boards, orders and notifications
    assert min(pages.values()) >= 8, pages
    assert pages["admin"] >= 25, pages


def test_brand_language_menu_and_error_pages_are_chinese_in_the_app_frame(demo_company, live_server, browser):
    base = live_server.url
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, base, "planner")
        expect(page.locator(".navbar-brand")).to_have_text("订单中枢")
        assert page.title().endswith("订单中枢")
        options = page.locator("select[name=language] option").all_inner_texts()
        assert [o.strip() for o in options] == ["简体中文", "English"]

        response = page.goto(f"{base}/orders/NO-SUCH-ORDER/")
        assert response.status == 404
        expect(page.get_by_test_id("not-found")).to_contain_text("页面不存在")
        expect(page.locator("[data-testid=nav-notifications]")).to_be_visible()   # the app's frame
        assert not offending_tokens(page.evaluate(VISIBLE_TEXT_JS), allowed=USER_NAMES)

        response = page.goto(f"{base}/settings/users/")       # a planner may not
        assert response.status == 403
        expect(page.get_by_test_id("forbidden")).to_contain_text("无权")
        expect(page.locator(".navbar-brand")).to_have_text("订单中枢")
    finally:
        ctx.close()


def test_the_english_switch_renders_every_page_in_english(demo_company, live_server, browser):
    base = live_server.url
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, base, "admin")
        page.select_option("select[name=language]", "en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator(".navbar-brand")).to_have_text("OrderHub")
        expect(page.get_by_role("link", name="My work")).to_be_visible()
        problems, visited = _crawl(page, base, chinese=False, start=["/", "/notifications/", "/settings/"])
        assert not problems, "\n".join(problems)
        assert len(visited) >= 25
        # and back
        page.select_option("select[name=language]", "zh-hans")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(page.get_by_role("link", name="我的待办")).to_be_visible()
    finally:
        ctx.close()

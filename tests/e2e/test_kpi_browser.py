"""The KPI dashboards in a real browser (Debian's Chromium) under the strict CSP: every chart
is drawn (ECharts puts a canvas in each chart box), the tabs and the filter work, and nothing
breaks the policy or throws."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from orderhub.demo.loader import load_demo
from tests.e2e.test_csp import Watch
from tests.e2e.test_every_word import USER_NAMES, _login
from tests.e2e.visible import VISIBLE_TEXT_JS, offending_tokens

pytestmark = [pytest.mark.django_db(transaction=True)]


def _only_words(page) -> None:
    assert offending_tokens(page.evaluate(VISIBLE_TEXT_JS), allowed=USER_NAMES) == []


def _charts_drawn(page) -> None:
    boxes = page.locator("[data-chart]")
    n = boxes.count()
    assert n > 0
    for i in range(n):
        expect(boxes.nth(i).locator("canvas")).to_have_count(1)


def test_dashboards_draw_their_charts_under_the_policy(live_server, browser, shot):
    load_demo(orders=24)
    base = live_server.url
    ctx = browser.new_context(locale="zh-CN")
    watch = Watch(ctx)
    page = ctx.new_page()
    try:
        _login(page, base, "manager")
        page.get_by_test_id("home-kpi").click()
        expect(page).to_have_url(f"{base}/kpi/boss/")
        _charts_drawn(page)
        watch.check(page, "/kpi/boss/")
        _only_words(page)
        shot(page, "kpi-boss")
        page.get_by_test_id("kpi-tabs").get_by_role("link", name="运营").click()
        expect(page).to_have_url(f"{base}/kpi/operations/")
        _charts_drawn(page)
        expect(page.get_by_test_id("panel-open-by-stage")).to_contain_text("按阶段和紧急程度的在制订单")
        page.locator("#id_stalled_days").fill("1")
        page.get_by_test_id("kpi-filter").get_by_role("button", name="筛选").click()
        expect(page).to_have_url(f"{base}/kpi/operations/?start=&end=&workflow=&customer=&channel=&stalled_days=1")
        _charts_drawn(page)
        watch.check(page, "/kpi/operations/")
        _only_words(page)
        for tab in ("计划", "销售", "采购"):
            page.get_by_test_id("kpi-tabs").get_by_role("link", name=tab).click()
            expect(page.get_by_test_id("kpi-tabs").locator(".active")).to_have_text(tab)
            _charts_drawn(page)
            watch.check(page, tab)
            _only_words(page)
        page.get_by_test_id("kpi-tabs").get_by_role("link", name="运营").click()
        # a drill-down lands on the order list, filtered
        page.get_by_test_id("table-open-by-stage").locator("a").first.click()
        expect(page).to_have_url(re.compile(r"/orders/\?.*status=open"))
        expect(page.get_by_test_id("total")).to_be_visible()
        watch.check(page, "drill-down")
    finally:
        ctx.close()

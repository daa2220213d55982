"""The portal on a phone in a real browser (Debian's Chromium) at 390 px with WeChat's user agent
and JavaScript off: sign in with the code from the e-mail received on the loopback SMTP server,
find the order, open it, open its tracking link; nothing overflows the screen."""

import os
import re

import pytest

from .conftest import CODE, mail_text

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

WECHAT_UA = ("Mozilla/5.0 (Linux; Android 13; V2218A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
             "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 "
             "MMWEBSDK/20231202 MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 Weixin NetType/WIFI "
             "Language/zh_CN ABI/arm64")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    from tests.e2e.conftest import CHROMIUM

    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]}


def _fits(page, width: int) -> None:
    for box in (page.locator("body > div").bounding_box(), page.locator("form, .card, .list-group").last.bounding_box()):
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, box


def test_sign_in_and_follow_an_order_on_a_phone_without_script(two_customers, mail_endpoint, live_server, browser,
                                                               company):
    from playwright.sync_api import expect

    from orderhub.portal.services import tracking_link_issue

    a0 = two_customers["orders"]["A"][0]
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                              locale="zh-CN", user_agent=WECHAT_UA, java_script_enabled=False)
    page = ctx.new_page()
    try:
        page.goto(f"{live_server.url}/portal/")
        assert page.url.endswith("/portal/login/")
        _fits(page, 390)
        page.get_by_label("邮箱或手机号").fill("buyer@a.example")
        page.get_by_role("button", name="获取验证码").click()
        expect(page.get_by_test_id("portal-sent")).to_contain_text("10 分钟内有效")
        code = CODE.search(mail_text(mail_endpoint.wait_for(1)[0][1])).group(1)
        page.get_by_label("6 位验证码").fill(code)
        page.get_by_role("button", name="登录").click()
        orders = page.get_by_test_id("portal-orders")
        expect(orders.locator("a")).to_have_count(2)
        expect(page.get_by_test_id("portal-who")).to_contain_text("王采购")
        _fits(page, 390)
        page.get_by_label("搜索订单").fill("PO-A-0")
        page.get_by_role("button", name="搜索").click()
        expect(orders.locator("a")).to_have_count(1)
        orders.locator("a").first.click()
        expect(page.get_by_test_id("portal-stage")).to_have_text("待确认")
        expect(page.get_by_test_id("portal-eta")).to_have_text("2027-03-10")
        _fits(page, 390)
        assert "内部备注" not in page.content() and not re.search(r"\b120\.00\b", page.content())
        token, _ = tracking_link_issue(order=a0.number, actor=company["actors"]["service"])
        other = ctx.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                        user_agent=WECHAT_UA, java_script_enabled=False, locale="zh-CN")
        track = other.new_page()
        track.goto(f"{live_server.url}/track/{token}")
        expect(track.get_by_test_id("portal-stage")).to_have_text("待确认")
        _fits(track, 390)
        other.close()
        page.get_by_role("button", name="退出").click()
        assert page.url.endswith("/portal/login/")
    finally:
        ctx.close()

"""The portal's new pages on a phone in a real browser (Debian's Chromium) at 390 px with
WeChat's user agent and JavaScript off: the satisfaction survey opened from the delivery
notice's link, and placing an order with a drawing after signing in; nothing overflows."""

import os
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.notify.models import Message as Outbox
from orderhub.orders.models import Attachment, Order
from orderhub.portal.models import SurveyAnswer
from orderhub.shipping.services import ShipmentInput, shipment_create, shipment_pod, shipment_ship
from tests.notify.conftest import private_targets_allowed  # noqa: F401 (fixture)
from tests.portal.conftest import CODE, mail_endpoint, mail_text, smtp, two_customers  # noqa: F401 (fixtures)
from tests.portal.test_portal_browser import WECHAT_UA

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]
WIDTH = 390


def _phone(browser):
    return browser.new_context(viewport={"width": WIDTH, "height": 844}, is_mobile=True, has_touch=True,
                               locale="zh-CN", user_agent=WECHAT_UA, java_script_enabled=False)


def _fits(page) -> None:
    for box in (page.locator("body > div").bounding_box(), page.locator("form, .card").last.bounding_box()):
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH + 1, box


def test_survey_from_the_delivery_notice_on_a_phone(two_customers, mail_endpoint, live_server, browser,  # noqa: F811
                                                    company, tmp_path, settings):
    from playwright.sync_api import expect

    settings.MEDIA_ROOT = tmp_path
    Customer.objects.filter(code="C001").update(email="buyer@a.example")
    a0 = two_customers["orders"]["A"][0]
    wh = company["actors"]["warehouse"]
    sh = shipment_create(order=a0.number, actor=wh, data=ShipmentInput(quantities={1: Decimal("3")}))
    shipment_ship(shipment=sh.number, actor=wh)
    shipment_pod(shipment=sh.number, name="pod.png", content=b"\x89PNG\r\n\x1a\n" + b"x" * 50, actor=wh)
    notice = Outbox.objects.get(event="shipment.delivered", order=a0)
    link = re.search(r"https?://\S+/survey/(\S+)", notice.payload["context"]["message"]).group(1)
    ctx = _phone(browser)
    page = ctx.new_page()
    try:
        page.goto(f"{live_server.url}/survey/{link}")
        expect(page.get_by_test_id("survey")).to_contain_text(a0.number)
        _fits(page)
        page.get_by_test_id("star-4").click()
        page.get_by_label("还有什么想告诉我们的？（选填）").fill("发货前收到了通知，很好")
        page.get_by_test_id("survey-submit").click()
        expect(page.get_by_test_id("survey-saved")).to_contain_text("谢谢")
        _fits(page)
        page.get_by_test_id("star-5").click()
        page.get_by_test_id("survey-submit").click()
        expect(page.get_by_test_id("survey-saved")).to_be_visible()
    finally:
        ctx.close()
    answer = SurveyAnswer.objects.get(order=a0)
    assert (answer.stars, answer.comment, answer.via) == (5, "发货前收到了通知，很好", "link")


def test_place_an_order_with_a_drawing_on_a_phone(two_customers, mail_endpoint, live_server, browser,  # noqa: F811
                                                  tmp_path, settings):
    from playwright.sync_api import expect

    settings.MEDIA_ROOT = tmp_path
    ctx = _phone(browser)
    page = ctx.new_page()
    try:
        page.goto(f"{live_server.url}/portal/login/")
        page.get_by_label("邮箱或手机号").fill("buyer@a.example")
        page.get_by_role("button", name="获取验证码").click()
        code = CODE.search(mail_text(mail_endpoint.wait_for(1)[0][1])).group(1)
        page.get_by_label("6 位验证码").fill(code)
        page.get_by_role("button", name="登录").click()
        page.get_by_test_id("new-order-link").click()
        expect(page.get_by_test_id("new-order")).to_be_visible()
        _fits(page)
        page.get_by_test_id("line-sku").first.fill("HSG-100")
        page.get_by_test_id("line-qty").first.fill("12")
        page.get_by_test_id("due-date").fill((clock.now() + timedelta(days=30)).date().isoformat())
        page.get_by_test_id("files").set_input_files([{"name": "支架.dxf", "mimeType": "application/dxf",
                                                        "buffer": b"0\nSECTION\n2\nENTITIES\n0\nENDSEC\n0\nEOF\n"}])
        page.get_by_test_id("place-order").click()
        expect(page.get_by_test_id("placed")).to_contain_text("感谢您的订单")
        _fits(page)
        number = page.url.rstrip("/").split("/portal/orders/")[1].split("/")[0]
        # order again from it: the lines come copied
        page.get_by_test_id("reorder").click()
        expect(page.get_by_test_id("line-sku").first).to_have_value("HSG-100")
        expect(page.get_by_test_id("line-qty").first).to_have_value("12")
        _fits(page)
    finally:
        ctx.close()
    order = Order.objects.get(number=number)
    assert order.customer.code == "C001" and [ln.qty for ln in order.lines.all()] == [Decimal("12")]
    assert Attachment.objects.get(order=order).name == "支架.dxf"

"""In Chromium at phone width (390 px): a production worker opens the order, reports a
shop-floor problem with a camera photo (shrunk in the browser to at most 1600 px before it is
sent), sees a similar past resolution offered while typing, and lands on the ticket with the
photo's thumbnail shown."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from orderhub.floor.models import FloorTicket
from orderhub.floor.services import floor_ticket_open, floor_ticket_resolve
from orderhub.orders.services import order_create
from tests.conftest import order_input

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}


def test_opening_a_ticket_with_a_photo_on_a_phone(company, live_server, browser, shot, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    a = company["actors"]
    order = order_create(data=order_input(), actor=a["sales"]).order
    past = floor_ticket_open(order=order.number, problem_type="size", body="外径尺寸超差0.04", actor=a["qc"])
    floor_ticket_resolve(ticket=past.pk, cause="刀具磨损", fix="更换刀片并首件复检", actor=a["qc"])
    photo = tmp_path / "IMG_4032.jpg"
    Image.effect_noise((3000, 2000), 60).convert("RGB").save(photo, format="JPEG", quality=95)
    original_size = photo.stat().st_size

    base = live_server.url
    ctx = browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    try:
        page.goto(f"{base}/login/")
        page.get_by_label("用户名").fill("production")
        page.get_by_label("密码").fill("pw-production")
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", name="我的待办")).to_be_visible()

        page.goto(f"{base}/orders/{order.number}/")
        page.get_by_test_id("floor-open").click()
        expect(page.get_by_role("heading", name="报告现场异常")).to_be_visible()
        page.get_by_text("尺寸超差", exact=True).click()
        page.get_by_test_id("floor-body").fill("外径尺寸超差0.05")
        similar = page.get_by_test_id("floor-similar")
        expect(similar).to_be_visible()
        expect(similar).to_contain_text("更换刀片并首件复检")
        page.get_by_test_id("floor-photos").set_input_files(str(photo))
        expect(page.get_by_test_id("floor-photo-status")).to_contain_text("1 张照片已就绪")
        expect(page.locator("#floor-previews canvas")).to_have_count(1)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(page, "floor-ticket-phone-form")
        page.get_by_test_id("floor-submit").click()

        expect(page.get_by_test_id("ticket-title")).to_contain_text("尺寸超差")
        thumb = page.get_by_test_id("floor-photos-shown").locator("img")
        expect(thumb).to_have_count(1)
        for _ in range(50):   # the thumbnail decoded (CSP allows no string eval: poll instead)
            if thumb.evaluate("img => img.complete && img.naturalWidth") > 0:
                break
            page.wait_for_timeout(100)
        assert thumb.evaluate("img => img.naturalWidth") == 320
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(page, "floor-ticket-phone-opened")
    finally:
        ctx.close()

    floor = FloorTicket.objects.exclude(pk=past.pk).get()
    assert floor.problem_type.code == "size" and floor.ticket.owner_role == "qc"
    p = floor.photos.select_related("attachment").get()
    assert max(p.width, p.height) == 1600 and p.attachment.content_type == "image/jpeg"
    stored = p.attachment.file.read()
    assert len(stored) < original_size / 2
    assert Image.open(io.BytesIO(stored)).format == "JPEG"

"""The daily report downloaded in a real browser (the 日报 PDF button on /kpi/ with its date
picker), then looked at as an image: page 1 rendered by pdfium is not blank, and is saved to
test-artifacts/daily-report.png."""

from __future__ import annotations

import io

import pypdf
import pytest
from playwright.sync_api import expect

from orderhub.demo.loader import load_demo
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_every_word import _login

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_daily_report_pdf_download_looks_like_a_report(live_server, browser):
    import pypdfium2 as pdfium

    load_demo(orders=24)
    ctx = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = ctx.new_page()
    try:
        _login(page, live_server.url, "manager")
        page.goto(f"{live_server.url}/kpi/boss/")
        expect(page.get_by_test_id("daily-report")).to_be_visible()
        with page.expect_download() as dl:
            page.get_by_test_id("daily-report-pdf").click()
        pdf = open(dl.value.path(), "rb").read()
    finally:
        ctx.close()
    assert dl.value.suggested_filename.endswith(".pdf")
    assert "订单中枢日报" in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    image = pdfium.PdfDocument(pdf)[0].render(scale=1.5).to_pil().convert("L")
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / "daily-report.png")
    hist = image.histogram()
    dark = sum(hist[:128])                     # ink: text, table rules, chart bars and lines
    assert dark > 0.005 * image.width * image.height, "page 1 is blank"
    lo, hi = image.getextrema()
    assert lo < 60 and hi > 240

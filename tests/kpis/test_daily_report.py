"""The daily report: the PDF's text (read back with pypdf) and the Excel twin carry the day's
figures as the selectors answer them, in Chinese; both download from the page and the API."""

import io
from datetime import date

import openpyxl
import pypdf
import pytest
from django.test import Client

from orderhub.core import clock
from orderhub.kpis import report, selectors
from orderhub.kpis.selectors import KpiFilter
from tests.kpis.test_kpis import WEDNESDAY, history  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

MONDAY = date(2026, 11, 23)


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _day_filter():
    return KpiFilter.build(start=MONDAY, end=MONDAY, now=WEDNESDAY)


def test_pdf_text_has_the_selectors_figures(history):  # noqa: F811
    f = _day_filter()
    ot, ft, ex = selectors.on_time(f), selectors.first_touch(f), selectors.exceptions(f)
    ov = selectors.overdue(f)
    assert (ot["completed"], ot["on_time"], ft["count"], ex["count"]) == (1, 1, 4, 2)   # by hand
    with clock.frozen(WEDNESDAY):
        text = _text(report.daily_pdf(MONDAY))
    assert "订单中枢日报 2026-11-23" in text
    flat = text.replace(" ", "").replace("\n", "")
    assert f"当日完成订单数{ot['completed']}" in flat
    assert f"其中准时交付{ot['on_time']}" in flat
    assert "准时交付率100.0%" in flat
    assert "新订单首次响应（中位数，工作时间）22分钟" in flat      # 1320 s
    assert f"有首次响应的订单数{ft['count']}" in flat
    assert f"当日新增异常数{ex['count']}" in flat
    assert f"超期订单数{ov['count']}" in flat
    assert "超期订单TOP5" in flat and "异常TOP10" in flat
    for r in ov["top"]:
        assert r["number"] in flat
    assert "在制订单（按阶段）" in flat and "近14天趋势" in flat
    assert "缺料" not in flat   # titles are not listed, the kinds are
    assert "异常" in flat


def test_excel_twin_has_the_same_numbers(history):  # noqa: F811
    f = _day_filter()
    with clock.frozen(WEDNESDAY):
        wb = openpyxl.load_workbook(io.BytesIO(report.daily_xlsx(MONDAY)))
        fig = report.daily_figures(MONDAY)
    rows = [[c for c in r] for r in wb.active.iter_rows(values_only=True)]
    by_label = {r[0]: r for r in rows if r and r[0]}
    assert by_label["当日完成订单数"][2] == selectors.on_time(f)["completed"]
    assert by_label["其中准时交付"][2] == selectors.on_time(f)["on_time"]
    assert by_label["准时交付率"][2] == selectors.on_time(f)["rate"] == 1.0
    assert by_label["新订单首次响应（中位数，工作时间）"][2] == 1320.0
    assert by_label["当日新增异常数"][2] == selectors.exceptions(f)["count"] == 2
    assert by_label["超期订单数"][2] == selectors.overdue(f)["count"]
    # the PDF's headline and the workbook's are one list
    assert [by_label[k][1] for k, _v in report.headline(fig)] == [v for _k, v in report.headline(fig)]
    trend = {r[0]: r[1:4] for r in rows if r and isinstance(r[0], str) and r[0].startswith("2026-11-2")}
    assert trend["2026-11-23"] == [4, 1, 1]


def test_downloads_page_and_api(history, company):  # noqa: F811
    c = Client()
    c.force_login(company["users"]["manager"])
    with clock.frozen(WEDNESDAY):
        page = c.get("/kpi/boss/")
        assert b'data-testid="daily-report"' in page.content
        r = c.get("/kpi/daily-report.pdf?date=2026-11-23")
        x = c.get("/kpi/daily-report.xlsx?date=2026-11-23")
        a = c.get("/api/kpis/daily-report.pdf?date=2026-11-23")
        ax = c.get("/api/kpis/daily-report.xlsx", {"date": "2026-11-23"})
    for resp in (r, a):
        assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
        assert resp["Content-Disposition"].startswith("attachment")
        assert "当日完成订单数1" in _text(resp.content).replace(" ", "").replace("\n", "")
    for resp in (x, ax):
        assert resp.status_code == 200 and resp["X-Content-Type-Options"] == "nosniff"
        assert openpyxl.load_workbook(io.BytesIO(resp.content)).active["A1"].value == "订单中枢日报 2026-11-23"
    c.force_login(company["users"]["warehouse"])
    assert c.get("/kpi/daily-report.pdf").status_code == 403
    assert c.get("/api/kpis/daily-report.pdf").status_code == 403

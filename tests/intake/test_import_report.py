"""The per-row import report as a person reads it: results in words (Chinese on the page), each
error once, dates shown by example, rows counted as rows, every unit conversion and rounding
stated."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orderhub.intake import services
from orderhub.intake.models import ImportJob, InboundMessage
from orderhub.intake.report import report_view

from .conftest import sample

pytestmark = pytest.mark.django_db
ALIBABA = ("1688", "1688_orders_20260220.xlsx")
TAOBAO = ("taobao", "ExportOrderList202602181230.csv")
DOUYIN = ("douyin", "dy_orders_20260219.csv")


def upload(parts, actor, channel=None):
    return services.upload_import(channel=channel or parts[0], filename=parts[-1], content=sample(*parts),
                                  actor=actor)


def notes_of(msg, row):
    return [n for i in msg.report["items"] if row in i.get("rows", []) for n in i.get("notes", [])]


def test_tons_to_pieces_states_the_conversion_and_the_rounding(master, intake_actor):
    msg = upload(ALIBABA, intake_actor).message
    assert "row 1 M8X30-HEX-88: 1.5 吨 × 56,818.18 件/吨 = 85,227.27 件, rounded half up to 85,227 件" in notes_of(msg, 1)
    assert not any("×" in n for n in notes_of(msg, 2))  # ordered in pieces: nothing converted
    assert any("五百" in n for n in notes_of(msg, 3))  # read from words, and said so


def test_a_conversion_without_rounding_is_stated_without_one(master, intake_actor):
    from decimal import Decimal

    from orderhub.catalog.selectors import master_data
    from orderhub.intake.report import conversion_notes
    from orderhub.orders.inputs import LineInput, OrderInput

    md = master_data(skus=["M8X30-HEX-88"])
    data = OrderInput(customer="C0451", lines=[LineInput(sku="M8X30-HEX-88", qty=Decimal("0.0176"), unit="kg"),
                                               LineInput(sku="M8X30-HEX-88", qty=Decimal(3))],
                      required_date=__import__("datetime").date(2026, 3, 1))
    assert conversion_notes(data, md) == ["line 1 M8X30-HEX-88: 0.0176 kg × 56.82 件/kg = 1 件"]


def test_dates_are_explained_by_example_and_each_error_is_listed_once(master, intake_actor):
    msg = upload(TAOBAO, intake_actor).message
    view = report_view(msg.report, msg.errors)
    messages = [p["message"] for r in view["rows"] for p in r["problems"]]
    assert not any("%" in m for m in messages), messages
    date = next(m for m in messages if "2026-02-31" in m)
    assert "is not a date that exists" in date and "2026-12-01 14:30" in date, date
    assert len(messages) == len(set(messages))
    assert not any(m.startswith(("订单付款时间", "买家应付货款")) for m in messages)  # the field has its column
    assert view["general"] == []  # every error of this file belongs to a row, shown there only
    assert {r["result"] for r in view["rows"]} == {"order created", "refused"}
    assert dict(view["summary"])["rows with problems"] == 3


def test_rows_are_counted_as_rows_not_orders(master, intake_actor):
    from orderhub.intake.models import ConfigVersion

    spec = dict(ConfigVersion.objects.get(kind="mapping", code="douyin", is_current=True).spec)
    spec["defaults"] = {"lead_days": 3}  # no retail account: both orders (3 rows) wait for a person
    services.config_save(data=spec, actor=intake_actor)
    job = upload(DOUYIN, intake_actor)
    assert job.message.report["summary"]["review"] == 2  # orders
    assert (job.rows_total, job.rows_failed) == (3, 3)  # rows
    rows = [r["rows"] for r in report_view(job.message.report, job.message.errors)["rows"]]
    assert rows == ["1–2", "3"]


def test_the_report_page_speaks_chinese(master, settings):
    from tests.web.test_pages import login

    settings.ORDERHUB_RUN_JOBS_INLINE = True
    c = login("service")
    for parts in (TAOBAO, ALIBABA):
        f = SimpleUploadedFile(parts[-1], sample(*parts))
        resp = c.post("/intake/upload/", {"channel": parts[0], "mode": "accept_valid", "file": f})
        assert resp.status_code == 302, resp.content.decode()[:500]
        page = c.get(resp["Location"]).content.decode()
        table = page[page.index('data-testid="row-report"'):]
        table = re.sub(r"<[^>]+>", " ", table[:table.index("</table>")])
        assert "已创建" in table
        for english in ("refused", "created", "duplicate", "orders_created", "%Y", "%H"):
            assert english not in table, (english, table)
        if parts == TAOBAO:
            assert "已拒收" in table and "不存在的日期" in table, table
            assert table.count("2026-02-31") == 2  # 订单创建时间 and 订单付款时间, each once
        else:
            assert "四舍五入为 85,227 件" in table, table
        msg = InboundMessage.objects.get(pk=ImportJob.objects.order_by("-pk").first().message_id)
        detail = c.get(f"/intake/{msg.pk}/").content.decode()
        assert "orders_created" not in detail and "rows_failed" not in detail


def test_a_unit_price_worked_out_from_the_amount_states_its_rounding(master, intake_actor):
    text = sample(*TAOBAO).decode("gbk").replace(",20,OIL-FLT-0915,", ",7,OIL-FLT-0915,", 1)
    job = services.upload_import(channel="taobao", filename="t.csv", content=text.encode("gbk"), actor=intake_actor)
    notes = notes_of(job.message, 1)
    assert any("1720.00 ÷ 7 = 245.7142857…, rounded half up to 245.7143" in n for n in notes), notes
    assert not any("÷" in n for n in notes_of(job.message, 2))  # 7,700.00 ÷ 20 is exact: nothing to say

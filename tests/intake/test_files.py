"""Marketplace files through their mappings: Taobao (GBK), Douyin (sub-order rows), 1688 (XLSX)."""

from decimal import Decimal

import pytest

from orderhub.intake import services
from orderhub.intake.models import ImportJob, InboundMessage
from orderhub.orders.models import Order

from .conftest import sample

pytestmark = pytest.mark.django_db
S = InboundMessage.Status


def upload(channel, parts, actor, mode="accept_valid", content=None):
    return services.upload_import(channel=channel, filename=parts[-1], content=content or sample(*parts),
                                  actor=actor, mode=mode)


def rows_problems(msg):
    out = {}
    for e in msg.errors:
        out.setdefault(e.get("row"), set()).add((e["field"], e["code"]))
    return out


TAOBAO = ("taobao", "ExportOrderList202602181230.csv")


def test_taobao_gbk_rows_1_2_import_and_each_bad_row_is_reported(master, intake_actor):
    job = upload("taobao", TAOBAO, intake_actor)
    msg = job.message
    assert msg.status == S.NEEDS_REVIEW  # some rows went in, some need a person
    first = Order.objects.get(channel="taobao", external_ref="3012345678901234567")  # 19 digits, exact
    second = Order.objects.get(channel="taobao", external_ref="3012345678901234568")
    assert first.customer.code == "C0502" and first.total_amount == Decimal("1720.00")
    ln = first.lines.get()
    assert (ln.product.sku, ln.qty, ln.unit_price) == ("OIL-FLT-0915", Decimal("20"), Decimal("86"))
    assert "#避周一" in first.tags  # 周一不收货
    assert second.total_amount == Decimal("7700.00")
    assert second.remarks.startswith("急用！\n请顺丰发，到付也可以，需要开专票")  # multi-line remark kept
    assert second.urgency == "red" and "#加急" in second.tags and "#专票" in second.tags
    assert Order.objects.count() == 2
    problems = rows_problems(msg)
    assert ("商家编码", "unknown_sku") in problems[3] and ("买家应付货款", "invalid_value") in problems[3]
    assert ("宝贝总数量", "invalid_value") in problems[4] and ("买家应付货款", "invalid_value") in problems[4]
    assert ("订单付款时间", "invalid_value") in problems[5] and ("订单创建时间", "invalid_value") in problems[5]
    assert set(problems) == {3, 4, 5}
    assert any("2026-02-31" in e["message"] for e in msg.errors if e.get("row") == 5)
    assert (job.rows_total, job.rows_done, job.orders_created, job.rows_failed) == (5, 5, 2, 3)
    assert job.status == ImportJob.Status.DONE
    # the same file again: nothing doubles
    again = upload("taobao", TAOBAO, intake_actor)
    assert again.duplicates == 2 and again.orders_created == 0 and Order.objects.count() == 2


def test_taobao_all_or_nothing_writes_nothing(master, intake_actor):
    job = upload("taobao", TAOBAO, intake_actor, mode="all_or_nothing")
    assert job.message.status == S.FAILED
    assert Order.objects.count() == 0
    assert {e["row"] for e in job.message.errors} == {3, 4, 5}
    results = {tuple(i["rows"]): i["result"] for i in job.message.report["items"]}
    assert results[(1,)] == "not_written" and results[(3,)] == "refused"


def test_all_or_nothing_with_valid_rows_writes_them_all(master, intake_actor):
    import csv
    import io

    rows = list(csv.reader(io.StringIO(sample(*TAOBAO).decode("gbk"), newline="")))
    good = "\r\n".join(",".join(f'"{c}"' for c in r) for r in rows[:3]).encode("gbk")
    job = upload("taobao", TAOBAO, intake_actor, mode="all_or_nothing", content=good)
    assert job.message.status == S.PARSED and job.orders_created == 2


@pytest.mark.smoke
def test_a_file_in_the_wrong_encoding_fails_naming_the_encoding(master, intake_actor):
    job = upload("douyin", TAOBAO, intake_actor)  # GBK bytes where UTF-8 is expected
    assert job.message.status == S.FAILED
    assert job.message.errors[0]["code"] == "unreadable" and "UTF-8" in job.message.errors[0]["message"]
    assert bytes(job.message.payload) == sample(*TAOBAO)


DOUYIN = ("douyin", "dy_orders_20260219.csv")


def test_douyin_sub_orders_become_orders_with_several_lines(master, intake_actor):
    job = upload("douyin", DOUYIN, intake_actor)
    assert job.message.status == S.PARSED, job.message.errors
    first = Order.objects.get(channel="douyin", external_ref="6920123456789012345")
    second = Order.objects.get(channel="douyin", external_ref="6920123456789012400")
    assert first.lines.count() == 2 and first.total_amount == Decimal("942.00")
    assert second.lines.count() == 1 and second.total_amount == Decimal("860.00")
    # masked phones identify nobody: the channel's retail account takes the orders
    assert first.customer.code == second.customer.code == "DY-RETAIL"
    assert (job.rows_total, job.orders_created) == (3, 2)


def test_douyin_without_a_retail_account_goes_to_review(master, intake_actor):
    from orderhub.intake.models import ConfigVersion

    spec = dict(ConfigVersion.objects.get(kind="mapping", code="douyin", is_current=True).spec)
    spec["defaults"] = {"lead_days": 3}
    services.config_save(data=spec, actor=intake_actor)
    job = upload("douyin", DOUYIN, intake_actor)
    assert job.message.status == S.NEEDS_REVIEW
    assert {e["code"] for e in job.message.errors} == {"unknown_customer"}
    assert Order.objects.count() == 0


ALIBABA = ("1688", "1688_orders_20260220.xlsx")


def test_1688_tons_become_pieces_and_chinese_numerals_are_read_not_guessed(master, intake_actor):
    job = upload("1688", ALIBABA, intake_actor)
    msg = job.message
    assert msg.status == S.PARSED, msg.errors
    bolts = Order.objects.get(channel="1688", external_ref="2026022012345678")
    ln = bolts.lines.get()
    assert bolts.customer.code == "C0451"
    # 1.5 t at 0.0176 kg/piece = 85,227.27 pieces, rounded half up to whole pieces
    assert (ln.qty, ln.unit, ln.base_qty) == (Decimal("1.5"), "吨", Decimal("85227"))
    assert ln.amount == Decimal("8448.00") and bolts.total_amount == Decimal("8448.00")
    nuts = Order.objects.get(channel="1688", external_ref="2026022012345679")
    assert nuts.lines.get().base_qty == Decimal("200000") and nuts.total_amount == Decimal("3300.00")
    housings = Order.objects.get(channel="1688", external_ref="2026022012345680")
    assert housings.customer.code == "C0388"
    assert housings.lines.get().qty == Decimal("500") and housings.total_amount == Decimal("21250.00")
    notes = [n for i in msg.report["items"] if i.get("rows") == [3] for n in i.get("notes", [])]
    assert any("五百" in n and "500" in n for n in notes), msg.report
    link = housings.inbound_messages.get().links.get(order=housings)
    assert link.meta["ordered_at"].startswith("2026-02-20T09:00")  # a date written as text


def test_1688_unreadable_numerals_are_reported_by_cell(master, intake_actor):
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(sample(*ALIBABA)))
    ws = wb.worksheets[0]
    ws["G5"] = "五五百"
    ws["N5"] = "二月二十日"
    buf = io.BytesIO()
    wb.save(buf)
    job = upload("1688", ALIBABA, intake_actor, content=buf.getvalue())
    problems = rows_problems(job.message)
    assert problems == {3: {("数量", "invalid_value"), ("付款时间", "invalid_value")}}
    assert job.orders_created == 2


def test_upload_refuses_unknown_channel_and_mode_and_a_webhook_channel_reads_a_json_file(master, intake_actor):
    from orderhub.core.errors import ValidationFailed

    for kwargs, field in ((dict(channel="nope"), "channel"), (dict(channel="taobao", mode="some"), "mode")):
        with pytest.raises(ValidationFailed) as exc:
            services.upload_receive(filename="x.csv", content=b"a,b", actor=intake_actor, **kwargs)
        assert exc.value.problems[0].field == field
    assert not InboundMessage.objects.exists()
    # a saved webhook body (the samples' mini-program files) imports through its channel's mapping
    job = services.upload_import(channel="miniprogram", filename="01-paid.json", actor=intake_actor,
                                 content=sample("miniprogram", "01-paid.json"), content_type="application/json")
    assert job.orders_created == 1 and job.message.status == "parsed"

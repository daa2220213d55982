"""Files as customers really send them: legacy .xls, merged cells, GB18030, and every other
format refused with a message naming it (never "File is not a zip file")."""

from __future__ import annotations

import datetime
import io
import zipfile
from decimal import Decimal

import pytest
import yaml
from openpyxl import Workbook, load_workbook

from orderhub.intake import readers, services
from orderhub.intake.models import InboundMessage
from orderhub.intake.readers import Unreadable, read, sniff
from orderhub.intake.spec import MappingSpec
from orderhub.orders.models import Order

from .conftest import sample

S = InboundMessage.Status

ALIBABA = ("1688", "1688_orders_20260220.xlsx")
TAOBAO = ("taobao", "ExportOrderList202602181230.csv")


def spec_of(name: str) -> MappingSpec:
    from pathlib import Path

    import orderhub.intake as pkg

    path = Path(pkg.__file__).parent / "templates_yaml" / name
    return MappingSpec(**yaml.safe_load(path.read_text(encoding="utf-8")))


def sample_rows() -> list[list]:
    wb = load_workbook(io.BytesIO(sample(*ALIBABA)))
    return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]


def make_xls(rows: list[list], merges=()) -> bytes:
    """A BIFF8 workbook written by xlwt (test dependency): (r0, r1, c0, c1) merges, 0-based."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("订单")
    when = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss")
    covered = set()
    for r0, r1, c0, c1 in merges:
        sheet.write_merge(r0, r1, c0, c1, rows[r0][c0])
        covered |= {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if (i, j) in covered or v is None:
                continue
            sheet.write(i, j, v, when) if isinstance(v, datetime.datetime) else sheet.write(i, j, v)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def make_xlsx(rows: list[list], merges: list[str]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    for ref in merges:
        ws.merge_cells(ref)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(channel, filename, content, actor):
    return services.upload_import(channel=channel, filename=filename, content=content, actor=actor)


# --------------------------------------------------------------------------- legacy .xls

@pytest.mark.django_db
def test_a_legacy_xls_imports_as_the_xlsx_does(master, intake_actor):
    payload = make_xls(sample_rows(), merges=[(0, 0, 0, 17)])  # the merged title row, as exported
    assert payload[:8] == readers.OLE_MAGIC and sniff(payload) == "xls"
    job = upload("1688", "1688_orders_20260220.xls", payload, intake_actor)
    assert job.message.status == S.PARSED, job.message.errors
    bolts = Order.objects.get(channel="1688", external_ref="2026022012345678")
    ln = bolts.lines.get()
    assert (ln.qty, ln.unit, ln.base_qty, ln.amount) == (Decimal("1.5"), "吨", Decimal("85227"), Decimal("8448.00"))
    housings = Order.objects.get(channel="1688", external_ref="2026022012345680")
    assert housings.lines.get().qty == Decimal("500")  # 五百, read and said so
    link = bolts.inbound_messages.get().links.get(order=bolts)
    assert link.meta["paid_at"].startswith("2026-02-20T08:03")  # an Excel date cell, read as a date


def test_xls_numbers_come_out_as_excel_shows_them():
    rows = [["订单号", "数量", "单价"], [2026022012345678, 3, 0.0165]]
    records = read(spec_of("alibaba1688.yaml").model_copy(update={"header_row": 1}), make_xls(rows))
    values = records[0].values
    assert values["订单号"] == 2026022012345678 and isinstance(values["订单号"], int)  # not 2.026e15
    assert values["数量"] == 3 and values["单价"] == 0.0165


def test_an_xls_over_its_cap_is_refused_before_xlrd_reads_it(settings):
    settings.ORDERHUB_INTAKE_MAX_XLS_BYTES = 4096
    payload = make_xls(sample_rows() * 3)
    assert len(payload) > 4096
    with pytest.raises(Unreadable, match=r"\.xls\) may be at most"):
        read(spec_of("alibaba1688.yaml"), payload)


def test_a_damaged_xls_is_refused_naming_the_format():
    payload = make_xls(sample_rows())
    with pytest.raises(Unreadable, match=r"not a readable Excel 97-2003 workbook \(\.xls\)"):
        read(spec_of("alibaba1688.yaml"), payload[:512] + b"\x00" * 512 + payload[1024:])  # no BOF record


# --------------------------------------------------------------------------- merged cells

def _buyer_merged_rows():
    rows = sample_rows()
    rows[3][1] = None  # row 2's buyer: the cell merged with row 1's
    return rows


def test_a_buyer_merged_across_rows_applies_to_each_row_xlsx():
    payload = make_xlsx(_buyer_merged_rows(), ["A1:R1", "B3:B4"])
    records = read(spec_of("alibaba1688.yaml"), payload)
    assert [r.values["买家公司名"] for r in records] == [
        "常州恒通紧固件贸易有限公司", "常州恒通紧固件贸易有限公司", "无锡华泰汽车部件有限公司"]
    # merged across columns (the title) copies nothing sideways
    assert records[0].values["订单号"] == "2026022012345678"


def test_a_buyer_merged_across_rows_applies_to_each_row_xls():
    payload = make_xls(_buyer_merged_rows(), merges=[(0, 0, 0, 17), (2, 3, 1, 1)])
    records = read(spec_of("alibaba1688.yaml"), payload)
    assert [r.values["买家公司名"] for r in records][:2] == ["常州恒通紧固件贸易有限公司"] * 2


@pytest.mark.django_db
def test_merged_buyer_rows_each_become_an_order_for_the_buyer(master, intake_actor):
    job = upload("1688", "merged.xlsx", make_xlsx(_buyer_merged_rows(), ["A1:R1", "B3:B4"]), intake_actor)
    assert job.message.status == S.PARSED, job.message.errors
    nuts = Order.objects.get(channel="1688", external_ref="2026022012345679")
    assert nuts.customer.code == "C0451"


def test_a_sheet_declaring_too_many_merges_is_refused():
    rows = [["a", "b"]] + [[str(i), None] for i in range(3)]
    payload = make_xlsx(rows, [])
    with zipfile.ZipFile(io.BytesIO(payload)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    merges = b"".join(b'<mergeCell ref="B%d:B%d"/>' % (i, i + 1) for i in range(1, 2 * readers.MAX_MERGES + 4, 2))
    sheet = members["xl/worksheets/sheet1.xml"]
    members["xl/worksheets/sheet1.xml"] = sheet.replace(
        b"</sheetData>", b"</sheetData><mergeCells>" + merges + b"</mergeCells>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(Unreadable, match="merged cells; refused"):
        read(spec_of("alibaba1688.yaml").model_copy(update={"header_row": 1}), buf.getvalue())


# --------------------------------------------------------------------------- other formats

def _docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def _ods() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    return buf.getvalue()


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("订单.csv", "a,b")
    return buf.getvalue()


def _encrypted() -> bytes:  # what Excel writes for a workbook with a password: an OLE2 container
    return readers.OLE_MAGIC + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512


UNSUPPORTED = {
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
    "png": (None, "a picture"),
    "html": (b'<html><head><meta charset="gbk"></head><body><table><tr><td>1</td></tr></table>',
             "a web page (HTML)"),
    "docx": (None, "a Word document (.docx)"),
    "ods": (None, "an OpenDocument spreadsheet (.ods)"),
    "encrypted": (None, "a password-protected Excel workbook"),
    "csv": (None, "a text file (CSV)"),
    "zip": (None, "a ZIP archive"),
}


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED))
def test_an_unsupported_format_is_refused_naming_it(kind):
    payload, name = UNSUPPORTED[kind]
    payload = payload or {"png": lambda: sample("email", "PO-2026-0318.png"), "docx": _docx, "ods": _ods,
                          "encrypted": _encrypted, "csv": lambda: sample(*TAOBAO), "zip": _zip}[kind]()
    with pytest.raises(Unreadable) as exc:
        read(spec_of("alibaba1688.yaml"), payload)
    message = str(exc.value)
    assert name in message and "not an Excel workbook" in message
    assert "is not a zip file" not in message.lower()  # zipfile's words never reach a person


def test_a_workbook_sent_to_a_csv_channel_is_refused_naming_it():
    with pytest.raises(Unreadable, match=r"an Excel workbook \(\.xlsx\), not CSV text"):
        read(spec_of("taobao.yaml"), sample(*ALIBABA))
    with pytest.raises(Unreadable, match=r"Excel 97-2003 workbook \(\.xls\), not CSV text"):
        read(spec_of("taobao.yaml"), make_xls(sample_rows()))


@pytest.mark.django_db
def test_an_unsupported_upload_fails_with_the_chinese_reason(master, intake_actor):
    from django.utils import translation

    with translation.override("zh-hans"):
        job = upload("1688", "订单.xls", UNSUPPORTED["html"][0], intake_actor)
    assert job.message.status == S.FAILED
    message = job.message.errors[0]["message"]
    assert "网页" in message and "zip" not in message.lower(), message


# --------------------------------------------------------------------------- Chinese CSV

def test_gbk_declared_csv_reads_gb18030_characters():
    """GB18030 is the superset of GBK: a buyer's name with 䶮 (not in GBK) is read, not refused."""
    text = sample(*TAOBAO).decode("gbk").replace("李强", "刘䶮", 1)
    payload = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        payload.decode("gbk")
    for encoding in ("gbk", "gb18030"):
        records = read(spec_of("taobao.yaml").model_copy(update={"encoding": encoding}), payload)
        assert records[0].values["收货人姓名"] == "刘䶮"
    assert spec_of("taobao.yaml").encoding == "gb18030"


def test_a_csv_in_another_encoding_is_told_which_encoding_fits():
    with pytest.raises(Unreadable, match="It reads as GB18030"):
        read(spec_of("douyin.yaml"), sample(*TAOBAO))
    utf8 = sample(*TAOBAO).decode("gbk").encode("utf-8")
    with pytest.raises(Unreadable, match="It reads as UTF-8"):
        read(spec_of("taobao.yaml"), utf8)


def test_a_utf8_csv_with_a_byte_order_mark_reads_whatever_the_declared_encoding():
    text = sample(*TAOBAO).decode("gbk")
    records = read(spec_of("taobao.yaml"), b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert len(records) == 5 and records[0].values["买家会员名"] == "捷达汽配"


# --------------------------------------------------------------------------- PDFs with a text layer

def _draft_of(payload: bytes, actor):
    msg = services.inbound_receive(channel="email", kind="api", payload=payload, content_type="application/pdf",
                                   actor=actor, filename="po.pdf")
    msg = services.inbound_process(message=msg, actor=actor)
    return msg, msg.drafts.get().data


def _no_ocr(monkeypatch):
    from orderhub.intake import ocr

    def refuse():
        raise AssertionError("a page with a text layer was OCR'd")

    monkeypatch.setattr(ocr, "_get_engine", refuse)


EXPECTED_LINES = [("SNS-HSG-0231", Decimal(500), Decimal("42.50")), ("SNS-CVR-0112", Decimal(500), Decimal("8.80"))]


@pytest.mark.django_db
def test_a_pdf_with_a_text_layer_is_read_from_it_with_its_line_table(master, intake_actor, monkeypatch):
    from .pdfs import purchase_order

    _no_ocr(monkeypatch)
    msg, d = _draft_of(purchase_order(), intake_actor)
    assert msg.status == S.NEEDS_REVIEW and msg.report["pages"] == ["text"]
    assert d["customer"] == "C0388" and d["required_date"] == "2026-03-05"
    assert d["external_ref"] == "C0388/PO-2026-0401" and d["urgency"] == "red"
    assert [(ln["sku"], Decimal(ln["qty"]), Decimal(ln["unit_price"])) for ln in d["lines"]] == EXPECTED_LINES
    assert all(ln["unit"] == "件" for ln in d["lines"])
    assert msg.errors == []  # the lines add up to the PO's total
    assert set(msg.drafts.get().confidence.values()) == {1.0}  # read, not recognised


@pytest.mark.django_db
def test_a_line_table_without_a_header_row_is_found_by_its_numbers(master, intake_actor, monkeypatch):
    from .pdfs import purchase_order

    _no_ocr(monkeypatch)
    msg, d = _draft_of(purchase_order(header_row=False), intake_actor)
    assert [(ln["sku"], Decimal(ln["qty"]), Decimal(ln["unit_price"])) for ln in d["lines"]] == EXPECTED_LINES
    assert msg.errors == [] and d["meta"]["columns"] == "inferred"


def test_headerless_numbers_that_do_not_multiply_out_are_flagged_not_trusted():
    from orderhub.intake.ocr import Box, read_purchase_order

    boxes = [Box("采购方:无锡华泰汽车部件有限公司", 1, 0, 0, 300, 20), Box("交货日期:2026-03-05", 1, 0, 30, 200, 50),
             Box("SNS-HSG-0231", 1, 0, 100, 120, 120), Box("500", 1, 300, 100, 330, 120),
             Box("42.50", 1, 400, 100, 440, 120), Box("99.00", 1, 500, 100, 550, 120)]
    reading = read_purchase_order(boxes, find_customer=lambda n: "C0388", find_product=lambda t: t if t.startswith("SNS") else None)
    assert reading.data["lines"] == [{"sku": "SNS-HSG-0231", "qty": "500"}]
    assert reading.confidence["lines[0].qty"] == 0.5
    assert any(p["field"] == "lines[0].qty" and "check it" in p["message"] for p in reading.problems)


@pytest.mark.django_db
def test_keys_and_values_in_separate_cells_are_paired(master, intake_actor, monkeypatch):
    from .pdfs import HEAD, purchase_order

    _no_ocr(monkeypatch)
    head = [HEAD[0], (50, 750, 10, "订单号"), (120, 750, 10, "PO-2026-0402"), (50, 735, 10, "采购方"),
            (120, 735, 10, "无锡华泰汽车部件有限公司"), (50, 720, 10, "交货日期："), (120, 720, 10, "2026-03-06")]
    _msg, d = _draft_of(purchase_order(head=head), intake_actor)
    assert (d["external_ref"], d["customer"], d["required_date"]) == ("C0388/PO-2026-0402", "C0388", "2026-03-06")


@pytest.mark.django_db
def test_only_a_page_without_text_is_ocrd(master, intake_actor, monkeypatch):
    from orderhub.intake import ocr

    from .pdfs import purchase_order

    seen = []

    class Engine:
        def __call__(self, image):
            seen.append(image.shape)
            return [], 0.0

    monkeypatch.setattr(ocr, "_get_engine", Engine)
    msg, d = _draft_of(purchase_order(pages_after=1), intake_actor)
    assert msg.report["pages"] == ["text", "ocr"] and len(seen) == 1
    assert len(d["lines"]) == 2


def test_a_cut_off_xlsx_is_called_damaged_not_a_zip_error():
    payload = sample(*ALIBABA)
    with pytest.raises(Unreadable) as exc:
        read(spec_of("alibaba1688.yaml"), payload[: len(payload) // 2])
    assert "damaged or incomplete" in str(exc.value) and "zip" not in str(exc.value).lower()


@pytest.mark.django_db
def test_a_pdf_uploaded_on_the_import_page_ends_its_job_with_a_draft(master, settings, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from orderhub.intake.models import ImportJob
    from tests.web.test_pages import login

    from .pdfs import purchase_order

    _no_ocr(monkeypatch)
    settings.ORDERHUB_RUN_JOBS_INLINE = True
    c = login("service")
    f = SimpleUploadedFile("po.pdf", purchase_order(), content_type="application/pdf")
    resp = c.post("/intake/upload/", {"channel": "1688", "mode": "accept_valid", "file": f})
    assert resp.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.DONE  # not "importing" for ever
    page = c.get(resp["Location"]).content.decode()
    assert 'data-testid="draft-made"' in page and "第 1 页：按文字层读取" in page

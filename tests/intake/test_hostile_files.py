"""Hostile files are refused before they are parsed, fast and in bounded memory, with a reason a
person can act on; never a 500, never minutes of CPU.

The zip bombs are made here, without compressing a gigabyte: after a full flush a deflate
compressor starts afresh, so a block repeated in the input compresses to the same bytes each
time and the stream is those bytes repeated."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from orderhub.intake import readers
from orderhub.intake.models import ImportJob, InboundMessage
from orderhub.intake.readers import Unreadable, read
from orderhub.intake.spec import compile_mapping
from orderhub.orders.models import Order

from .conftest import CHANNELS, sample

TEMPLATES = Path(readers.__file__).parent / "templates_yaml"
SHEET = "xl/worksheets/sheet1.xml"
NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
MiB = 1024 * 1024


def spec_of(template: str):
    return compile_mapping(yaml.safe_load((TEMPLATES / template).read_text(encoding="utf-8"))).spec


# --------------------------------------------------------------------------- making hostile zips


def _deflate_repeated(head: bytes, block: bytes, times: int, tail: bytes) -> tuple[bytes, int, int]:
    """Raw deflate of head + block × times + tail, its CRC-32 and its size."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    body = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    assert body == c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)  # the same bytes every time
    last = c.compress(tail) + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    return first + body * times + last, zlib.crc32(tail, crc), len(head) + len(block) * times + len(tail)


def _zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip written by hand from (name, deflated bytes, CRC-32, declared size)."""
    out, central = io.BytesIO(), []
    for name, data, crc, size in members:
        offset, raw = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size,
                              len(raw), 0) + raw + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                                   len(data), size, len(raw), 0, 0, 0, 0, 0, offset) + raw)
    start = out.tell()
    out.write(b"".join(central))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), out.tell() - start,
                          start, 0))
    return out.getvalue()


def xlsx_with_sheet(sheet: tuple[bytes, int, int] | bytes, *, declare: int | None = None) -> bytes:
    """The 1688 sample workbook with its first sheet replaced (deflated stream or plain XML)."""
    if isinstance(sheet, bytes):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        sheet = (c.compress(sheet) + c.flush(), zlib.crc32(sheet), len(sheet))
    members = []
    with zipfile.ZipFile(CHANNELS / "1688" / "1688_orders_20260220.xlsx") as z:
        for info in z.infolist():
            if info.filename == SHEET:
                data, crc, size = sheet
                members.append((SHEET, data, crc, size if declare is None else declare))
            else:
                raw = z.read(info.filename)
                c = zlib.compressobj(9, zlib.DEFLATED, -15)
                members.append((info.filename, c.compress(raw) + c.flush(), zlib.crc32(raw), len(raw)))
    return _zip(members)


def giant_bomb(mib: int) -> bytes:
    """One cell of ``mib`` MiB of 'A' (deflate's best ratio, about 1,000 to 1)."""
    return xlsx_with_sheet(_deflate_repeated(b"<worksheet " + NS + b'><sheetData><row><c t="inlineStr"><is><t>',
                                             b"A" * MiB, mib, b"</t></is></c></row></sheetData></worksheet>"))


def rows_bomb(mib: int) -> bytes:
    """``mib`` MiB of real rows (about 280 to 1, like the file in the issue: 917 KB → 236 MB)."""
    row = b'<row><c t="inlineStr"><is><t>AAAAAAAAAAAAAAAAAAAAAAAA</t></is></c></row>'
    return xlsx_with_sheet(_deflate_repeated(b"<worksheet " + NS + b"><sheetData>", row * (MiB // len(row)), mib,
                                             b"</sheetData></worksheet>"))


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    made = {"giant": giant_bomb(1100), "reported": rows_bomb(236)}
    made["lying"] = xlsx_with_sheet(_deflate_repeated(b"<worksheet " + NS + b"><sheetData>", b"A" * MiB, 1100,
                                                      b"</sheetData></worksheet>"), declare=10_000)
    folder = tmp_path_factory.mktemp("bombs")
    for name, content in made.items():
        (folder / f"{name}.xlsx").write_bytes(content)
    return folder


def _declared(payload: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(payload)) as z:
        return sum(i.file_size for i in z.infolist())


# --------------------------------------------------------------------------- zip bombs


MEASURE = textwrap.dedent("""
    import json, sys, time, tracemalloc
    import django
    django.setup()
    import yaml
    from django.utils import translation
    from orderhub.intake.readers import Unreadable, read
    from orderhub.intake.spec import compile_mapping

    def status(key):  # kB, from the kernel (ru_maxrss would carry the parent's peak over exec)
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])

    translation.activate("zh-hans")
    spec = compile_mapping(yaml.safe_load(open(sys.argv[2], encoding="utf-8"))).spec
    payload = open(sys.argv[1], "rb").read()
    import openpyxl  # imported before measuring: its import is not the file's cost
    before = status("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # start the peak (VmHWM) afresh from here
    except OSError:  # not allowed here: the peak then counts from the start (an upper bound)
        pass
    tracemalloc.start()
    started = time.perf_counter()
    try:
        read(spec, payload)
        outcome = "read"
    except Unreadable as exc:
        outcome = str(exc)
    elapsed = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"outcome": outcome, "seconds": elapsed, "rss_before_kib": before,
                      "rss_peak_kib": status("VmHWM"), "python_peak_bytes": traced, "bytes": len(payload)}))
""")


def _measure_in_a_fresh_process(path: Path, tmp_path: Path) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "orderhub.settings", "ORDERHUB_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(TEMPLATES / "alibaba1688.yaml")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_gigabyte_zip_bomb_is_refused_in_a_second_with_bounded_memory(bombs, tmp_path):
    """1.1 MB of xlsx declaring 1.1 GiB of sheet: refused from the central directory before
    anything is inflated. Measured in a fresh process: time and peak RSS (ru_maxrss) around the
    read; the figures are printed (``-s``) for the record."""
    path = bombs / "giant.xlsx"
    assert _declared(path.read_bytes()) > 1024 * MiB and path.stat().st_size < 1.5 * MiB
    m = _measure_in_a_fresh_process(path, tmp_path)
    print(f"\nzip bomb: {m['bytes']:,} bytes declaring {_declared(path.read_bytes()):,}; refused in "
          f"{m['seconds'] * 1000:.1f} ms; peak RSS {m['rss_peak_kib'] / 1024:.1f} MiB, "
          f"{(m['rss_peak_kib'] - m['rss_before_kib']) / 1024:.1f} MiB above the process before reading; "
          f"Python allocations peaked at {m['python_peak_bytes'] / MiB:.2f} MiB")
    assert m["outcome"] == "文件解压后超过 256 MB，已拒绝。"
    assert m["seconds"] < 5  # about 10 ms on a quiet machine; generous for a shared CI box
    assert m["rss_peak_kib"] - m["rss_before_kib"] < 64 * 1024


def test_the_reported_file_is_refused_by_its_compression_ratio(bombs, tmp_path):
    """Like the file in the issue (917 KB of xlsx, 236 MB of XML: 9 minutes of CPU, 1.2 GB)."""
    path = bombs / "reported.xlsx"
    assert path.stat().st_size < 1 * MiB and 200 * MiB < _declared(path.read_bytes()) < 256 * MiB
    m = _measure_in_a_fresh_process(path, tmp_path)
    print(f"\nreported file: {m['bytes']:,} bytes; refused in {m['seconds'] * 1000:.1f} ms; peak RSS "
          f"{m['rss_peak_kib'] / 1024:.1f} MiB (+{(m['rss_peak_kib'] - m['rss_before_kib']) / 1024:.1f}); "
          f"Python allocations peaked at {m['python_peak_bytes'] / MiB:.2f} MiB")
    assert "压缩比超过 100 比 1" in m["outcome"] and "xl/worksheets/sheet1.xml" in m["outcome"]
    assert m["seconds"] < 5
    assert m["rss_peak_kib"] - m["rss_before_kib"] < 64 * 1024


def test_inflation_is_budgeted_even_if_the_directory_check_is_fooled(bombs, monkeypatch, settings):
    """The second line: members inflate through a byte budget, whatever the directory said."""
    settings.ORDERHUB_INTAKE_MAX_UNZIPPED_BYTES = MiB
    monkeypatch.setattr(readers, "check_zip", lambda payload: MiB)  # as if it had been fooled
    payload = (bombs / "reported.xlsx").read_bytes()
    tracemalloc.start()
    started = time.perf_counter()
    with translation.override("zh-hans"), pytest.raises(Unreadable) as refused:
        read(spec_of("alibaba1688.yaml"), payload)
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert str(refused.value) == "文件解压后超过 1 MB，已拒绝。"
    assert elapsed < 10 and peak < 32 * MiB, (elapsed, peak)


def test_a_header_that_understates_its_size_gets_no_further(bombs):
    """The central directory says 10 kB; the stream holds 1.1 GiB: inflation stops at the
    declared size and the file is unreadable (its CRC cannot match), at once."""
    payload = (bombs / "lying.xlsx").read_bytes()
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(Unreadable):
        read(spec_of("alibaba1688.yaml"), payload)
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 5 and peak < 32 * MiB, (elapsed, peak)


def test_a_zip_bomb_uploaded_on_the_page_is_refused_with_a_chinese_reason(bombs, master, settings):
    from tests.web.test_pages import login

    settings.ORDERHUB_RUN_JOBS_INLINE = True
    c = login("service")
    f = SimpleUploadedFile("订单.xlsx", (bombs / "giant.xlsx").read_bytes(),
                           content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    started = time.perf_counter()
    resp = c.post("/intake/upload/", {"channel": "1688", "mode": "accept_valid", "file": f})
    assert time.perf_counter() - started < 10
    assert resp.status_code == 302
    job = ImportJob.objects.get()
    msg = InboundMessage.objects.get(pk=job.message_id)
    assert msg.status == "failed"
    assert msg.errors[0]["message"] == "文件解压后超过 256 MB，已拒绝。"
    page = c.get(resp["Location"]).content.decode()
    assert "文件解压后超过 256 MB，已拒绝。" in page
    assert not Order.objects.exists()


def test_a_zip_bomb_uploaded_over_the_api_is_refused_not_a_500(bombs, master):
    from django.test import Client

    from orderhub.core.tokens import token_create

    _, raw = token_create(user=master["users"]["service"], name="t")
    f = SimpleUploadedFile("bomb.xlsx", (bombs / "reported.xlsx").read_bytes())
    resp = Client().post("/api/intake/uploads", {"channel": "1688", "file": f},
                         headers={"Authorization": f"Bearer {raw}"})
    assert resp.status_code == 201, resp.content
    detail = Client().get(f"/api/intake/messages/{resp.json()['message']}",
                          headers={"Authorization": f"Bearer {raw}"}).json()
    assert detail["status"] == "failed" and detail["errors"][0]["code"] == "unreadable"


# --------------------------------------------------------------------------- other hostile sheets


def _sheet(rows_xml: bytes, dimension: bytes = b"") -> bytes:
    return b"<worksheet " + NS + b">" + dimension + b"<sheetData>" + rows_xml + b"</sheetData></worksheet>"


def test_a_sheet_that_declares_a_huge_size_is_read_as_stored(settings):
    """A dimension of A1:XFD1048576 made openpyxl pad every row to 16,384 cells."""
    original = zipfile.ZipFile(CHANNELS / "1688" / "1688_orders_20260220.xlsx").read(SHEET)
    lying = original.replace(b'<dimension ref="A1:R5" />', b'<dimension ref="A1:XFD1048576" />')
    assert lying != original
    records = read(spec_of("alibaba1688.yaml"), xlsx_with_sheet(lying))
    assert records == read(spec_of("alibaba1688.yaml"), sample("1688", "1688_orders_20260220.xlsx"))


def test_rows_and_columns_are_capped(settings):
    spec = spec_of("alibaba1688.yaml")
    settings.ORDERHUB_INTAKE_MAX_ROWS = 2
    with translation.override("zh-hans"), pytest.raises(Unreadable) as refused:
        read(spec, sample("1688", "1688_orders_20260220.xlsx"))
    assert str(refused.value) == "文件超过 2 行，请拆分成较小的文件后再导入。"
    with pytest.raises(Unreadable):
        read(spec_of("taobao.yaml"), sample("taobao", "ExportOrderList202602181230.csv"))
    settings.ORDERHUB_INTAKE_MAX_ROWS = 200_000
    assert read(spec, sample("1688", "1688_orders_20260220.xlsx"))
    settings.ORDERHUB_INTAKE_MAX_COLUMNS = 10
    with pytest.raises(Unreadable, match="10"):
        read(spec, sample("1688", "1688_orders_20260220.xlsx"))
    with pytest.raises(Unreadable, match="10"):
        read(spec_of("taobao.yaml"), sample("taobao", "ExportOrderList202602181230.csv"))
    wide = _sheet(b'<row><c r="A1" t="inlineStr"><is><t>x</t></is></c><c r="XFD1"><v>1</v></c></row>')
    with pytest.raises(Unreadable, match="10"):
        read(spec, xlsx_with_sheet(wide))


def test_row_numbers_far_beyond_excel_end_the_read(settings):
    """A row numbered 10^12 would have made the reader yield a trillion empty rows."""
    far = _sheet(b'<row r="1"><c t="inlineStr"><is><t>x</t></is></c></row>'
                 b'<row r="1000000000000"><c t="inlineStr"><is><t>y</t></is></c></row>')
    started = time.perf_counter()
    with pytest.raises(Unreadable):
        read(spec_of("alibaba1688.yaml"), xlsx_with_sheet(far))
    assert time.perf_counter() - started < 30


def test_broken_and_entity_laden_workbooks_are_unreadable_not_crashes():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i else b"&lol;") * 10)
                         for i in range(10))
              + b']><worksheet ' + NS + b'><sheetData><row><c t="inlineStr"><is><t>&lol9;</t></is></c></row>'
              b"</sheetData></worksheet>")
    for sheet in (laughs, b"\x00\x01 not xml at all", b"<worksheet " + NS + b"><sheetData><row><c>"):
        started = time.perf_counter()
        with pytest.raises(Unreadable):
            read(spec_of("alibaba1688.yaml"), xlsx_with_sheet(sheet))
        assert time.perf_counter() - started < 5
    for junk in (b"PK\x03\x04" + b"\x00" * 100, b"not a zip", b""):
        with pytest.raises(Unreadable):
            read(spec_of("alibaba1688.yaml"), junk)


def test_csv_lines_and_json_nesting_are_bounded():
    with pytest.raises(Unreadable, match="1048576"):
        read(spec_of("taobao.yaml"), ("订单编号," + "," * (2 * MiB)).encode("gbk"))
    with pytest.raises(Unreadable) as refused:
        read(spec_of("miniprogram.yaml"), b"[" * 200_000 + b"]" * 200_000)
    assert "nested" in str(refused.value)


def test_a_control_character_in_a_marketplace_cell_is_that_rows_problem(master, intake_actor):
    from orderhub.intake.services import inbound_process, inbound_receive

    text = sample("taobao", "ExportOrderList202602181230.csv").decode("gbk")
    text = text.replace("捷达汽配,1720.00", "捷达\x0b汽配,1720.00", 1)  # a column that is looked up
    text = text.replace("tb_8812", "tb_\x008812", 1)  # NUL: PostgreSQL refuses it in any query
    msg = inbound_receive(channel="taobao", kind="upload", payload=text.encode("gbk"), actor=intake_actor,
                          content_type="text/csv", filename="t.csv")
    msg = inbound_process(message=msg, actor=intake_actor)
    problems = {(p["row"], p["field"]): p["message"] for it in msg.report["items"] for p in it.get("problems", [])}
    assert "U+000B" in problems[(1, "买家会员名")]
    assert "NUL" in problems[(3, "买家会员名")]
    assert msg.report["summary"]["orders_created"] >= 1  # the other rows went in


# --------------------------------------------------------------------------- pictures, PDFs, e-mail


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def test_images_are_capped_in_pixels_before_decoding(settings):
    from PIL import Image

    from orderhub.intake.ocr import _images

    settings.ORDERHUB_INTAKE_MAX_IMAGE_PIXELS = 50_000_000
    started = time.perf_counter()
    with translation.override("zh-hans"), pytest.raises(Unreadable) as refused:
        _images(_png_header(40_000, 40_000), "image/png")  # 1.6 gigapixels declared in 70 bytes
    assert time.perf_counter() - started < 1
    assert str(refused.value) == "图片超过 50000000 像素，已拒绝。"
    assert Image.MAX_IMAGE_PIXELS == 50_000_000  # Pillow's own bomb check, set explicitly
    with pytest.raises(Unreadable):  # between once and twice the limit Pillow only warns
        _images(_png_header(8_000, 7_000), "image/png")
    ok = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(ok, "PNG")
    assert [im.size for im in _images(ok.getvalue(), "image/png")] == [(200, 100)]


def _pdf(pages: int, size: tuple[float, float] = (595, 842)) -> bytes:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(*size)
    out = io.BytesIO()
    pdf.save(out)
    pdf.close()
    return out.getvalue()


def test_pdfs_are_capped_in_pages_and_rendered_within_the_pixel_cap(settings):
    from orderhub.intake.ocr import _images

    settings.ORDERHUB_INTAKE_MAX_PDF_PAGES = 20
    settings.ORDERHUB_INTAKE_MAX_IMAGE_PIXELS = 2_000_000
    with translation.override("zh-hans"), pytest.raises(Unreadable) as refused:
        _images(_pdf(21), "application/pdf")
    assert str(refused.value) == "PDF 共 21 页，超过上限 20 页，已拒绝。"
    assert len(_images(_pdf(7), "application/pdf")) == 5  # a purchase order: the first pages
    huge = _images(_pdf(1, (14400, 14400)), "application/pdf")  # 200 inches square
    assert huge[0].width * huge[0].height <= 2_000_000


def test_a_refused_document_is_recorded_on_its_message(master, intake_actor, settings):
    from orderhub.intake.services import draft_from_document, inbound_receive

    settings.ORDERHUB_INTAKE_MAX_PDF_PAGES = 3
    msg = inbound_receive(channel="email", kind="attachment", payload=_pdf(4), actor=intake_actor,
                          content_type="application/pdf", filename="po.pdf")
    with translation.override("zh-hans"):
        msg = draft_from_document(message=msg, actor=intake_actor)
    assert msg.status == "failed" and "PDF 共 4 页，超过上限 3 页，已拒绝。" in msg.errors[0]["message"]


def test_an_email_nesting_its_parts_too_deeply_is_refused(master, intake_actor):
    from orderhub.intake.services import email_process, email_receive

    head = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(3000))
    tail = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(3000)))
    raw = b"From: buyer@example.com\r\nSubject: PO\r\nMessage-ID: <deep@x>\r\n" + head + b"Content-Type: text/plain\r\n\r\nhi" + tail
    msg = email_receive(raw=raw, actor=intake_actor)  # the headers only: no recursion here
    assert msg.headers["Subject"] == "PO"
    msg = email_process(message=msg, actor=intake_actor)
    assert msg.status == "failed" and msg.errors[0]["code"] == "unreadable"

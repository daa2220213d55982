"""E-mail from a real IMAP server on loopback (pymap), attachments into the inbox, a scanned
PO through offline OCR into a draft a person confirms; OCR of a generated Chinese PO."""

from __future__ import annotations

import imaplib
import io
import socket
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest

from orderhub.intake import services
from orderhub.intake.models import Draft, InboundMessage
from orderhub.orders.models import Order
from tests.api.conftest import api_as  # noqa: F401  (fixture)

from .conftest import sample

pytestmark = pytest.mark.django_db
S = InboundMessage.Status
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # Debian fonts-wqy-microhei (.ci/run)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def imap_server():
    """A real IMAP4rev1 server (pymap, in-memory) on a loopback port, stopped after the test."""
    port = _free_port()
    exe = Path(sys.executable).with_name("pymap")
    proc = subprocess.Popen([str(exe), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict",
                             "--demo-user", "orders", "--demo-password", "po-secret"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pymap did not start: {proc.stderr.read().decode()[-500:]}") from None
                time.sleep(0.1)
        yield services.ImapSettings(host="127.0.0.1", port=port, user="orders", password="po-secret",
                                    mailbox="INBOX", ssl=False)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _append(imap: services.ImapSettings, raw: bytes) -> None:
    conn = imaplib.IMAP4(imap.host, imap.port)
    conn.login(imap.user, imap.password)
    typ, _ = conn.append(imap.mailbox, None, None, raw)
    assert typ == "OK"
    conn.logout()


def _unseen(imap: services.ImapSettings) -> int:
    conn = imaplib.IMAP4(imap.host, imap.port)
    conn.login(imap.user, imap.password)
    conn.select(imap.mailbox)
    _, data = conn.uid("SEARCH", None, "UNSEEN")
    conn.logout()
    return len((data[0] or b"").split())


def _xlsx_mail() -> bytes:
    m = EmailMessage()
    m["From"] = "周工 <zhou@hengtong.example>"
    m["To"] = "orders@supplier.example"
    m["Subject"] = "1688 订单"
    m["Message-ID"] = "<xlsx-1@hengtong.example>"
    m.set_content("附件为订单。")
    m.add_attachment(sample("1688", "1688_orders_20260220.xlsx"), maintype="application",
                     subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     filename="1688_orders_20260220.xlsx")
    return m.as_bytes()


def test_imap_poll_stores_messages_and_attachments_and_drafts_the_scanned_po(master, intake_actor,
                                                                             imap_server, api_as):  # noqa: F811
    _append(imap_server, sample("email", "po-2026-0318.eml"))
    _append(imap_server, _xlsx_mail())
    got = services.email_poll(imap=imap_server, actor=intake_actor)
    assert _unseen(imap_server) == 0  # flagged seen once stored
    po_mail, xlsx_mail = sorted(got, key=lambda m: m.pk)
    # verbatim as the server sent it (IMAP speaks CRLF; the sample file has LF)
    assert bytes(po_mail.payload).replace(b"\r\n", b"\n") == sample("email", "po-2026-0318.eml")
    assert po_mail.external_ref == "<po-2026-0318@huatai-auto.example>" and "chen.gong" in po_mail.source
    # the spreadsheet went through the 1688 mapping
    assert xlsx_mail.status == S.PARSED
    assert Order.objects.filter(channel="1688").count() == 3
    # the scan became a draft awaiting a person
    assert po_mail.status == S.NEEDS_REVIEW
    scan = po_mail.children.get()
    assert scan.filename == "PO-2026-0318.png" and bytes(scan.payload) == sample("email", "PO-2026-0318.png")
    draft = Draft.objects.get(message=scan)
    d = draft.data
    assert d["customer"] == "C0388" and d["required_date"] == "2026-03-05"
    assert d["urgency"] == "red" and "#加急" in d["tags"]  # 加急 in the remark
    assert [(ln["sku"], Decimal(ln["qty"]), Decimal(ln["unit_price"])) for ln in d["lines"]] == [
        ("SNS-HSG-0231", Decimal(500), Decimal("42.50")), ("SNS-CVR-0112", Decimal(500), Decimal("8.80"))]
    assert d["meta"]["total"] == "25650.00"
    assert all(0 < draft.confidence[k] <= 1 for k in ("customer", "required_date", "lines[0].qty"))
    assert not Order.objects.filter(channel="email").exists()  # nothing before a person confirms
    # a person confirms (through the API) and the order exists
    client = api_as("service")
    listed = client.get("/api/intake/drafts").json()
    assert [x["id"] for x in listed] == [draft.pk]
    resp = client.post(f"/api/intake/drafts/{draft.pk}/confirm", {"changes": {}})
    assert resp.status_code == 200, resp.content
    order = Order.objects.get(number=resp.json()["order"])
    assert order.customer.code == "C0388" and order.total_amount == Decimal("25650.00")
    assert order.required_date == date(2026, 3, 5) and order.urgency == "red"
    assert order.external_ref == "C0388/PO-2026-0318"
    scan.refresh_from_db()
    assert scan.status == S.PARSED and client.get("/api/intake/drafts").json() == []
    assert client.post(f"/api/intake/drafts/{draft.pk}/confirm", {"changes": {}}).status_code == 409
    # the same e-mail delivered again (e.g. a crash before it was flagged) is a duplicate
    _append(imap_server, sample("email", "po-2026-0318.eml"))
    (repeat,) = services.email_poll(imap=imap_server, actor=intake_actor)
    assert repeat.status == S.DUPLICATE and not repeat.children.exists()
    assert services.email_poll(imap=imap_server, actor=intake_actor) == []


def test_a_mail_without_attachment_waits_for_a_person(master, intake_actor, imap_server):
    m = EmailMessage()
    m["From"] = "a@b.example"
    m["Subject"] = "请报价"
    m["Message-ID"] = "<plain@b.example>"
    m.set_content("请问 M8 螺栓的价格？")
    _append(imap_server, m.as_bytes())
    (msg,) = services.email_poll(imap=imap_server, actor=intake_actor)
    assert msg.status == S.NEEDS_REVIEW and msg.errors[0]["code"] == "no_attachment"


def _po_image() -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 30)
    img = Image.new("RGB", (1240, 760), "white")
    d = ImageDraw.Draw(img)
    d.text((460, 40), "采 购 订 单", font=ImageFont.truetype(str(FONT), 44), fill="black")
    rows = [("采购方：常州恒通紧固件贸易有限公司", 140), ("订单号：PO-2026-0777", 190),
            ("交货日期：2026-04-10", 240)]
    for text, y in rows:
        d.text((80, y), text, font=font, fill="black")
    for x, text in ((80, "序号"), (170, "物料编码"), (450, "名称"), (740, "数量"), (870, "单位"),
                    (960, "单价"), (1090, "金额")):
        d.text((x, 330), text, font=font, fill="black")
    d.line((70, 375, 1200, 375), fill="black", width=2)
    for y, cells in ((400, ("1", "M10-NUT-8", "六角螺母", "80000", "件", "0.018", "1440.00")),
                     (460, ("2", "M8X30-HEX-88", "外六角螺栓", "60000", "件", "0.10", "6000.00"))):
        for x, text in zip((80, 170, 450, 740, 870, 960, 1090), cells, strict=True):
            d.text((x, y), text, font=font, fill="black")
    d.text((740, 540), "合计：7440.00", font=font, fill="black")
    d.text((80, 620), "备注：需附出厂检验报告，周一不收货", font=font, fill="black")
    buf = io.BytesIO()
    img.rotate(0.8, expand=False, fillcolor="white").save(buf, "PNG")
    return buf.getvalue()


def test_ocr_of_a_generated_chinese_po_image_and_pdf(master, intake_actor):
    png = _po_image()
    from PIL import Image

    pdf = io.BytesIO()
    Image.open(io.BytesIO(png)).save(pdf, "PDF", resolution=100)
    for content, ctype in ((png, "image/png"), (pdf.getvalue(), "application/pdf")):
        msg = services.inbound_receive(channel="email", kind="api", payload=content, content_type=ctype,
                                       actor=intake_actor, filename="po." + ctype.split("/")[1])
        msg = services.inbound_process(message=msg, actor=intake_actor)
        assert msg.status == S.NEEDS_REVIEW, msg.errors
        d = msg.drafts.get().data
        assert d["customer"] == "C0451" and d["required_date"] == "2026-04-10", d
        assert d["external_ref"] == "C0451/PO-2026-0777"
        assert [(ln["sku"], Decimal(ln["qty"])) for ln in d["lines"]] == [
            ("M10-NUT-8", Decimal(80000)), ("M8X30-HEX-88", Decimal(60000))], d
        assert "check:出厂检验报告" in d["tags"] and "#避周一" in d["tags"]
        assert msg.errors == [], msg.errors  # quantities × prices add up to the total


def test_a_person_corrects_a_draft_before_confirming_or_discards_it(master, intake_actor, company):
    from orderhub.intake.services import drafts as drafts_service

    msg = services.inbound_receive(channel="email", kind="api", payload=b"\x89PNG broken", content_type="image/png",
                                   actor=intake_actor)
    msg = services.inbound_process(message=msg, actor=intake_actor)
    assert msg.status == S.FAILED and msg.errors[0]["code"] == "ocr_failed"
    draft = Draft.objects.create(message=msg, data={"customer": "C0388", "required_date": "2026-03-05",
                                                    "lines": [{"sku": "SNS-HSG-0231", "qty": "50"}]},
                                 confidence={"lines[0].qty": 0.4}, created_at=msg.received_at)
    with pytest.raises(Exception) as exc:
        drafts_service.draft_confirm(draft=draft, actor=company["actors"]["warehouse"])
    assert exc.value.status == 403
    with pytest.raises(Exception) as exc:
        drafts_service.draft_confirm(draft=draft, actor=company["actors"]["service"],
                                     changes={"lines": [{"sku": "SNS-HSG-0231", "qty": "-5"}]})
    assert exc.value.problems[0].field == "lines[0].qty"
    done = drafts_service.draft_confirm(draft=draft, actor=company["actors"]["service"],
                                        changes={"lines": [{"sku": "SNS-HSG-0231", "qty": "500"}]})
    assert done.order.lines.get().qty == Decimal("500") and done.decided_by == "service"
    other = Draft.objects.create(message=msg, data={}, created_at=msg.received_at)
    drafts_service.draft_discard(draft=other, actor=company["actors"]["service"], reason="spam")
    other.refresh_from_db()
    assert other.status == "discarded"

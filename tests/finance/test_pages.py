"""The finance pages in Chinese: the workspace (bank import with per-row faults or results),
issuing an invoice from the shipment page, the order page's finance card, a return through QC
and receipt on its page, the customer's finance tab; no codes or None shown."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orderhub.finance.models import Invoice, ReturnOrder
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db
D = Decimal


def _clean(html: str) -> None:
    assert "None" not in html and "invoice_gate" not in html


def test_issue_an_invoice_from_the_shipment_page_and_work_it_on_the_workspace(fin):
    order, sh = fin["ship"]("40", "3")
    c = login("finance")
    page = c.get(f"/shipping/{sh.number}/").content.decode()
    assert 'data-testid="issue-invoice"' in page
    r = c.post(f"/finance/shipments/{sh.number}/invoice", {"kind": "special"})
    inv = Invoice.objects.get(shipment=sh)
    assert r.status_code == 302 and r["Location"] == f"/finance/invoices/{inv.number}/"
    detail = c.get(r["Location"]).content.decode()
    assert "增值税专用发票" in detail and "120.00" in detail and "91320500MA1XXXXX0K" in detail
    _clean(detail)
    card = c.get(f"/finance/orders/{order.number}/card").content.decode()
    assert inv.number in card
    home = c.get("/finance/").content.decode()
    assert inv.number in home and 'data-testid="bank-import"' in home
    _clean(home)
    bad = c.post("/finance/bank-import", {"file": SimpleUploadedFile("b.csv", "交易日期,金额,流水号\n2026-11-31,5,X\n".encode())})
    assert bad.status_code == 422 and "第 2 行：交易日期无法识别" in bad.content.decode()
    good = c.post("/finance/bank-import", {"file": SimpleUploadedFile(
        "g.csv", f"交易日期,金额,对方户名,摘要,流水号\n2026-11-20,120,,{inv.number},G1\n".encode())}, follow=True)
    text = good.content.decode()
    assert 'data-testid="bank-result"' in text and "按摘要中的发票号匹配" in text
    assert Invoice.objects.get(pk=inv.pk).balance == 0
    tab = c.get("/finance/customers/C001/").content.decode()
    assert "苏州博锐精工" in tab and inv.number in tab
    _clean(tab)
    sales = login("sales")
    assert 'data-testid="bank-import"' not in sales.get("/finance/").content.decode()
    assert inv.number in sales.get("/finance/customers/C001/").content.decode()   # their own customer


def test_the_gate_reason_shows_on_the_order_card(fin):
    order, sh = fin["ship"]("5", "1", prove=False)
    card = login("finance").get(f"/finance/orders/{order.number}/card").content.decode()
    assert "不能开票：缺少签收凭证、缺少客户验收" in card and 'data-testid="issue-invoice"' not in card
    assert login("production").get(f"/finance/orders/{order.number}/card").status_code == 404


def test_a_return_through_its_pages(fin):
    order, _sh = fin["ship"]("10", "5")
    sales = login("sales")
    card = sales.get(f"/finance/orders/{order.number}/card").content.decode()
    assert 'data-testid="create-return"' in card
    r = sales.post(f"/finance/orders/{order.number}/returns", {"ret-1": "3", "reason": "划伤"})
    ret = ReturnOrder.objects.get(order=order)
    assert r["Location"] == f"/finance/returns/{ret.number}/"
    qc = login("qc")
    assert 'data-testid="record-qc"' in qc.get(r["Location"]).content.decode()
    qc.post(f"/finance/returns/{ret.number}/qc", {"passed": "1", "remark": "属实",
                                                  "file": SimpleUploadedFile("qc.txt", b"report")})
    wh = login("warehouse")
    page = wh.get(r["Location"]).content.decode()
    assert 'data-testid="receive-return"' in page and "质检合格" in page
    wh.post(f"/finance/returns/{ret.number}/receive")
    page = wh.get(r["Location"]).content.decode()
    assert "已入库" in page and f"HZ{ret.number}" in page and "一号仓" in page
    _clean(page)
    assert wh.get("/finance/returns/").status_code == 200

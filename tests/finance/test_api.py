"""The finance API: the gate's reason as a 409, the bank import's bad rows as a 422 naming each
row, a payment and its application, the voucher download, a return through QC (the report file
served only as a download) and receipt, the customer's billing details and finance summary."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.web.test_pages import login

pytestmark = pytest.mark.django_db
D = Decimal


def test_invoices_payments_and_vouchers_through_the_api(fin):
    _o, sh = fin["ship"]("100", "2.50", prove=False)
    c = login("finance")
    refused = c.post(f"/api/finance/shipments/{sh.number}/invoice", {"kind": "normal"}, content_type="application/json")
    assert refused.status_code == 409 and refused.json()["code"] == "invoice_gate"
    assert "缺少签收凭证" in refused.json()["message"]
    _o, ok = fin["ship"]("100", "2.50")
    r = c.post(f"/api/finance/shipments/{ok.number}/invoice", {"kind": "special"}, content_type="application/json")
    assert r.status_code == 201, r.content
    inv = r.json()
    assert (inv["amount"], inv["tax_no"], inv["balance"]) == ("250.00", "91320500MA1XXXXX0K", "250.00")
    bad = c.post("/api/finance/bank-imports", {"file": _file("a.csv", "交易日期,金额,流水号\n2026-11-20,abc,B1\n,5,B2\n")})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"rows.2", "rows.3"}
    pay = c.post("/api/finance/payments", {"customer": "C001", "amount": "100.00", "received_on": "2026-11-20"},
                 content_type="application/json")
    assert pay.status_code == 201 and pay.json()["unapplied"] == "100.00"
    applied = c.post(f"/api/finance/payments/{pay.json()['number']}/apply", {"invoice": inv["number"]},
                     content_type="application/json")
    assert applied.status_code == 200 and applied.json()["invoice_balance"] == "150.00"
    summary = c.get("/api/finance/customers/C001").json()
    assert summary["unpaid_amount"] == summary["open_balance"] == "150.00"
    assert [i["number"] for i in c.get("/api/finance/invoices?status=open").json()["items"]] == [inv["number"]]
    xlsx = c.get("/api/finance/vouchers/yonyou?start=2020-01-01&end=2020-12-31")
    assert xlsx.status_code == 200 and xlsx["Content-Disposition"].startswith("attachment;")
    assert login("sales").post("/api/finance/payments", {}, content_type="application/json").status_code == 403


def test_a_return_through_the_api_and_its_qc_file_as_a_download(fin):
    order, _sh = fin["ship"]("10", "5")
    sales, qc, wh = login("sales"), login("qc"), login("warehouse")
    over = sales.post(f"/api/finance/orders/{order.number}/returns", {"lines": [{"line_no": 1, "qty": "11"}],
                      "reason": "划伤"}, content_type="application/json")
    assert over.status_code == 409 and over.json()["errors"][0]["data"]["returnable"] == "10.0000"
    r = sales.post(f"/api/finance/orders/{order.number}/returns", {"lines": [{"line_no": 1, "qty": "2"}],
                   "reason": "划伤"}, content_type="application/json")
    assert r.status_code == 201, r.content
    number = r.json()["number"]
    assert wh.post(f"/api/finance/returns/{number}/receive").json()["code"] == "qc_required"
    html = b"<html><script>alert(1)</script></html>"
    q = qc.post(f"/api/finance/returns/{number}/qc", {"passed": "true", "remark": "属实", "file": _file("r.html", html)})
    assert q.status_code == 200, q.content
    assert q.json()["qc"]["file_name"] == "r.html", q.json()
    f = qc.get(f"/api/finance/returns/{number}/qc/file")
    assert f.status_code == 200, f.content
    assert f["Content-Disposition"].startswith("attachment;") and f["Content-Type"] == "application/octet-stream"
    assert b"".join(f.streaming_content) == html
    done = wh.post(f"/api/finance/returns/{number}/receive")
    assert done.status_code == 200 and done.json()["credit_note"]["amount"] == "10.00"
    assert done.json()["lines"][0]["warehouse"] == "WH1"


def test_customer_billing_details_through_the_catalog_api(fin):
    admin = login("admin")
    r = admin.put("/api/catalog/customers/C001/billing", {"tax_no": "9132XXXX", "bank_name": "工行",
                  "bank_account": "1", "billing_address": "苏州", "billing_phone": "1"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["tax_no"] == "9132XXXX"
    assert admin.get("/api/catalog/customers/C001/billing").json()["bank_name"] == "工行"
    assert login("finance").get("/api/catalog/customers/C001/billing").status_code == 403


def _file(name: str, content: str | bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content)

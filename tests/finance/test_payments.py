"""Payments by hand and from a bank statement (CSV and XLSX): matched by the invoice number in
the memo, else by customer and amount, else left for a person; malformed rows reported per row
with nothing written; a failure half-way leaves nothing applied; a payment never over-applied
(also with threads); unpaid amount = open balances throughout."""

from __future__ import annotations

import io
import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from openpyxl import Workbook

from orderhub.catalog.models import Customer
from orderhub.core.errors import Conflict
from orderhub.finance.models import Allocation, BankImport, Invoice, Payment
from orderhub.finance.services import (
    BankRowError,
    bank_import,
    invoice_issue,
    payment_apply,
    payment_record,
)
from orderhub.finance.services import common as fin_common

pytestmark = pytest.mark.django_db
D = Decimal


def _unpaid(fin) -> Decimal:
    return Customer.objects.get(pk=fin["customer"].pk).unpaid_amount


def _invoices(fin, *amounts: str) -> list[Invoice]:
    out = []
    for qty in amounts:
        _o, sh = fin["ship"](qty, "1")
        out.append(invoice_issue(shipment=sh.number, kind="normal", actor=fin["a"]["finance"]))
    return out


def _csv(rows: list[list[str]]) -> bytes:
    lines = ["交易日期,金额,对方户名,摘要,交易流水号"] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def test_manual_payment_settles_an_invoice_and_never_more_than_it_owes(fin):
    inv, = _invoices(fin, "300")
    finance = fin["a"]["finance"]
    pay = payment_record(customer="C001", amount=D("500"), received_on=date(2026, 11, 20), actor=finance,
                         invoice=inv.number)
    pay.refresh_from_db()
    inv.refresh_from_db()
    assert (pay.applied, inv.settled, _unpaid(fin)) == (D("300"), D("300"), D("0"))
    inv2, = _invoices(fin, "50")
    assert _unpaid(fin) == D("50")
    with pytest.raises(Conflict) as over:
        payment_apply(payment=pay.number, invoice=inv2.number, amount=D("60"), actor=finance)
    assert over.value.code == "over_applied" and "50.00" in over.value.message
    payment_apply(payment=pay.number, invoice=inv2.number, actor=finance)
    assert _unpaid(fin) == D("0")
    with pytest.raises(Conflict):
        payment_apply(payment=pay.number, invoice=inv2.number, actor=finance)


def test_bank_csv_matches_by_memo_then_by_customer_and_amount_and_leaves_the_rest(fin):
    a, b, c = _invoices(fin, "120", "80", "45")
    assert _unpaid(fin) == D("245")
    content = _csv([
        ["2026-11-20", "120.00", "某代付公司", f"货款 {a.number}", "B001"],
        ["2026/11/21", "80", "苏州博锐精工", "十一月货款", "B002"],
        ["2026-11-21", "999.00", "不认识的公司", "往来款", "B003"],
    ])
    imp = bank_import(name="11月.csv", content=content, actor=fin["a"]["finance"])
    assert (imp.rows, imp.matched, imp.unmatched) == (3, 2, 1)
    by_ref = {r["ref"]: r for r in imp.results}
    assert by_ref["B001"]["invoice"] == a.number and by_ref["B002"]["invoice"] == b.number
    assert by_ref["B003"]["result"] == "unmatched"
    assert _unpaid(fin) == D("45")
    stray = Payment.objects.get(bank_ref="B003")
    assert stray.customer_id is None and stray.applied == 0
    payment_apply(payment=stray.number, invoice=c.number, actor=fin["a"]["finance"])   # by hand
    assert _unpaid(fin) == D("0") and Payment.objects.get(pk=stray.pk).customer_id == fin["customer"].pk
    with pytest.raises(BankRowError) as again:
        bank_import(name="again.csv", content=content + b"\n", actor=fin["a"]["finance"])
    assert {p.field for p in again.value.problems} == {"rows.2", "rows.3", "rows.4"}


def test_bank_xlsx_is_read_too(fin):
    inv, = _invoices(fin, "66")
    wb = Workbook()
    ws = wb.active
    ws.append(["交易日期", "收入金额", "付款方", "用途", "流水号"])
    ws.append([date(2026, 11, 22), 66, "苏州博锐精工", f"付 {inv.number}", "X1"])
    buf = io.BytesIO()
    wb.save(buf)
    imp = bank_import(name="statement.xlsx", content=buf.getvalue(), actor=fin["a"]["finance"])
    assert imp.matched == 1 and _unpaid(fin) == D("0")


def test_malformed_rows_are_reported_per_row_and_nothing_is_written(fin):
    _invoices(fin, "10")
    content = _csv([
        ["2026-11-20", "10.00", "苏州博锐精工", "ok", "R1"],
        ["2026-13-45", "10.00", "x", "bad date", "R2"],
        ["2026-11-20", "-5", "x", "negative", "R3"],
        ["2026-11-20", "7.123", "x", "three decimals", ""],
        ["2026-11-20", "3", "x", "dup", "R1"],
    ])
    with pytest.raises(BankRowError) as refused:
        bank_import(name="bad.csv", content=content, actor=fin["a"]["finance"])
    problems = {p.field: str(p.message) for p in refused.value.problems}
    assert set(problems) == {"rows.3", "rows.4", "rows.5", "rows.6"}
    assert "交易日期无法识别" in problems["rows.3"] and "缺少流水号" in problems["rows.5"]
    assert "重复" in problems["rows.6"]
    assert not Payment.objects.exists() and not BankImport.objects.exists() and _unpaid(fin) == D("10")


def test_a_failure_half_way_through_the_rows_leaves_nothing_applied(fin, monkeypatch):
    a, b = _invoices(fin, "10", "20")
    real, calls = fin_common.allocate, []

    def failing(**kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(**kw)

    monkeypatch.setattr("orderhub.finance.services.bank.allocate", failing)
    content = _csv([["2026-11-20", "10", "", a.number, "H1"], ["2026-11-20", "20", "", b.number, "H2"]])
    with pytest.raises(RuntimeError):
        bank_import(name="half.csv", content=content, actor=fin["a"]["finance"])
    assert not Payment.objects.exists() and not Allocation.objects.exists() and not BankImport.objects.exists()
    assert Invoice.objects.get(pk=a.pk).settled == 0 and _unpaid(fin) == D("30")


@pytest.mark.django_db(transaction=True)
def test_concurrent_applications_never_over_apply_a_payment(fin):
    """One payment of 100 applied at once by 6 connections to 6 invoices of 30: 3 get through."""
    invoices = _invoices(fin, *["30"] * 6)
    finance = fin["a"]["finance"]
    pay = payment_record(customer="C001", amount=D("100"), received_on=date(2026, 11, 20), actor=finance)
    barrier, results, errors = threading.Barrier(6), [], []

    def client(inv):
        try:
            barrier.wait(timeout=30)
            payment_apply(payment=pay.number, invoice=inv.number, amount=D("30"), actor=finance)
            results.append("ok")
        except Conflict as e:
            results.append(e.code)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(inv,)) for inv in invoices]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(results) == ["ok"] * 3 + ["over_applied"] * 3
    assert Payment.objects.get(pk=pay.pk).applied == D("90")
    assert _unpaid(fin) == D("90")

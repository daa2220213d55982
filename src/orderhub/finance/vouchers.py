"""Accounting vouchers of invoices, receipts and credit notes, as Excel files in the import
layouts of Kingdee (金蝶) and Yonyou (用友). The layouts are documented in docs/finance.md and
pinned by golden files (tests/finance/golden/).

Entries (one voucher per document, 记 vouchers numbered from 1 within the file):
  invoice      Dr 1122 应收账款 (customer) amount / Cr 6001 主营业务收入 net / Cr 22210106 销项税额 tax
  receipt      Dr 1002 银行存款 amount / Cr 1122 应收账款 (customer), a deposit Cr 2203 预收账款
  credit note  the invoice entry in red (negative amounts): 红字冲销
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from orderhub.core import clock

from .models import CreditNote, Invoice, Payment

SYSTEMS = ("kingdee", "yonyou")
ACCOUNTS = {
    "ar": ("1122", "应收账款"),
    "revenue": ("6001", "主营业务收入"),
    "vat": ("22210106", "应交税费-应交增值税-销项税额"),
    "bank": ("1002", "银行存款"),
    "advance": ("2203", "预收账款"),
}
KINGDEE_COLUMNS = ["凭证日期", "会计年度", "会计期间", "凭证字", "凭证号", "分录号", "摘要", "科目代码",
                   "科目名称", "币别", "汇率", "原币金额", "借方金额", "贷方金额", "核算项目", "制单人",
                   "附件数"]
YONYOU_COLUMNS = ["凭证类别", "凭证号", "制单日期", "附单据数", "摘要", "科目编码", "科目名称", "借方金额",
                  "贷方金额", "币种", "汇率", "外币金额", "客户编码", "客户名称", "制单人"]


@dataclass(frozen=True)
class Entry:
    account: str
    debit: Decimal
    credit: Decimal
    customer: tuple[str, str] | None   # (code, name) for the receivables line


@dataclass(frozen=True)
class Voucher:
    on: date
    summary: str
    entries: list[Entry]


def _sales(on: date, summary: str, amount: Decimal, tax: Decimal, customer: Any, sign: int) -> Voucher:
    cust = (customer.code, customer.name) if customer else None
    z = Decimal("0.00")
    return Voucher(on, summary, [
        Entry("ar", sign * amount, z, cust),
        Entry("revenue", z, sign * (amount - tax), None),
        Entry("vat", z, sign * tax, None),
    ])


def vouchers(start: date, end: date) -> list[Voucher]:
    """Every voucher of documents dated ``start``..``end``: by date, then invoices, receipts,
    credit notes, each by number."""
    out: list[tuple[date, int, str, Voucher]] = []
    for inv in Invoice.objects.filter(issued_on__range=(start, end)).select_related("customer"):
        kind = "专票" if inv.kind == Invoice.Kind.SPECIAL else "普票"
        out.append((inv.issued_on, 0, inv.number, _sales(
            inv.issued_on, f"开票 {inv.number}（{kind}）{inv.customer.name}", inv.amount, inv.tax_amount,
            inv.customer, 1)))
    for pay in Payment.objects.filter(received_on__range=(start, end)).select_related("customer"):
        cust = (pay.customer.code, pay.customer.name) if pay.customer else None
        side = "advance" if pay.kind == Payment.Kind.DEPOSIT else "ar"
        who = pay.customer.name if pay.customer else pay.payer
        z = Decimal("0.00")
        out.append((pay.received_on, 1, pay.number, Voucher(pay.received_on, f"收款 {pay.number} {who}", [
            Entry("bank", pay.amount, z, None), Entry(side, z, pay.amount, cust)])))
    for cn in CreditNote.objects.filter(issued_on__range=(start, end)).select_related("customer"):
        out.append((cn.issued_on, 2, cn.number, _sales(
            cn.issued_on, f"红字冲销 {cn.number} 退货 {cn.customer.name}", cn.amount, cn.tax_amount,
            cn.customer, -1)))
    return [v for *_k, v in sorted(out, key=lambda t: t[:3])]


def _kingdee_rows(vs: list[Voucher], maker: str) -> list[list[Any]]:
    rows = []
    for no, v in enumerate(vs, start=1):
        for line, e in enumerate(v.entries, start=1):
            code, name = ACCOUNTS[e.account]
            rows.append([v.on.isoformat(), v.on.year, v.on.month, "记", no, line, v.summary, code, name,
                         "RMB", 1, float(e.debit or e.credit), float(e.debit), float(e.credit),
                         f"客户---{e.customer[0]}---{e.customer[1]}" if e.customer else "", maker, 1])
    return rows


def _yonyou_rows(vs: list[Voucher], maker: str) -> list[list[Any]]:
    rows = []
    for no, v in enumerate(vs, start=1):
        for e in v.entries:
            code, name = ACCOUNTS[e.account]
            rows.append(["记", no, v.on.isoformat(), 1, v.summary, code, name, float(e.debit), float(e.credit),
                         "人民币", 1, 0, e.customer[0] if e.customer else "", e.customer[1] if e.customer else "",
                         maker])
    return rows


def export(system: str, start: date, end: date, *, maker: str) -> bytes:
    """The vouchers of ``start``..``end`` as an .xlsx in ``system``'s import layout."""
    if system not in SYSTEMS:
        raise ValueError(system)
    # here, not at import: a process that never writes a workbook never loads it
    from openpyxl import Workbook
    from openpyxl.styles import Font

    vs = vouchers(start, end)
    wb = Workbook()
    ws = wb.worksheets[0]
    if system == "kingdee":
        ws.title, columns, rows = "Page1", KINGDEE_COLUMNS, _kingdee_rows(vs, maker)
    else:
        ws.title, columns, rows = "凭证", YONYOU_COLUMNS, _yonyou_rows(vs, maker)
    ws.append(columns)
    for c in ws[1]:
        c.font = Font(bold=True)
    for r in rows:
        ws.append(r)
    now = clock.now().replace(tzinfo=None, microsecond=0)
    wb.properties.created = wb.properties.modified = now
    wb.properties.creator = "OrderHub"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def filename(system: str, start: date, end: date) -> str:
    label = "金蝶" if system == "kingdee" else "用友"
    return f"{label}凭证_{start:%Y%m%d}-{end:%Y%m%d}.xlsx"

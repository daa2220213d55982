"""Voucher export: invoices, receipts and credit notes in Kingdee's and Yonyou's import layouts,
each proved cell by cell against a golden file (tests/finance/golden/) made under a fixed clock.
The order number comes from a database sequence, so it is replaced by ``SO-GOLDEN-<n>`` before
comparing. Regenerate after a deliberate layout change with ORDERHUB_UPDATE_GOLDEN=1."""

from __future__ import annotations

import io
import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from orderhub.core import clock
from orderhub.finance import vouchers
from orderhub.finance.services import (
    ReturnInput,
    invoice_issue,
    payment_record,
    return_create,
    return_qc,
    return_receive,
)
from tests.conftest import SH

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent / "golden"
D = Decimal


def _cells(content: bytes, names: dict[str, str]) -> list[list[object]]:
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    out = []
    for row in ws.iter_rows(values_only=True):
        cells = []
        for v in row:
            if isinstance(v, str):
                for real, stable in names.items():
                    v = v.replace(real, stable)
            cells.append(v)
        out.append(cells)
    return out


@pytest.fixture
def month(fin):
    a = fin["a"]
    with clock.frozen(datetime(2026, 11, 23, 9, 0, tzinfo=SH)):
        o1, sh1 = fin["ship"]("100", "2.50")
        o2, sh2 = fin["ship"]("40", "3")
        inv1 = invoice_issue(shipment=sh1.number, kind="special", actor=a["finance"])
        invoice_issue(shipment=sh2.number, kind="normal", actor=a["finance"])
    with clock.frozen(datetime(2026, 11, 24, 10, 0, tzinfo=SH)):
        payment_record(customer="C001", amount=D("250"), received_on=date(2026, 11, 24), actor=a["finance"],
                       invoice=inv1.number, memo="11月货款")
        payment_record(customer="C001", amount=D("500"), received_on=date(2026, 11, 24), actor=a["finance"],
                       kind="deposit", memo="新订单定金")
    with clock.frozen(datetime(2026, 11, 25, 14, 0, tzinfo=SH)):
        ret = return_create(order=o2.number, actor=a["sales"], data=ReturnInput({1: D("10")}, "螺纹不良"))
        return_qc(ret=ret.number, passed=True, remark="属实", actor=a["qc"])
        return_receive(ret=ret.number, actor=a["warehouse"])
    return {o1.number: "SO-GOLDEN-1", o2.number: "SO-GOLDEN-2"}


@pytest.mark.parametrize("system", ["kingdee", "yonyou"])
def test_voucher_export_matches_its_golden_file(month, system):
    with clock.frozen(datetime(2026, 12, 1, 8, 0, tzinfo=SH)):
        content = vouchers.export(system, date(2026, 11, 1), date(2026, 11, 30), maker="财务张三")
    got = _cells(content, month)
    path = GOLDEN / f"vouchers_{system}.xlsx"
    if os.environ.get("ORDERHUB_UPDATE_GOLDEN") == "1":
        wb = Workbook()
        ws = wb.active
        ws.title = load_workbook(io.BytesIO(content)).worksheets[0].title
        for row in got:
            ws.append(row)
        wb.save(path)
    expected = _cells(path.read_bytes(), {})
    assert got == expected
    # the layout's own columns, as docs/finance.md states them
    header = vouchers.KINGDEE_COLUMNS if system == "kingdee" else vouchers.YONYOU_COLUMNS
    assert got[0] == header
    # 2 invoices × 3 lines, 2 receipts × 2 lines, 1 credit note × 3 lines
    assert len(got) == 1 + 6 + 4 + 3


def test_every_voucher_balances(month):
    for v in vouchers.vouchers(date(2026, 11, 1), date(2026, 11, 30)):
        assert sum(e.debit for e in v.entries) == sum(e.credit for e in v.entries), v.summary

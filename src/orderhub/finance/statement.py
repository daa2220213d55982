"""Reading a bank statement file (CSV in UTF-8 or GBK, or XLSX) into rows, every fault named by
row and column; nothing here writes. Columns are found by their header (the names banks use)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from orderhub.core.errors import Problem

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
HEADERS = {
    "date": ("交易日期", "日期", "记账日期", "到账日期"),
    "amount": ("金额", "收入金额", "贷方金额", "收入", "贷方发生额"),
    "payer": ("付款方", "对方户名", "付款人", "对方账户名称"),
    "memo": ("摘要", "用途", "附言", "备注"),
    "ref": ("流水号", "交易流水号", "银行流水号"),
}
REQUIRED = ("date", "amount", "ref")
LABELS = {"date": "交易日期", "amount": "金额", "payer": "付款方", "memo": "摘要", "ref": "流水号"}


@dataclass(frozen=True)
class StatementRow:
    row: int          # the row number in the file (the header is row 1)
    on: date
    amount: Decimal
    payer: str
    memo: str
    ref: str


def read_rows(name: str, content: bytes) -> list[list[Any]]:
    """The file's cells, row by row (XLSX: the first sheet; CSV: UTF-8 with or without BOM, or GBK)."""
    if len(content) > MAX_BYTES:
        raise ValueError(_("The file may be at most 5 MB."))
    if content.startswith(b"PK\x03\x04") or name.lower().endswith(".xlsx"):
        # here, not at import: only a workbook needs it
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as e:  # a broken or disguised file: one message, not a 500
            raise ValueError(_("The Excel file cannot be read: %(e)s") % {"e": type(e).__name__}) from e
        ws = wb.worksheets[0]
        return [list(r) for _i, r in zip(range(MAX_ROWS + 2), ws.iter_rows(values_only=True), strict=False)]
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes every byte string
        raise ValueError(_("The file's encoding could not be recognised."))
    return [r for _i, r in zip(range(MAX_ROWS + 2), csv.reader(io.StringIO(text)), strict=False)]


def _columns(header: list[Any]) -> dict[str, int]:
    names = [str(h or "").strip() for h in header]
    out = {}
    for key, aliases in HEADERS.items():
        for i, n in enumerate(names):
            if n in aliases:
                out[key] = i
                break
    return out


def _date(v: Any) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    s = str(v or "").strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"):
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    return None


def _amount(v: Any) -> Decimal | None:
    s = str(v if v is not None else "").strip().replace(",", "").replace("¥", "").replace("￥", "")
    try:
        d = Decimal(s)
    except InvalidOperation:
        return None
    if not d.is_finite() or d <= 0 or d >= Decimal("1e13") or d != d.quantize(Decimal("0.01")):
        return None
    return d


def _text(v: Any, n: int) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", " ", str(v if v is not None else "")).strip()[:n]


def parse(name: str, content: bytes) -> tuple[list[StatementRow], list[Problem]]:
    """Every row of the statement, or the faults: one ``Problem`` per bad row (field
    ``rows.<n>``) naming the column and what is wrong."""
    try:
        cells = read_rows(name, content)
    except ValueError as e:
        return [], [Problem("unreadable", str(e), field="file")]
    if not cells:
        return [], [Problem("empty_file", _("This file is empty."), field="file")]
    if len(cells) > MAX_ROWS + 1:
        return [], [Problem("too_many_rows", _("At most %(n)s rows can be imported at once.") % {"n": MAX_ROWS}, field="file")]
    cols = _columns(cells[0])
    missing = [LABELS[k] for k in REQUIRED if k not in cols]
    if missing:
        msg = _("The header lacks the column: %(c)s.") % {"c": "、".join(missing)}
        return [], [Problem("missing_columns", msg, field="rows.1")]
    rows, problems, seen = [], [], set()
    for n, raw in enumerate(cells[1:], start=2):
        if not any(str(c or "").strip() for c in raw):
            continue
        cell = {k: raw[i] if i < len(raw) else None for k, i in cols.items()}
        faults = []
        on, amount, ref = _date(cell.get("date")), _amount(cell.get("amount")), _text(cell.get("ref"), 64)
        if on is None:
            faults.append(_("The transaction date cannot be read"))
        if amount is None:
            faults.append(_("The amount must be a number above 0 (at most two decimals)"))
        if not ref:
            faults.append(_("The transaction number is missing"))
        elif ref in seen:
            faults.append(_("Transaction number %(r)s appears more than once in the file") % {"r": ref})
        seen.add(ref)
        if faults:
            problems.append(Problem("bad_row", _("Row %(n)s: %(f)s.") % {"n": n, "f": "；".join(faults)},
                                    field=f"rows.{n}"))
            continue
        assert on is not None and amount is not None
        rows.append(StatementRow(n, on, amount, _text(cell.get("payer"), 200), _text(cell.get("memo"), 300), ref))
    if not rows and not problems:
        problems.append(Problem("empty_file", _("The file has no transaction rows."), field="file"))
    return rows, problems

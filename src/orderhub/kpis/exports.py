"""A dashboard table as an Excel workbook: title, period and filters, the generation time, then
the table as shown beside its chart. Text is kept as text (never a formula)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from orderhub.core.text import is_formula_like, xml_safe


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    text = xml_safe(str(value))
    return "'" + text if is_formula_like(text) else text


def table_workbook(*, title: str, lines: Sequence[str], columns: Sequence[str],
                   rows: Sequence[Sequence[Any]], now: datetime) -> bytes:
    """xlsx bytes: ``title`` in bold, each of ``lines`` (period, filters, generated at) below
    it, a blank row, the header and the rows."""
    # here, not at import: a process that never writes a workbook never loads it
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.worksheet import Worksheet

    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = xml_safe(title)[:31].translate({ord(c): "_" for c in "[]:*?/\\"}) or "KPI"
    ws.append([_cell(title)])
    ws["A1"].font = Font(bold=True, size=13)
    for line in lines:
        ws.append([_cell(line)])
    ws.append([])
    ws.append([_cell(c) for c in columns])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([_cell(v) for v in row])
    for i, _c in enumerate(columns):
        ws.column_dimensions[chr(65 + i)].width = 22 if i < 2 else 14
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

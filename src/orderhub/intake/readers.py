"""Bytes → records. A record is one order's worth of source data: its order-level fields and
its line-level fields, each with the place it came from so problems name the source.

Files are hostile until read: an xlsx (a zip) is checked from its central directory before
anything is inflated (the sum of declared sizes, each member's compression ratio, the number of
members) and then inflated through a byte budget, so a header that lies cannot get past; rows,
columns and CSV line lengths are capped and rows are streamed, never all held at once. Whatever
the parser raises on a bad file becomes ``Unreadable`` with a reason a person can act on."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from .spec import MappingSpec
from .values import parse_path, resolve_path


class Unreadable(Exception):
    """The payload cannot be read as the mapping's format (bad JSON, wrong encoding ...), or is
    refused before reading (too large once unzipped, too many rows ...)."""


MB = 1024 * 1024
#: members smaller than this are not judged by their compression ratio (styles compress well)
RATIO_GRACE_BYTES = MB
MAX_ZIP_MEMBERS = 10_000
#: Excel's own row limit: a sheet cannot be longer, however its row numbers read
SHEET_ROW_LIMIT = 1_048_576
#: a CSV line longer than this (characters) is refused before it is split into fields
MAX_CSV_LINE = MB


@dataclass
class SourceLine:
    values: dict[str, Any]
    where: str          # "items[1]" or "row 3"
    row: int | None = None


@dataclass
class Record:
    values: dict[str, Any]
    lines: list[SourceLine]
    rows: list[int] = field(default_factory=list)
    where: str = ""


def read(spec: MappingSpec, payload: bytes) -> list[Record]:
    if spec.format == "json":
        return _read_json(spec, payload)
    if spec.format == "csv":
        try:
            text = payload.decode(spec.encoding)
        except UnicodeDecodeError as exc:
            raise Unreadable(_("The file is not valid %(enc)s text (byte %(pos)d): check the encoding.")
                             % {"enc": spec.encoding.upper(), "pos": exc.start}) from None
        if text.startswith("\ufeff"):
            text = text[1:]
        return _group(spec, _csv_rows(text))
    return _group(spec, _xlsx_rows(payload))


def _csv_rows(text: str) -> Iterator[list[Any]]:
    try:
        yield from csv.reader(_bounded_lines(text))
    except csv.Error as exc:
        raise Unreadable(_("The CSV file cannot be read: %(error)s") % {"error": exc}) from None


def _bounded_lines(text: str) -> Iterator[str]:
    for n, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line) > MAX_CSV_LINE:
            raise Unreadable(_("Line %(line)d is longer than %(n)d characters; refused.")
                             % {"line": n, "n": MAX_CSV_LINE})
        yield line


def _read_json(spec: MappingSpec, payload: bytes) -> list[Record]:
    try:
        data = json.loads(payload.decode("utf-8-sig"), parse_float=Decimal)
    except UnicodeDecodeError as exc:
        raise Unreadable(_("The body is not UTF-8 (byte %(pos)d).") % {"pos": exc.start}) from None
    except json.JSONDecodeError as exc:
        raise Unreadable(_("Malformed JSON at line %(line)d column %(col)d: %(msg)s")
                         % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg}) from None
    except RecursionError:
        raise Unreadable(_("The JSON is nested too deeply.")) from None
    many = isinstance(data, list)
    limit = settings.ORDERHUB_INTAKE_MAX_ROWS
    if many and len(data) > limit:
        raise Unreadable(_("The file has more than %(n)d rows; split it into smaller files.") % {"n": limit})
    out = []
    for i, obj in enumerate(data if many else [data]):
        prefix = f"[{i}]" if many else ""
        if not isinstance(obj, dict):
            raise Unreadable(_("Expected a JSON object at %(where)s.") % {"where": prefix or "body"})
        lines_key = spec.lines_from
        raw_lines = resolve_path(obj, parse_path(lines_key) or (lines_key,)) if lines_key else [obj]
        if not isinstance(raw_lines, list):
            raw_lines = []
        lines = [SourceLine(ln if isinstance(ln, dict) else {},
                            f"{prefix}{'.' if prefix else ''}{lines_key}[{j}]" if lines_key else prefix)
                 for j, ln in enumerate(raw_lines)]
        out.append(Record(obj, lines, where=prefix))
    return out


# --------------------------------------------------------------------------- xlsx (a zip)

class _Budget:
    """Bytes left to inflate, shared by every member a workbook opens."""

    def __init__(self, limit: int):
        self.limit = limit
        self.left = limit

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise Unreadable(_too_large(self.limit))


class _BudgetedMember(io.RawIOBase):
    """A member being inflated, counted against the workbook's budget as it is read."""

    def __init__(self, raw, budget: _Budget):
        super().__init__()
        self._raw = raw
        self._budget = budget

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(64 * 1024):
                chunks.append(chunk)
            return b"".join(chunks)
        data = self._raw.read(size)
        self._budget.spend(len(data))
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _BudgetedZip(zipfile.ZipFile):
    """A zip whose members inflate through one byte budget (``ZipFile.read`` opens through
    ``open`` too), whatever their headers declare."""

    def __init__(self, file, budget: _Budget):
        super().__init__(file)
        self.budget = budget

    def open(self, name, mode="r", pwd=None, *, force_zip64=False):
        member = super().open(name, mode, pwd, force_zip64=force_zip64)
        return _BudgetedMember(member, self.budget) if mode == "r" else member


def _too_large(limit: int) -> str:
    return _("The file expands to more than %(mb)d MB when unzipped; refused.") % {"mb": limit // MB}


def check_zip(payload: bytes) -> int:
    """Judge a zip from its central directory alone, before anything is inflated: the number
    of members, the sum of their declared sizes, each member's compression ratio. Returns the
    byte budget to inflate it with; raises ``Unreadable`` naming the reason."""
    limit = settings.ORDERHUB_INTAKE_MAX_UNZIPPED_BYTES
    ratio = settings.ORDERHUB_INTAKE_MAX_ZIP_RATIO
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise Unreadable(_("The file is not a readable XLSX workbook: %(error)s") % {"error": exc}) from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise Unreadable(_("The file holds more than %(n)d parts; refused.") % {"n": MAX_ZIP_MEMBERS})
    if sum(m.file_size for m in members) > limit:
        raise Unreadable(_too_large(limit))
    for m in members:
        if m.file_size > RATIO_GRACE_BYTES and m.file_size > ratio * max(m.compress_size, 1):
            raise Unreadable(_("Part %(part)s of the file is compressed more than %(ratio)d to 1, as zip "
                               "bombs are; refused.") % {"part": m.filename[:100], "ratio": ratio})
    return limit


def _xlsx_rows(payload: bytes) -> Iterator[list[Any]]:
    """The first sheet's rows as lists of values, streamed. Anything the parser raises on a
    malformed file (openpyxl raises many kinds) is ``Unreadable``."""
    budget = _Budget(check_zip(payload))  # before openpyxl is even imported

    from openpyxl.reader.excel import ExcelReader

    wb = None
    try:
        reader = ExcelReader(io.BytesIO(payload), read_only=True, data_only=True)
        reader.archive.close()
        reader.archive = _BudgetedZip(io.BytesIO(payload), budget)  # every member inflates through it
        reader.read()
        wb = reader.wb
        if not wb.worksheets:
            raise Unreadable(_("The workbook has no sheet."))
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # the declared size may lie (A1:XFD1048576): rows come as stored
        yield from _capped(ws.iter_rows(values_only=True))
    except Unreadable:
        raise
    except Exception as exc:  # a hostile file may make the parser raise anything
        raise Unreadable(_("The file is not a readable XLSX workbook: %(error)s")
                         % {"error": str(exc)[:300] or type(exc).__name__}) from None
    finally:
        if wb is not None:
            wb.close()


def _capped(rows: Iterable[tuple]) -> Iterator[list[Any]]:
    columns = settings.ORDERHUB_INTAKE_MAX_COLUMNS
    for n, row in enumerate(rows, start=1):
        if n > SHEET_ROW_LIMIT:
            raise Unreadable(_("The sheet has more than %(n)d rows; refused.") % {"n": SHEET_ROW_LIMIT})
        if len(row) > columns:
            raise Unreadable(_("Row %(row)d has more than %(n)d columns; refused.") % {"row": n, "n": columns})
        yield list(row)


def _group(spec: MappingSpec, source: Iterable[list[Any]]) -> list[Record]:
    """Rows (streamed) → records, grouped by ``spec.group_by``; at most
    ``ORDERHUB_INTAKE_MAX_ROWS`` data rows and ``ORDERHUB_INTAKE_MAX_COLUMNS`` columns."""
    max_rows, max_columns = settings.ORDERHUB_INTAKE_MAX_ROWS, settings.ORDERHUB_INTAKE_MAX_COLUMNS
    rows = iter(source)
    head = None
    for _i in range(spec.header_row):
        head = next(rows, None)
        if head is None:
            raise Unreadable(_("The file has no header row (expected at row %(n)d).") % {"n": spec.header_row})
    if len(head) > max_columns:
        raise Unreadable(_("Row %(row)d has more than %(n)d columns; refused.")
                         % {"row": spec.header_row, "n": max_columns})
    header = [("" if h is None else str(h)).strip().lstrip("\ufeff") for h in head]
    if spec.group_by and spec.group_by not in header:
        raise Unreadable(_("Column '%(col)s' is missing from the header.") % {"col": spec.group_by})
    records: list[Record] = []
    groups: dict[Any, Record] = {}
    n = 0
    named = [(i, h) for i, h in enumerate(header) if h]
    width = len(header)
    row_text = _("row %(n)d")
    group_by = spec.group_by
    for raw in rows:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in raw):
            continue
        n += 1
        if n > max_rows:
            raise Unreadable(_("The file has more than %(n)d rows; split it into smaller files.") % {"n": max_rows})
        if len(raw) > max_columns:
            raise Unreadable(_("Row %(row)d has more than %(n)d columns; refused.")
                             % {"row": n, "n": max_columns})
        if len(raw) >= width:
            values = {h: raw[i] for i, h in named}
        else:
            values = {h: (raw[i] if i < len(raw) else None) for i, h in named}
        where = row_text % {"n": n}
        line = SourceLine(values, where, n)
        key = values.get(group_by) if group_by else None
        if key is not None and key in groups:
            rec = groups[key]
            rec.lines.append(line)
            rec.rows.append(n)
            continue
        rec = Record(values, [line], [n], where=where)
        if key is not None:
            groups[key] = rec
        records.append(rec)
    return records

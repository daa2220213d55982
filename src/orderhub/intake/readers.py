"""Bytes → records. A record is one order's worth of source data: its order-level fields and
its line-level fields, each with the place it came from so problems name the source."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from .spec import MappingSpec


class Unreadable(Exception):
    """The payload cannot be read as the mapping's format (bad JSON, wrong encoding ...)."""


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
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise Unreadable(_("The CSV file cannot be read: %(error)s") % {"error": exc}) from None
        return _group(spec, rows)
    return _group(spec, _xlsx_rows(payload))


def _read_json(spec: MappingSpec, payload: bytes) -> list[Record]:
    try:
        data = json.loads(payload.decode("utf-8-sig"), parse_float=Decimal)
    except UnicodeDecodeError as exc:
        raise Unreadable(_("The body is not UTF-8 (byte %(pos)d).") % {"pos": exc.start}) from None
    except json.JSONDecodeError as exc:
        raise Unreadable(_("Malformed JSON at line %(line)d column %(col)d: %(msg)s")
                         % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg}) from None
    many = isinstance(data, list)
    out = []
    for i, obj in enumerate(data if many else [data]):
        prefix = f"[{i}]" if many else ""
        if not isinstance(obj, dict):
            raise Unreadable(_("Expected a JSON object at %(where)s.") % {"where": prefix or "body"})
        lines_key = spec.lines_from
        raw_lines = obj.get(lines_key) if lines_key else [obj]
        if not isinstance(raw_lines, list):
            raw_lines = []
        lines = [SourceLine(ln if isinstance(ln, dict) else {},
                            f"{prefix}{'.' if prefix else ''}{lines_key}[{j}]" if lines_key else prefix)
                 for j, ln in enumerate(raw_lines)]
        out.append(Record(obj, lines, where=prefix))
    return out


def _xlsx_rows(payload: bytes) -> list[list[Any]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(payload), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise Unreadable(_("The file is not a readable XLSX workbook: %(error)s") % {"error": exc}) from None
    try:
        ws = wb.worksheets[0]
        return [list(r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _group(spec: MappingSpec, rows: list[list[Any]]) -> list[Record]:
    if len(rows) < spec.header_row:
        raise Unreadable(_("The file has no header row (expected at row %(n)d).") % {"n": spec.header_row})
    header = [("" if h is None else str(h)).strip().lstrip("\ufeff") for h in rows[spec.header_row - 1]]
    if spec.group_by and spec.group_by not in header:
        raise Unreadable(_("Column '%(col)s' is missing from the header.") % {"col": spec.group_by})
    records: list[Record] = []
    groups: dict[Any, Record] = {}
    n = 0
    named = [(i, h) for i, h in enumerate(header) if h]
    width = len(header)
    row_text = _("row %(n)d")
    group_by = spec.group_by
    for raw in rows[spec.header_row:]:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in raw):
            continue
        n += 1
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

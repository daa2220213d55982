"""Bytes → records. A record is one order's worth of source data: its order-level fields and
its line-level fields, each with the place it came from so problems name the source.

Files are hostile until read: an xlsx (a zip) is checked from its central directory before
anything is inflated (the sum of declared sizes, each member's compression ratio, the number of
members) and then inflated through a byte budget, so a header that lies cannot get past; rows,
columns and CSV line lengths are capped and rows are streamed, never all held at once. Whatever
the parser raises on a bad file becomes ``Unreadable`` with a reason a person can act on.

A file is judged by its bytes, not its name: a spreadsheet channel reads an xlsx (openpyxl) or a
legacy BIFF ``.xls`` (xlrd, cells counted against the same caps); anything else (a PDF, a
picture, a Word file, an HTML page saved as ``.xls``, an encrypted workbook) is refused with a
message naming what it is. A cell merged across rows (a buyer written once for three lines) is
carried down to each row it covers. Chinese CSV is read as GB18030, the superset of GBK and
GB2312, and a CSV whose declared encoding does not fit is told which one does."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from orderhub.core.memory import collector_paused

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


# a file's records hold no cycles: the collections their piling up set off found nothing and
# walked them all again each time (100,000 Taobao rows read in 1.2-2.0 s, 0.65 s paused)
@collector_paused()
def read(spec: MappingSpec, payload: bytes) -> list[Record]:
    if spec.format == "json":
        return _read_json(spec, payload)
    kind = sniff(payload)
    if spec.format == "csv":
        if kind != TEXT:
            message = _("The file is %(format)s, not CSV text; this channel takes CSV files.") % {
                "format": format_name(kind)}
            if kind in (XLSX, XLS, "utf16"):
                message += " " + _("Save it as CSV (comma delimited) and upload it again.")
            raise Unreadable(message)
        return _group(spec, _csv_rows(decode_text(payload, spec.encoding)))
    if kind == XLSX:
        return _group(spec, _xlsx_rows(payload))
    if kind == XLS:
        return _group(spec, _xls_rows(payload))
    message = _("The file is %(format)s, not an Excel workbook (.xlsx or .xls); this channel takes Excel "
                "workbooks.") % {"format": format_name(kind)}
    if kind in ("ods", "spreadsheetml", "html", "utf16", TEXT):
        message += " " + _("Open it in Excel or WPS, save it as .xlsx and upload it again.")
    elif kind == "encrypted":
        message += " " + _("Save a copy without its password and upload that.")
    raise Unreadable(message)


# --------------------------------------------------------------------------- what a file is

XLSX, XLS, TEXT = "xlsx", "xls", "text"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


def sniff(payload: bytes) -> str:
    """What ``payload`` is, from its bytes: ``xlsx``, ``xls``, ``text`` or another kind that
    ``format_name`` names (never from the file's name, which office software gets wrong)."""
    head = payload[:8]
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(payload)
    if head == OLE_MAGIC:
        # the names of an OLE2 container's streams are stored in UTF-16 in its directory
        if _utf16("EncryptedPackage") in payload:
            return "encrypted"
        if _utf16("Workbook") in payload or _utf16("Book") in payload:
            return XLS
        if _utf16("WordDocument") in payload:
            return "doc"
        return "ole"
    for magic, kind in ((b"%PDF-", "pdf"), (b"\x89PNG", "image"), (b"\xff\xd8\xff", "image"), (b"GIF8", "image"),
                        (b"BM", "image"), (b"II*\x00", "image"), (b"MM\x00*", "image"), (b"{\\rtf", "rtf"),
                        (b"\x1f\x8b", "archive"), (b"Rar!", "archive"), (b"7z\xbc\xaf", "archive")):
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and payload[8:12] == b"WEBP":
        return "image"
    start = payload[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in payload[:4096]:
        return "spreadsheetml"
    if start.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")) or (
            start.startswith(b"<") and b"<table" in payload[:65536].lower()):
        return "html"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf16"
    if payload[:4096].count(b"\x00") * 10 > len(payload[:4096]):  # a stray NUL is a cell's problem
        return "binary"
    return TEXT


def _zip_kind(payload: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            names = set(archive.namelist()[:MAX_ZIP_MEMBERS])
            mimetype = b""
            if "mimetype" in names:
                with archive.open("mimetype") as member:  # 100 bytes inflated, whatever it declares
                    mimetype = member.read(100)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return XLSX  # a damaged workbook: the xlsx reader says what is wrong with it
    if any(n.startswith("xl/") for n in names):
        return XLSX
    if b"spreadsheet" in mimetype:
        return "ods"
    if mimetype:
        return "odf"
    if any(n.startswith("word/") for n in names):
        return "docx"
    if any(n.startswith("ppt/") for n in names):
        return "pptx"
    if "[Content_Types].xml" in names:  # an OOXML package with its parts elsewhere: openpyxl decides
        return XLSX
    return "zip"


def format_name(kind: str) -> str:
    """The kind ``sniff`` found, as a person calls it."""
    names = {
        XLSX: _("an Excel workbook (.xlsx)"), XLS: _("an Excel 97-2003 workbook (.xls)"),
        TEXT: _("a text file (CSV)"), "utf16": _("a UTF-16 text file (Excel's \"Unicode text\")"), "pdf": _("a PDF document"), "image": _("a picture"),
        "encrypted": _("a password-protected Excel workbook"), "doc": _("a Word document (.doc)"),
        "docx": _("a Word document (.docx)"), "pptx": _("a PowerPoint presentation"),
        "ods": _("an OpenDocument spreadsheet (.ods)"), "odf": _("an OpenDocument file"),
        "ole": _("an Office file that holds no workbook"), "rtf": _("an RTF document"),
        "archive": _("a compressed archive"), "zip": _("a ZIP archive"),
        "spreadsheetml": _("an Excel 2003 XML spreadsheet"),
        "html": _("a web page (HTML) saved with a spreadsheet's name"),
        "binary": _("a binary file of unknown format"),
    }
    return names.get(kind, names["binary"])


# --------------------------------------------------------------------------- CSV text

#: encodings tried, in order, when a CSV's declared encoding does not fit its bytes
CANDIDATE_ENCODINGS = ("utf-8", "gb18030")


def decode_text(payload: bytes, encoding: str) -> str:
    """CSV bytes → text. GBK (and GB2312) is read as GB18030, their superset, so characters
    outside GBK (rare names, the euro sign) are not refused. A UTF-8 byte-order mark wins over
    the declared encoding (Excel writes one); when the declared encoding does not fit, the
    message names the one that does."""
    declared = encoding.lower()
    if declared in ("gbk", "gb2312", "gb18030"):
        encoding = "gb18030"
    if payload.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    try:
        text = payload.decode(encoding)
    except UnicodeDecodeError as exc:
        fits = next((c for c in CANDIDATE_ENCODINGS if c != encoding and _decodes(payload, c)), None)
        message = _("The file is not valid %(enc)s text (byte %(pos)d): check the encoding.") % {
            "enc": declared.upper(), "pos": exc.start}
        if fits:
            message += " " + _("It reads as %(fits)s: set the channel's encoding to %(fits)s.") % {
                "fits": fits.upper()}
        raise Unreadable(message) from None
    return text[1:] if text.startswith("\ufeff") else text


def _decodes(payload: bytes, encoding: str) -> bool:
    try:
        payload.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


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
        # a zip's signature but no readable directory: cut off (a download that stopped) or damaged;
        # zipfile's own words ("File is not a zip file") would only confuse
        raise Unreadable(_("The Excel workbook (.xlsx) is damaged or incomplete (it may have been cut off while "
                           "downloading): open it in Excel or WPS, save it again and upload it.")) from exc
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
    """The first sheet's rows as lists of values, streamed, merged cells carried down. Anything
    the parser raises on a malformed file (openpyxl raises many kinds) is ``Unreadable``."""
    limit = check_zip(payload)  # before openpyxl is even imported
    budget = _Budget(limit)

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
        # the merged ranges are written after the rows: found first, by a scan of their own
        # (inflated through a budget of its own, so the file is still read at most twice)
        with _BudgetedZip(io.BytesIO(payload), _Budget(limit)) as archive:
            merges = _xlsx_merges(archive, ws._worksheet_path)
        ws.reset_dimensions()  # the declared size may lie (A1:XFD1048576): rows come as stored
        yield from _carried_down(_capped(ws.iter_rows(values_only=True)), merges)
    except Unreadable:
        raise
    except Exception as exc:  # a hostile file may make the parser raise anything
        raise Unreadable(_("The file is not a readable XLSX workbook: %(error)s")
                         % {"error": str(exc)[:300] or type(exc).__name__}) from None
    finally:
        if wb is not None:
            wb.close()


#: merged ranges honoured per sheet (more is not a spreadsheet a person made)
MAX_MERGES = 10_000
_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})"')


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _xlsx_merges(archive: zipfile.ZipFile, path: str) -> list[tuple[int, int, int, int]]:
    """The sheet's merged ranges as (first row, last row, first column, last column), 1-based,
    found by scanning its XML for ``<mergeCell ref="B3:B5"/>`` (bytes, no XML parse)."""
    out: list[tuple[int, int, int, int]] = []
    tail = b""
    with archive.open(path.lstrip("/")) as member:
        while chunk := member.read(256 * 1024):
            data = tail + chunk
            end = 0
            for m in _MERGE_RE.finditer(data):
                c0, r0, c1, r1 = m.groups()
                out.append((int(r0), int(r1), _column_number(c0), _column_number(c1)))
                end = m.end()
                if len(out) > MAX_MERGES:
                    raise Unreadable(_("The sheet has more than %(n)d merged cells; refused.") % {"n": MAX_MERGES})
            tail = data[max(end, len(data) - 200):]
    return out


def _carried_down(rows: Iterable[list[Any]], merges: list[tuple[int, int, int, int]]) -> Iterator[list[Any]]:
    """Rows (numbered from 1) with the value of each cell merged across rows copied into the
    rows below it that the merge covers, in its first column: a buyer written once for three
    order lines belongs to each. Merges across columns only (a title over the header) add
    nothing, and a value is never copied into another column. One merge per column is active
    at a time, so a row costs at most its width, however many merges a file declares."""
    starts: dict[int, list[tuple[int, int]]] = {}  # top row → [(column, last row)]
    for r0, r1, c0, _c1 in merges:
        if r1 > r0:
            starts.setdefault(r0, []).append((c0, r1))
    if not starts:
        yield from rows
        return
    active: dict[int, tuple[int, Any]] = {}  # column → (last row, value)
    for n, row in enumerate(rows, start=1):
        if active:
            for c in [c for c, (last, _v) in active.items() if last < n]:
                del active[c]
            for c, (_last, value) in active.items():
                if c > len(row):
                    row = list(row) + [None] * (c - len(row))
                cell = row[c - 1]
                if cell is None or (isinstance(cell, str) and not cell.strip()):
                    row[c - 1] = value
        for c, last in starts.get(n, ()):
            value = row[c - 1] if c <= len(row) else None
            if value is not None:
                active[c] = (last, value)
        yield row


# --------------------------------------------------------------------------- xls (BIFF, OLE2)

def _xls_rows(payload: bytes) -> Iterator[list[Any]]:
    """The first sheet of a legacy Excel 97-2003 workbook, read with xlrd. BIFF is not
    compressed, so what xlrd holds is bounded by the file's size (already capped); rows and
    columns are capped as for xlsx, and merged cells carried down."""
    limit = settings.ORDERHUB_INTAKE_MAX_XLS_BYTES
    if len(payload) > limit:
        raise Unreadable(_("An Excel 97-2003 workbook (.xls) may be at most %(mb)d MB; save it as .xlsx and "
                           "upload it again.") % {"mb": limit // MB})
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=payload, formatting_info=True, on_demand=True,
                                  logfile=io.StringIO(), ragged_rows=True)
    except Exception as exc:  # xlrd raises XLRDError, struct.error, AssertionError, IndexError ...
        raise Unreadable(_("The file is not a readable Excel 97-2003 workbook (.xls): %(error)s")
                         % {"error": str(exc)[:300] or type(exc).__name__}) from None
    try:
        if book.nsheets == 0:
            raise Unreadable(_("The workbook has no sheet."))
        try:
            sheet = book.sheet_by_index(0)
        except Exception as exc:
            raise Unreadable(_("The file is not a readable Excel 97-2003 workbook (.xls): %(error)s")
                             % {"error": str(exc)[:300] or type(exc).__name__}) from None
        if sheet.nrows > SHEET_ROW_LIMIT:
            raise Unreadable(_("The sheet has more than %(n)d rows; refused.") % {"n": SHEET_ROW_LIMIT})
        merges = [(r0 + 1, r1, c0 + 1, c1) for r0, r1, c0, c1 in sheet.merged_cells[:MAX_MERGES + 1]]
        if len(merges) > MAX_MERGES:
            raise Unreadable(_("The sheet has more than %(n)d merged cells; refused.") % {"n": MAX_MERGES})
        rows = (tuple(_xls_value(book, cell) for cell in sheet.row(r)) for r in range(sheet.nrows))
        yield from _carried_down(_capped(rows), merges)
    finally:
        book.release_resources()


def _xls_value(book, cell) -> Any:
    import xlrd

    kind, value = cell.ctype, cell.value
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if kind == xlrd.XL_CELL_NUMBER:
        # BIFF stores every number as a double: a whole one (an order number) reads as an int
        if value.is_integer() and abs(value) < 2 ** 53:
            return int(value)
        return value
    if kind == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(value, book.datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return value
    if kind == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERR")
    return value


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

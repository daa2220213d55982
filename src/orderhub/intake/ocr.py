"""Purchase orders as documents (pictures and PDFs) into draft order data with a confidence
per field. A PDF page with a text layer is read from it (pdfium's text page: every character
with its box, exact, confidence 1); only a page without one (a scan) is rendered and OCR'd
(rapidocr-onnxruntime ships its ONNX models in the wheel, so nothing is fetched). Both give
positioned text boxes, so one reader finds the fields and the line table, with or without a
header row. pdfium is the library the PDF preview and renderer already trust with hostile
files, under the same page and pixel caps: no second PDF parser is exposed to them.

Text is normalised with NFKC first (OCR mixes full-width ``：`` and ``￥``).
"""

from __future__ import annotations

import io
import math
import re
import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from .readers import Unreadable
from .values import nfkc

_engine = None
_engine_lock = threading.Lock()
DOCUMENT_TYPES = ("image/png", "image/jpeg", "image/tiff", "image/bmp", "image/webp", "application/pdf")
OCR_PAGES = 5  # pages of a PDF read (a purchase order is shorter)
RENDER_SCALE = 2.0  # PDF points → pixels for OCR, unless the page is too large for it


@dataclass(frozen=True)
class Box:
    text: str
    conf: float
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def h(self) -> float:
        return self.y1 - self.y0


def _get_engine():
    global _engine
    with _engine_lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR()
        return _engine


def _images(payload: bytes, content_type: str) -> list[Any]:
    """The pages to read as images, bounded before anything is decoded: a PDF with more than
    ``ORDERHUB_INTAKE_MAX_PDF_PAGES`` pages or an image of more than
    ``ORDERHUB_INTAKE_MAX_IMAGE_PIXELS`` pixels is refused (``Unreadable``); a PDF page is
    rendered at a scale that keeps it within that many pixels, whatever size it declares."""
    max_pixels = settings.ORDERHUB_INTAKE_MAX_IMAGE_PIXELS
    if content_type == "application/pdf" or payload[:5] == b"%PDF-":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(payload)
        try:
            pages = len(pdf)
            if pages > settings.ORDERHUB_INTAKE_MAX_PDF_PAGES:
                raise Unreadable(_("The PDF has %(pages)d pages, more than the %(max)d allowed; refused.")
                                 % {"pages": pages, "max": settings.ORDERHUB_INTAKE_MAX_PDF_PAGES})
            out = []
            for i in range(min(pages, OCR_PAGES)):
                page = pdf[i]
                width, height = page.get_size()  # points
                # pdfium rounds the bitmap's sides up: keep a little below the cap
                scale = min(RENDER_SCALE, 0.99 * math.sqrt(max_pixels / max(width * height, 1.0)))
                out.append(page.render(scale=scale).to_pil().convert("RGB"))
            return out
        finally:
            pdf.close()
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own decompression-bomb check, set explicitly
    too_large = Unreadable(_("The image has more than %(max)d pixels; refused.") % {"max": max_pixels})
    try:
        img = Image.open(io.BytesIO(payload))  # reads the header only
    except Image.DecompressionBombError:  # Pillow refuses above twice its limit
        raise too_large from None
    if img.width * img.height > max_pixels:  # and only warns between once and twice
        raise too_large
    img.load()
    return [img.convert("RGB")]


TEXT, OCR = "text", "ocr"
#: a PDF page with fewer printable characters than this in its text layer is a scan
MIN_TEXT_CHARS = 8
#: characters read from one page's text layer (a purchase order has far fewer)
MAX_PAGE_CHARS = 50_000


@dataclass
class Document:
    boxes: list[Box]
    pages: list[str]  # per page read: TEXT (its text layer) or OCR


def recognise(payload: bytes, content_type: str) -> list[Box]:
    """Text boxes of every page, top to bottom (pages stacked)."""
    return read_document(payload, content_type).boxes


def read_document(payload: bytes, content_type: str) -> Document:
    """The document's text boxes, pages stacked top to bottom, and how each page was read."""
    if content_type == "application/pdf" or payload[:5] == b"%PDF-":
        return _read_pdf(payload)
    boxes: list[Box] = []
    pages = []
    offset = 0.0
    for img in _images(payload, content_type):
        boxes.extend(_ocr(img, offset))
        offset += img.height
        pages.append(OCR)
    return Document(sorted(boxes, key=lambda b: (b.cy, b.cx)), pages)


def _ocr(img, offset: float) -> list[Box]:
    import numpy as np

    result, _elapsed = _get_engine()(np.asarray(img))
    out = []
    for quad, text, conf in result or []:
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        out.append(Box(nfkc(text).strip(), float(conf), min(xs), min(ys) + offset, max(xs), max(ys) + offset))
    return out


def _read_pdf(payload: bytes) -> Document:
    """Each page from its text layer when it has one, else rendered (within the pixel cap) and
    OCR'd. Coordinates are those of a rendering at ``RENDER_SCALE``, top down, so both kinds of
    page measure alike."""
    import pypdfium2 as pdfium

    max_pixels = settings.ORDERHUB_INTAKE_MAX_IMAGE_PIXELS
    pdf = pdfium.PdfDocument(payload)
    try:
        count = len(pdf)
        if count > settings.ORDERHUB_INTAKE_MAX_PDF_PAGES:
            raise Unreadable(_("The PDF has %(pages)d pages, more than the %(max)d allowed; refused.")
                             % {"pages": count, "max": settings.ORDERHUB_INTAKE_MAX_PDF_PAGES})
        boxes: list[Box] = []
        pages: list[str] = []
        offset = 0.0
        for i in range(min(count, OCR_PAGES)):
            page = pdf[i]
            width, height = page.get_size()  # points
            text_boxes = _text_layer(page, height, offset)
            if sum(len(b.text.replace(" ", "")) for b in text_boxes) >= MIN_TEXT_CHARS:
                boxes.extend(text_boxes)
                pages.append(TEXT)
                offset += height * RENDER_SCALE
                continue
            # pdfium rounds the bitmap's sides up: keep a little below the cap
            scale = min(RENDER_SCALE, 0.99 * math.sqrt(max_pixels / max(width * height, 1.0)))
            img = page.render(scale=scale).to_pil().convert("RGB")
            boxes.extend(_ocr(img, offset))
            pages.append(OCR)
            offset += img.height
        return Document(sorted(boxes, key=lambda b: (b.cy, b.cx)), pages)
    finally:
        pdf.close()


def _text_layer(page, height: float, offset: float) -> list[Box]:
    """The page's text layer as word boxes: characters joined while they sit on one line with
    no more than half a character's height between them; a space or line break ends a word."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        n = min(textpage.count_chars(), MAX_PAGE_CHARS)
        words: list[Box] = []
        chars: list[str] = []
        box: list[float] = []

        def flush():
            text = nfkc("".join(chars)).strip()
            if text:
                x0, y0, x1, y1 = box
                words.append(Box(text, 1.0, x0 * RENDER_SCALE, (height - y1) * RENDER_SCALE + offset,
                                 x1 * RENDER_SCALE, (height - y0) * RENDER_SCALE + offset))
            chars.clear()
            box.clear()

        for i in range(n):
            code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
            ch = chr(code) if 0 < code < 0x110000 else ""
            if not ch or ch.isspace() or not ch.isprintable():
                flush()
                continue
            left, bottom, right, top = textpage.get_charbox(i, loose=True)  # the font's height: a comma is on the line
            if box:
                size = max(top - bottom, box[3] - box[1], 1.0)
                same_line = abs((bottom + top) / 2 - (box[1] + box[3]) / 2) < size * 0.5
                if not same_line or left - box[2] > size * 0.5 or left < box[0] - size * 0.5:
                    flush()
            if box:
                box[:] = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
            else:
                box.extend((left, bottom, right, top))
            chars.append(ch)
        flush()
        return words
    finally:
        textpage.close()


KEYS = {
    "customer": ("采购方", "客户", "买方", "购货单位", "客户名称", "采购单位"),
    "external_ref": ("订单号", "采购单号", "PO号", "PO No", "合同号"),
    "required_date": ("交货日期", "交期", "要求交期", "到货日期", "交货期"),
    "ordered_at": ("下单日期", "订单日期", "日期"),
    "remarks": ("备注", "说明"),
    "total": ("合计", "总计", "总金额"),
}
COLUMNS = {"sku": ("物料编码", "货号", "编码", "料号"), "qty": ("数量",), "unit": ("单位",),
           "unit_price": ("单价",), "amount": ("金额",)}
_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_NUM_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _key_value(text: str) -> tuple[str, str] | None:
    for field, keys in KEYS.items():
        for key in keys:
            if text.startswith(key):
                rest = text[len(key):].lstrip(" :：")
                if rest:
                    return field, rest
    return None


def _key_beside(key: Box, boxes: list[Box]) -> tuple[str, str] | None:
    """A key alone in its box (``订单号`` in one table cell, the number in the next): the value
    is the nearest box to its right on the same line."""
    text = key.text.rstrip(" :：")
    field = next((f for f, keys in KEYS.items() if text in keys), None)
    if field is None:
        return None
    right = [b for b in boxes if b is not key and b.x0 >= key.x1 - 2 and abs(b.cy - key.cy) < max(key.h, b.h) * 0.6]
    if not right:
        return None
    value = min(right, key=lambda b: b.x0).text.lstrip(" :：")
    return (field, value) if value else None


UNITS = ("件", "个", "只", "套", "台", "箱", "包", "盒", "根", "米", "吨", "kg", "公斤", "千克", "pcs", "PCS", "支", "片")
_AMOUNT_RE = re.compile(r"^[¥￥]?-?\d[\d,]*(?:\.\d+)?$")


def _row_columns(row: list[Box], sku_box: Box) -> tuple[dict[str, Box], bool]:
    """Columns of a line found without a header row: the numbers right of the SKU, in order, are
    quantity, unit price and amount when the first times the second makes the third (to the
    cent); a unit word is the unit. Returns the boxes and whether the numbers added up."""
    numbers = sorted((b for b in row if b is not sku_box and b.x0 >= sku_box.x0 and _AMOUNT_RE.match(b.text)),
                     key=lambda b: b.cx)
    values = [_number(b.text) for b in numbers]
    found: dict[str, Box] = {}
    unit = next((b for b in sorted(row, key=lambda b: b.cx) if b.text in UNITS), None)
    if unit is not None:
        found["unit"] = unit
    cent = Decimal("0.01")
    for i in range(len(numbers)):
        for j in range(i + 1, len(numbers)):
            for k in range(j + 1, len(numbers)):
                a, b, c = values[i], values[j], values[k]
                if None not in (a, b, c) and a > 0 and (a * b).quantize(cent) == c.quantize(cent):
                    found.update(qty=numbers[i], unit_price=numbers[j], amount=numbers[k])
                    return found, True
    if numbers:
        found["qty"] = numbers[0]
    return found, False


def _number(text: str) -> Decimal | None:
    m = _NUM_RE.search(text.replace("¥", "").replace("￥", ""))
    if not m:
        return None
    try:
        return Decimal(m.group().replace(",", ""))
    except InvalidOperation:
        return None


def _ref(text: str) -> str:
    """OCR reads the letter O of ``PO-`` as a zero: a known confusion, undone for PO numbers."""
    text = text.replace(" ", "")
    return re.sub(r"^P0(?=[-_]?\d)", "PO", text)


@dataclass
class Reading:
    data: dict[str, Any]
    confidence: dict[str, float]
    problems: list[dict[str, str]]
    text: str


def _read_line(row: list[Box], sku_box: Box, sku: str, headers: dict[str, Box], i: int,
               conf: dict[str, float], problems: list[dict[str, str]], meta: dict[str, Any]) -> dict[str, Any]:
    """Line ``i`` from one row of the table: its cells under the header's columns, or, without a
    header over the quantity, read from the row itself (``_row_columns``)."""

    def column(col):
        h = headers.get(col)
        if h is None:
            return None
        near = min(row, key=lambda box: abs(box.cx - h.cx))
        return near if abs(near.cx - h.cx) < (h.x1 - h.x0) * 2 + 40 else None

    line: dict[str, Any] = {"sku": sku}
    conf[f"lines[{i}].sku"] = round(sku_box.conf, 3)
    cells = {col: column(col) for col in ("qty", "unit_price", "amount", "unit")}
    guessed = False
    if cells["qty"] is None:  # no header row (or none over this column): read the row itself
        inferred, adds_up = _row_columns(row, sku_box)
        cells = {col: inferred.get(col) for col in cells}
        guessed = not adds_up
        meta["columns"] = "inferred"
    for col in ("qty", "unit_price", "amount"):
        b = cells[col]
        n = _number(b.text) if b else None
        if n is not None:
            line[col] = str(n)
            conf[f"lines[{i}].{col}"] = round(b.conf * (0.5 if guessed else 1), 3)
    if guessed and "qty" in line:
        problems.append({"field": f"lines[{i}].qty", "message": _(
            "no header row and the numbers do not multiply out: the quantity was taken as the first "
            "number after the product code; check it")})
    ub = cells["unit"]
    if ub and not _NUM_RE.fullmatch(ub.text):
        line["unit"] = ub.text
        conf[f"lines[{i}].unit"] = round(ub.conf, 3)
    if "qty" not in line:
        problems.append({"field": f"lines[{i}].qty", "message": _("quantity not found")})
        conf[f"lines[{i}].qty"] = 0.0
    return line


def read_purchase_order(boxes: list[Box], *, find_customer, find_product) -> Reading:
    """Order fields from text boxes. ``find_customer(name)`` → code or None and
    ``find_product(text)`` → sku or None look names up in the master data."""
    data: dict[str, Any] = {"lines": []}
    conf: dict[str, float] = {}
    problems: list[dict[str, str]] = []
    meta: dict[str, Any] = {}
    for b in boxes:
        kv = _key_value(b.text) or _key_beside(b, boxes)
        if kv is None:
            continue
        field, value = kv
        if field in data or field in meta:
            continue
        if field == "customer":
            code = find_customer(value)
            if code:
                data["customer"], conf["customer"] = code, round(b.conf, 3)
            else:
                problems.append({"field": "customer", "message": _("unknown customer '%(value)s'") % {"value": value}})
            meta["customer_name"] = value
        elif field == "external_ref":
            data["external_ref"], conf["external_ref"] = _ref(value), round(b.conf, 3)
        elif field in ("required_date", "ordered_at"):
            m = _DATE_RE.search(value)
            if m:
                try:
                    d = date(int(m[1]), int(m[2]), int(m[3]))
                except ValueError:
                    d = None
                if d:
                    (data if field == "required_date" else meta)[field] = d.isoformat()
                    conf[field] = round(b.conf, 3)
        elif field == "remarks":
            data["remarks"], conf["remarks"] = value, round(b.conf, 3)
        elif field == "total":
            n = _number(value)
            if n is not None:
                meta["total"], conf["total"] = str(n), round(b.conf, 3)
    # the table: header boxes give the columns, rows are boxes on one line
    headers: dict[str, Box] = {}
    for b in boxes:
        for col, names in COLUMNS.items():
            if col not in headers and b.text in names:
                headers[col] = b
    header_y = max((h.cy for h in headers.values()), default=0)
    rows: list[list[Box]] = []
    for b in boxes:
        if b.cy <= header_y + 1:
            continue
        if rows and abs(rows[-1][0].cy - b.cy) < max(b.h, rows[-1][0].h) * 0.8:
            rows[-1].append(b)
        else:
            rows.append([b])
    for row in rows:
        sku_box, sku = None, None
        for b in row:
            found = find_product(b.text.replace(" ", ""))
            if found:
                sku_box, sku = b, found
                break
        if sku is None:
            continue

        line = _read_line(row, sku_box, sku, headers, len(data["lines"]), conf, problems, meta)
        data["lines"].append(line)
    # cross-checks lower the confidence of what does not add up
    for i, ln in enumerate(data["lines"]):
        try:
            if "amount" in ln and "qty" in ln and "unit_price" in ln and \
                    Decimal(ln["qty"]) * Decimal(ln["unit_price"]) != Decimal(ln["amount"]):
                for f in ("qty", "unit_price"):
                    conf[f"lines[{i}].{f}"] = round(conf.get(f"lines[{i}].{f}", 0) * 0.5, 3)
                problems.append({"field": f"lines[{i}]", "message": _("quantity × price ≠ amount")})
        except InvalidOperation:
            pass
    if "total" in meta and data["lines"]:
        try:
            s = sum(Decimal(ln["amount"]) for ln in data["lines"] if "amount" in ln)
            if s != Decimal(meta["total"]):
                problems.append({"field": "total", "message": _("lines add up to %(sum)s, the PO says %(total)s")
                                 % {"sum": s, "total": meta["total"]}})
                conf["total"] = round(conf.get("total", 0) * 0.5, 3)
        except InvalidOperation:
            pass
    for required in ("customer", "required_date"):
        if required not in data:
            conf.setdefault(required, 0.0)
            if not any(p["field"] == required for p in problems):
                problems.append({"field": required, "message": _("not found")})
    if not data["lines"]:
        problems.append({"field": "lines", "message": _("no line with a known SKU")})
    for ln in data["lines"]:
        ln.pop("amount", None)
    data["meta"] = meta
    return Reading(data, conf, problems, "\n".join(b.text for b in boxes))

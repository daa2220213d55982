"""Offline OCR of purchase orders (images and PDFs) into draft order data with a confidence
per field. rapidocr-onnxruntime ships its ONNX models in the wheel, so nothing is fetched.

Recognised text is normalised with NFKC first (OCR mixes full-width ``：`` and ``￥``).
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


def recognise(payload: bytes, content_type: str) -> list[Box]:
    """Text boxes of every page, top to bottom (pages stacked)."""
    import numpy as np

    engine = _get_engine()
    boxes: list[Box] = []
    offset = 0.0
    for img in _images(payload, content_type):
        result, _elapsed = engine(np.asarray(img))
        for quad, text, conf in result or []:
            xs, ys = [p[0] for p in quad], [p[1] for p in quad]
            boxes.append(Box(nfkc(text).strip(), float(conf), min(xs), min(ys) + offset,
                             max(xs), max(ys) + offset))
        offset += img.height
    return sorted(boxes, key=lambda b: (b.cy, b.cx))


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


def read_purchase_order(boxes: list[Box], *, find_customer, find_product) -> Reading:
    """Order fields from text boxes. ``find_customer(name)`` → code or None and
    ``find_product(text)`` → sku or None look names up in the master data."""
    data: dict[str, Any] = {"lines": []}
    conf: dict[str, float] = {}
    problems: list[dict[str, str]] = []
    meta: dict[str, Any] = {}
    for b in boxes:
        kv = _key_value(b.text)
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

        def column(col, row=row):
            h = headers.get(col)
            if h is None:
                return None
            near = min(row, key=lambda box: abs(box.cx - h.cx))
            return near if abs(near.cx - h.cx) < (h.x1 - h.x0) * 2 + 40 else None

        i = len(data["lines"])
        line: dict[str, Any] = {"sku": sku}
        conf[f"lines[{i}].sku"] = round(sku_box.conf, 3)
        for col in ("qty", "unit_price", "amount"):
            b = column(col)
            n = _number(b.text) if b else None
            if n is not None:
                line[col] = str(n)
                conf[f"lines[{i}].{col}"] = round(b.conf, 3)
        ub = column("unit")
        if ub and not _NUM_RE.fullmatch(ub.text):
            line["unit"] = ub.text
            conf[f"lines[{i}].unit"] = round(ub.conf, 3)
        if "qty" not in line:
            problems.append({"field": f"lines[{i}].qty", "message": _("quantity not found")})
            conf[f"lines[{i}].qty"] = 0.0
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

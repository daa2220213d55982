"""A picture of a stored document for the draft page, drawn by us: the stored bytes themselves
never reach the browser (they could be anything the sender said was a picture).

Pictures are decoded with Pillow and PDFs rendered with pypdfium2 (first pages, stacked), then
written as a fresh PNG at most ``MAX_WIDTH`` wide. Anything that is not a picture or PDF gives
None, and so does a picture of more than ``MAX_PIXELS`` (checked from its header, before decoding).
"""

from __future__ import annotations

import io

from .ocr import DOCUMENT_TYPES

MAX_WIDTH = 1200
MAX_PIXELS = 40_000_000  # a bigger picture is not drawn (its decoded size would be ~120 MB and up)
MAX_PAGES = 5
PDF_SCALE = 1.5


def _pages(payload: bytes, content_type: str) -> list:
    from PIL import Image

    if content_type == "application/pdf" or payload[:5] == b"%PDF-":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(payload)
        try:
            return [pdf[i].render(scale=PDF_SCALE).to_pil().convert("RGB") for i in range(min(len(pdf), MAX_PAGES))]
        finally:
            pdf.close()
    img = Image.open(io.BytesIO(payload))  # reads the header only
    if img.width * img.height > MAX_PIXELS:
        raise ValueError("too many pixels to draw a preview")
    img.load()
    return [img.convert("RGB")]


def preview_png(payload: bytes, content_type: str) -> bytes | None:
    """A PNG of the document (pages stacked), or None if it is not a picture or PDF we read."""
    from PIL import Image, UnidentifiedImageError
    from pypdfium2 import PdfiumError

    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in DOCUMENT_TYPES:
        return None
    try:
        pages = _pages(bytes(payload), kind)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, PdfiumError):
        return None  # not what it claims to be: nothing to show
    if not pages:
        return None
    for page in pages:
        if page.width > MAX_WIDTH:
            page.thumbnail((MAX_WIDTH, MAX_WIDTH * 20))
    width = max(p.width for p in pages)
    sheet = Image.new("RGB", (width, sum(p.height for p in pages) + 8 * (len(pages) - 1)), "white")
    y = 0
    for page in pages:
        sheet.paste(page, (0, y))
        y += page.height + 8
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=False)
    return out.getvalue()

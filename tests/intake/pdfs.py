"""PDFs with a text layer, written by hand for the tests: Chinese text in the standard CJK font
STSong-Light (not embedded; every reader knows its UniGB-UCS2-H encoding) and table rules."""

from __future__ import annotations


def make_pdf(pages: list[tuple[list[tuple[float, float, int, str]], list[tuple[float, float, float, float]]]]) -> bytes:
    """``pages``: per page, texts ``(x, y, size, text)`` and lines ``(x0, y0, x1, y1)``, in points
    from the bottom left of an A4 page."""
    objs: list[bytes] = []

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    font = add(b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
               b"/DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
               b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> "
               b"/FontDescriptor << /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
               b"/FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 "
               b"/StemV 93 >> /DW 1000 /W [1 95 500] >>] >>")
    pages_id = len(objs) + 1 + 2 * len(pages)
    kids = []
    for texts, lines in pages:
        ops = [b"0.5 w"]
        ops += [b"%.1f %.1f m %.1f %.1f l S" % line for line in lines]
        ops += [b"BT /F1 %d Tf %.1f %.1f Td <%s> Tj ET" % (size, x, y, text.encode("utf-16-be").hex().encode())
                for x, y, size, text in texts]
        stream = b"\n".join(ops)
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)))
    add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, catalog, xref)
    return bytes(out)


HEAD = [(50, 780, 16, "采购订单"), (50, 750, 10, "订单号：PO-2026-0401"),
        (50, 735, 10, "采购方：无锡华泰汽车部件有限公司"), (50, 720, 10, "交货日期：2026-03-05")]
HEADER_ROW = [(55, 690, 10, "物料编码"), (160, 690, 10, "名称"), (300, 690, 10, "数量"), (360, 690, 10, "单位"),
              (410, 690, 10, "单价"), (480, 690, 10, "金额")]
LINES = [(55, 670, 10, "SNS-HSG-0231"), (160, 670, 10, "传感器壳体 6061-T6"), (300, 670, 10, "500"),
         (360, 670, 10, "件"), (410, 670, 10, "42.50"), (480, 670, 10, "21,250.00"),
         (55, 650, 10, "SNS-CVR-0112"), (160, 650, 10, "端盖 ADC12"), (300, 650, 10, "500"), (360, 650, 10, "件"),
         (410, 650, 10, "8.80"), (480, 650, 10, "4,400.00")]
FOOT = [(50, 620, 10, "合计：25,650.00"), (50, 605, 10, "备注：加急")]
RULES = [(50, 705, 545, 705), (50, 685, 545, 685), (50, 665, 545, 665), (50, 645, 545, 645)] + [
    (x, 645, x, 705) for x in (50, 155, 295, 355, 405, 475, 545)]


def purchase_order(*, header_row: bool = True, pages_after: int = 0, head=HEAD) -> bytes:
    texts = head + (HEADER_ROW if header_row else []) + LINES + FOOT
    return make_pdf([(texts, RULES)] + [([], RULES)] * pages_after)

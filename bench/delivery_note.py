"""Printing a 1,000-line delivery note (issue 19; goal < 2 s): the PDF rendered by
``shipping.documents.render_pdf`` with the shipped template, the project's CJK font, the
letterhead and the QR code, from the data a 1,000-line shipment gives. No database: the data is
built here as ``shipment_context`` builds it (that part is one query). Wall and CPU seconds of
each run, the median, and a check that the last line is in the PDF's text.

    DJANGO_SETTINGS_MODULE=orderhub.settings PYTHONPATH=src .venv/bin/python bench/delivery_note.py [--lines 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time


def _data(n: int) -> dict:
    names = ["传感器壳体", "M8×30 螺栓", "6061铝棒", "密封圈 Φ32", "不锈钢法兰 DN50"]
    lines = [{"no": i, "line_no": i, "sku": f"SKU-{i:05d}", "name": names[i % len(names)], "qty": str(i % 97 + 1),
              "unit": "件", "unit_price": "12.50", "amount": "12.50", "remarks": ""} for i in range(1, n + 1)]
    return {"order": {"number": "SO-261202-000001", "customer": "苏州博锐精工", "customer_code": "C001",
                      "currency": "CNY", "remarks": "", "total": "0.00", "ship_to_contact": "王工",
                      "ship_to_phone": "13800000000", "ship_to_address": "苏州工业园区星湖街 328 号",
                      "required_date": "2026-12-20", "promised_date": "", "created_date": "2026-12-01"},
            "shipment": {"number": "SO-261202-000001-F1", "carrier": "顺丰速运", "waybill": "SF1234567890",
                         "packages": 12, "weight_kg": "86.5", "ship_to_contact": "王工",
                         "ship_to_phone": "13800000000", "ship_to_address": "苏州工业园区星湖街 328 号",
                         "shipped_at": "", "created_at": "2026-12-02 09:00"},
            "lines": lines, "totals": {"qty": str(sum(int(x["qty"]) for x in lines)), "lines": n, "amount": ""}}


def main() -> None:
    import django

    django.setup()
    import pypdf

    from orderhub.shipping import documents

    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    company = {"name": "苏州精密制造有限公司", "address": "苏州市吴中区金枫路 88 号", "phone": "0512-66668888",
               "logo": ""}
    data = _data(args.lines)
    documents.render_pdf("delivery-note", _data(3), url="http://x/orders/1/", company=company,
                         body=documents.DEFAULTS["delivery-note"])   # warm: font and engine loaded once per process
    walls, cpus = [], []
    pdf = b""
    for _ in range(args.runs):
        w, c = time.perf_counter(), time.process_time()
        pdf = documents.render_pdf("delivery-note", data, url="http://x/orders/1/", company=company,
                                   body=documents.DEFAULTS["delivery-note"])
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    last = reader.pages[-1].extract_text()
    print(json.dumps({"scenario": "delivery-note", "lines": args.lines, "pages": len(reader.pages),
                      "bytes": len(pdf), "wall_s": [round(x, 3) for x in walls],
                      "cpu_s": [round(x, 3) for x in cpus], "wall_median_s": round(statistics.median(walls), 3),
                      "cpu_median_s": round(statistics.median(cpus), 3), "goal_s": 2.0,
                      "last_line_printed": f"SKU-{args.lines:05d}" in last}, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Printing a 1,000-line delivery note (issue 19; goal < 2 s): the PDF rendered by
``shipping.documents.render_pdf`` with the shipped template, the project's CJK font, the
letterhead and the QR code, from the data a 1,000-line shipment gives. No database: the data is
built here as ``shipment_context`` builds it (that part is one query).

Figures (wall and CPU seconds, median of ``--runs``):

- **made anew**: the whole rendering (``cache_result=False``), as the first print of a document;
- **printed again**: the same document asked for again (a second print, or the shipping
  notice's attachment then a print), served by ``core.pdf``'s cache (Redis when REDIS_URL is
  set, as in production): template, hash, cache read;
- **3-line note made anew**: the fixed cost per document (font and stylesheet loaded once per
  process).

A check that every line number and quantity is in the PDF's text (pypdf).

    DJANGO_SETTINGS_MODULE=orderhub.settings PYTHONPATH=src .venv/bin/python bench/delivery_note.py [--lines 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


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


def _text(pdf: bytes) -> str:
    import pypdf

    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _timed(fn, runs: int) -> tuple[list[float], list[float], bytes]:
    walls, cpus, out = [], [], b""
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return walls, cpus, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--date", default=None)
    args = ap.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderhub.settings")
    os.environ.setdefault("ORDERHUB_CACHE_URL", os.environ.get("REDIS_URL", ""))
    import django

    django.setup()
    import pypdf

    import contract
    from orderhub.shipping import documents

    company = {"name": "苏州精密制造有限公司", "address": "苏州市吴中区金枫路 88 号", "phone": "0512-66668888",
               "logo": ""}
    data, small = _data(args.lines), _data(3)

    def render(d: dict, cached: bool) -> bytes:
        return documents.render_pdf("delivery-note", d, url="http://x/orders/1/", company=company,
                                    body=documents.DEFAULTS["delivery-note"], cache_result=cached)

    render(small, False)   # warm: WeasyPrint imported, font and stylesheet loaded once per process
    s_walls, s_cpus, _ = _timed(lambda: render(small, False), args.runs)
    walls, cpus, pdf = _timed(lambda: render(data, False), args.runs)
    render(data, True)     # the first print keeps it
    c_walls, c_cpus, again = _timed(lambda: render(data, True), args.runs)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    rows = set(_text(pdf).splitlines())
    missing = [ln["no"] for ln in data["lines"]
               if f'{ln["no"]} {ln["sku"]} {ln["name"]} {ln["qty"]} 件' not in rows]
    cond = f"{args.lines} lines, {len(reader.pages)} pages, {len(pdf) // 1024} kB; {os.cpu_count()} CPUs, " \
           f"load average {os.getloadavg()[0]:.1f}"
    figures = [
        contract.figure(f"{args.lines}-line delivery note made anew (wall)", "s", walls, goal="< 2 s",
                        goal_value=2.0, conditions=cond),
        contract.figure(f"{args.lines}-line delivery note made anew (CPU)", "s", cpus, goal="< 2 s",
                        goal_value=2.0, conditions="process CPU time of the same runs"),
        contract.figure(f"{args.lines}-line delivery note printed again (wall)", "s", c_walls, goal="< 2 s",
                        goal_value=2.0, conditions="served by core.pdf's cache (template, hash, cache read); "
                        f"CPU median {statistics.median(c_cpus):.3f} s"),
        contract.figure("3-line delivery note made anew (wall)", "s", s_walls,
                        conditions=f"fixed cost per document; CPU median {statistics.median(s_cpus):.3f} s"),
    ]
    notes = [f"every line number and quantity in the PDF's text: {'yes' if not missing else f'no, {len(missing)} missing'}",
             f"printed again gives the same PDF text: {_text(again) == _text(pdf)}"]
    path = contract.write_result("delivery-note", figures, notes=notes, day=args.date)
    for f in figures:
        print(f"{f['name']}: median {f['median']} s ({f['verdict']})")
    print("\n".join(notes))
    print(path)


if __name__ == "__main__":
    main()

"""The daily report: one day's figures as a PDF (WeasyPrint, the project's CJK font, charts
drawn here as SVG) and its Excel twin. Every number is a ``kpis.selectors`` answer for the
one-day filter (``daily_figures``): nothing is computed twice. Open-order figures (overdue,
stalled, open by stage) are read at the moment the report is made.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _

from orderhub.core import clock, pdf

from . import rolled, selectors
from .exports import _cell
from .names import Names
from .selectors import KpiFilter

TREND_DAYS = 14


def daily_figures(day: date) -> dict[str, Any]:
    """The selectors' answers for ``day`` (and the 14 days to it, for the trend chart)."""
    now = clock.now()
    f = KpiFilter.build(start=day, end=day, now=now)
    wide = KpiFilter.build(start=day - timedelta(days=TREND_DAYS - 1), end=day, now=now)
    with rolled.one_reading():
        return {"day": day, "now": now, "first_touch": selectors.first_touch(f), "on_time": selectors.on_time(f),
                "processing": selectors.order_processing(f), "stalled": selectors.stalled(f),
                "overdue": selectors.overdue(f), "exceptions": selectors.exceptions(f),
                "open_by_stage": selectors.open_by_stage(f), "trend": selectors.trend(wide)["day"]}


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return _("暂无数据")
    m = int(round(seconds / 60))
    return _("%(h)s小时%(m)s分") % {"h": m // 60, "m": m % 60} if m >= 60 else _("%(m)s分钟") % {"m": m}


def _rate(r: float | None) -> str:
    return _("暂无数据") if r is None else f"{r * 100:.1f}%"


def headline(fig: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of the day's headline figures, as the PDF and the workbook show them."""
    ft, ot, pr = fig["first_touch"], fig["on_time"], fig["processing"]
    return [
        (_("新订单首次响应（中位数，工作时间）"), _dur(ft["median_business_seconds"])),
        (_("有首次响应的订单数"), str(ft["count"])),
        (_("当日完成订单数"), str(ot["completed"])),
        (_("其中准时交付"), str(ot["on_time"])),
        (_("准时交付率"), _rate(ot["rate"])),
        (_("每单处理时间（平均）"), _dur(pr["mean_seconds"])),
        (_("每单处理时间（中位数）"), _dur(pr["median_seconds"])),
        (_("超期订单数"), str(fig["overdue"]["count"])),
        (_("停滞订单数（%(n)s个工作日无变化）") % {"n": fig["stalled"]["days"]}, str(fig["stalled"]["count"])),
        (_("当日新增异常数"), str(fig["exceptions"]["count"])),
    ]


def overdue_rows(fig: dict[str, Any], names: Names) -> list[list[Any]]:
    return [[r["number"], names.customer(r["customer"]), names.stage(r["workflow"], r["stage"]),
             timezone.localtime(_dt(r["due_at"])).strftime("%Y-%m-%d %H:%M"), _dur(r["overdue_seconds"])]
            for r in fig["overdue"]["top"]]


def exception_tables(fig: dict[str, Any], names: Names) -> list[tuple[str, list[list[Any]]]]:
    ex = fig["exceptions"]
    return [
        (_("按类型"), [[names.kind(r["key"][0]), r["count"]] for r in ex["kind"]]),
        (_("按产品"), [[r["key"][0] or "—", r["count"]] for r in ex["product"]]),
        (_("按客户"), [[names.customer(r["key"][0]), r["count"]] for r in ex["customer"]]),
        (_("按阶段"), [[names.stage(r["key"][0], r["key"][1]), r["count"]] for r in ex["stage"]]),
    ]


def _dt(iso: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(iso)


# --------------------------------------------------------------------------- SVG charts

def bar_svg(labels: list[str], values: list[int], *, width: int = 520, height: int = 200) -> str:
    """A horizontal-axis bar chart as SVG text (labels under the bars, the value above)."""
    top = max(values or [0]) or 1
    n = max(len(values), 1)
    slot = (width - 40) / n
    bars = []
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        h = (height - 60) * v / top
        x = 30 + i * slot + slot * 0.15
        y = height - 40 - h
        bars.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" fill="#3b6fb6"/>'
                    f'<text x="{x + slot * 0.35:.1f}" y="{y - 3:.1f}" font-size="9" text-anchor="middle">{v}</text>'
                    f'<text x="{x + slot * 0.35:.1f}" y="{height - 26}" font-size="8" text-anchor="middle">'
                    f'{escape(lab[:8])}</text>')
    axis = f'<line x1="25" y1="{height - 40}" x2="{width - 5}" y2="{height - 40}" stroke="#555"/>'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="OH CJK">{axis}{"".join(bars)}</svg>')


def line_svg(labels: list[str], series: dict[str, list[int]], *, width: int = 520, height: int = 200) -> str:
    """Lines over days as SVG text, one colour per series, a legend on top."""
    colours = ("#3b6fb6", "#d9822b", "#2e9d5b")
    top = max([v for vs in series.values() for v in vs] or [0]) or 1
    step = (width - 60) / max(len(labels) - 1, 1)
    parts = [f'<line x1="30" y1="{height - 40}" x2="{width - 10}" y2="{height - 40}" stroke="#555"/>']
    for k, (name, vs) in enumerate(series.items()):
        c = colours[k % len(colours)]
        pts = " ".join(f"{40 + i * step:.1f},{height - 40 - (height - 80) * v / top:.1f}" for i, v in enumerate(vs))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        parts.append(f'<rect x="{40 + k * 110}" y="6" width="10" height="10" fill="{c}"/>'
                     f'<text x="{54 + k * 110}" y="15" font-size="9">{escape(name)}</text>')
    for i, lab in enumerate(labels):
        if i % 2 == len(labels) % 2 or len(labels) < 8:
            parts.append(f'<text x="{40 + i * step:.1f}" y="{height - 26}" font-size="8" '
                         f'text-anchor="middle">{escape(lab)}</text>')
    parts.append(f'<text x="4" y="{44}" font-size="8">{top}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="OH CJK">{"".join(parts)}</svg>')


def charts(fig: dict[str, Any], names: Names) -> list[tuple[str, str]]:
    obs = fig["open_by_stage"]
    trend = fig["trend"]
    return [
        (_("在制订单（按阶段）"), bar_svg([names.stage(r["workflow"], r["stage"]) for r in obs],
                                   [r["total"] for r in obs])),
        (_("近%(n)s天趋势") % {"n": TREND_DAYS},
         line_svg([r["period"][5:] for r in trend], {_("新建"): [r["created"] for r in trend],
                                                     _("完成"): [r["completed"] for r in trend],
                                                     _("准时完成"): [r["on_time"] for r in trend]})),
    ]


# --------------------------------------------------------------------------- the PDF

CSS = """@font-face { font-family: "OH CJK"; src: url("%(normal)s"); }
@font-face { font-family: "OH CJK"; font-weight: bold; src: url("%(bold)s"); }
@page { size: A4; margin: 14mm 12mm 14mm 12mm; }
body { font-family: "OH CJK"; font-size: 9pt; color: #111; }
h1 { font-size: 16pt; margin: 0 0 2pt; } h2 { font-size: 11pt; margin: 10pt 0 3pt; }
.meta { color: #555; margin-bottom: 6pt; }
table { width: 100%%; border-collapse: collapse; }
th, td { border: 0.5pt solid #888; padding: 1.5pt 3pt; text-align: left; }
th { background: #eee; } td.n { text-align: right; }
.grid { display: flex; flex-wrap: wrap; } .grid > div { width: 50%%; }
img.chart { width: 100%%; }
"""


def _table(columns: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return f"<p>{escape(_('无'))}</p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f'<td{" class=n" if isinstance(v, int) else ""}>{escape(str(v))}</td>'
                                    for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_html(fig: dict[str, Any], fonts: dict[str, str]) -> str:
    names = Names()
    parts = [f"<h1>{escape(_('订单中枢日报'))} {fig['day']:%Y-%m-%d}</h1>",
             f"<div class=meta>{escape(_('生成于'))} {timezone.localtime(fig['now']):%Y-%m-%d %H:%M}</div>",
             f"<h2>{escape(_('当日指标'))}</h2>", _table([_("指标"), _("数值")], [list(r) for r in headline(fig)])]
    for title, svg in charts(fig, names):
        parts.append(f'<h2>{escape(title)}</h2><div class="chart">{svg}</div>')
    parts.append(f"<h2>{escape(_('超期订单 TOP5'))}</h2>")
    parts.append(_table([_("订单"), _("客户"), _("阶段"), _("期限"), _("已超期")], overdue_rows(fig, names)))
    parts.append(f"<h2>{escape(_('异常 TOP10'))}</h2><div class=grid>")
    for title, rows in exception_tables(fig, names):
        parts.append(f"<div><h2>{escape(title)}</h2>{_table([title[1:], _('异常数')], rows)}</div>")
    parts.append("</div>")
    return (f'<html lang="zh-CN"><head><meta charset="utf-8"><style>{CSS % fonts}</style></head>'
            f'<body>{"".join(parts)}</body></html>')


def daily_pdf(day: date) -> bytes:
    """The day's report as PDF bytes."""
    from weasyprint import HTML

    fonts = pdf.font_urls()
    html = report_html(daily_figures(day), fonts)
    return bytes(HTML(string=html, url_fetcher=pdf.fetcher(set(fonts.values())), base_url="/").write_pdf())


def daily_xlsx(day: date) -> bytes:
    """The Excel twin: the same headline, TOP5 and TOP10 tables, and the charts' numbers."""
    # here, not at import: a process that never writes a workbook never loads it
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.worksheet import Worksheet

    fig, names = daily_figures(day), Names()
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = str(_("日报"))
    ws.append([_cell(f"{_('订单中枢日报')} {day:%Y-%m-%d}")])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([_cell(f"{_('生成于')} {timezone.localtime(fig['now']):%Y-%m-%d %H:%M}")])

    def section(title: str, columns: list[str], rows: list[list[Any]]) -> None:
        ws.append([])
        ws.append([_cell(title)])
        ws.cell(ws.max_row, 1).font = Font(bold=True)
        ws.append([_cell(c) for c in columns])
        for r in rows:
            ws.append([_cell(v) for v in r])

    raw = _raw_headline(fig)
    section(_("当日指标"), [_("指标"), _("数值"), _("原始值")],
            [[k, v, raw[i]] for i, (k, v) in enumerate(headline(fig))])
    section(_("超期订单 TOP5"), [_("订单"), _("客户"), _("阶段"), _("期限"), _("已超期")], overdue_rows(fig, names))
    for title, rows in exception_tables(fig, names):
        section(_("异常 TOP10") + " " + title, [title[1:], _("异常数")], rows)
    section(_("在制订单（按阶段）"), [_("阶段"), _("订单数")],
            [[names.stage(r["workflow"], r["stage"]), r["total"]] for r in fig["open_by_stage"]])
    section(_("近%(n)s天趋势") % {"n": TREND_DAYS}, [_("日期"), _("新建"), _("完成"), _("准时完成")],
            [[r["period"], r["created"], r["completed"], r["on_time"]] for r in fig["trend"]])
    ws.column_dimensions["A"].width = 36
    for col in "BCDE":
        ws.column_dimensions[col].width = 16
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _raw_headline(fig: dict[str, Any]) -> list[Any]:
    """The headline's numbers as numbers (seconds, share), beside the words, for a spreadsheet."""
    ft, ot, pr = fig["first_touch"], fig["on_time"], fig["processing"]
    return [ft["median_business_seconds"], ft["count"], ot["completed"], ot["on_time"], ot["rate"],
            pr["mean_seconds"], pr["median_seconds"], fig["overdue"]["count"], fig["stalled"]["count"],
            fig["exceptions"]["count"]]


def filename(day: date, ext: str) -> str:
    return f"{_('日报')}-{day:%Y%m%d}.{ext}"

"""The KPI dashboards' panels: each figure of ``kpis.selectors`` turned into what a person
reads (a table with words, a chart, drill-down links to the order list) and what the Excel
download holds (the same table). The numbers are the selectors' own; only words are added.

Durations are shown in hours with one decimal in tables and charts (numbers a spreadsheet can
sum) and as "6分18秒" in the headline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core.permissions import KPI_AUDIENCES
from orderhub.kpis import selectors
from orderhub.kpis.names import Names
from orderhub.kpis.selectors import KpiFilter
from orderhub.workflow.models import WorkflowDefinition

from .labels import CHANNEL_LABELS

__all__ = ["Names"]  # re-exported: the words moved to kpis.names (the daily report uses them)

#: which panels each audience's dashboard shows, in order
AUDIENCE_PANELS = {
    "boss": ("headline", "trend-day", "trend-week", "overdue-top", "overdue-stage", "exceptions-kind",
             "exceptions-customer", "exceptions-product", "exceptions-stage"),
    "operations": ("headline", "open-by-stage", "stage-times", "overdue-stage", "overdue-top", "stalled",
                   "exceptions-stage", "exceptions-kind"),
    "planning": ("headline", "open-by-stage", "stage-times", "stalled", "overdue-stage", "overdue-top",
                 "trend-week"),
    "sales": ("headline", "trend-day", "overdue-top", "exceptions-customer", "exceptions-kind", "stalled"),
    "purchasing": ("headline", "exceptions-product", "stalled", "stage-times", "overdue-stage"),
}
assert set(AUDIENCE_PANELS) == set(KPI_AUDIENCES)


def audience_labels() -> dict[str, str]:
    return {"boss": _("Owner (boss)"), "operations": _("Operations"), "planning": _("Planning"),
            "sales": _("Sales"), "purchasing": _("Purchasing")}


@dataclass
class Panel:
    code: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    links: list[str | None] = field(default_factory=list)
    chart: dict[str, Any] | None = None
    note: str = ""

    @property
    def linked_rows(self) -> list[tuple[list[Any], str | None]]:
        """Each row with its drill-down link (None: no link)."""
        return [(row, self.links[i] if i < len(self.links) else None) for i, row in enumerate(self.rows)]


def duration_text(seconds: float | None) -> str:
    """"6分18秒", "3小时5分", "2天4小时"; "暂无数据" when nothing was measured."""
    if seconds is None:
        return _("No data yet")
    total = int(round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    mins, secs = divmod(rest, 60)
    if days:
        return _("%(d)dd %(h)dh") % {"d": days, "h": hours}
    if hours:
        return _("%(h)dh %(m)dm") % {"h": hours, "m": mins}
    return _("%(m)dm %(s)ds") % {"m": mins, "s": secs}


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)


def percent(rate: float | None) -> str:
    return _("No data yet") if rate is None else f"{rate * 100:.1f}%"


def orders_url(**params: Any) -> str:
    return reverse("web:order_list") + "?" + urlencode({k: v for k, v in params.items() if v})


def _when(iso: str) -> str:
    return formats.date_format(timezone.localtime(datetime.fromisoformat(iso)), "Y-m-d H:i")


def _chart(kind: str, categories: list[str], series: dict[str, list[Any]], unit: str = "") -> dict[str, Any]:
    return {"type": kind, "categories": categories, "unit": unit,
            "series": [{"name": name, "data": data} for name, data in series.items()]}


# --------------------------------------------------------------------------- panels

def coei_basis(portal: dict[str, Any]) -> str:
    """The COEI's basis in words: orders scored, and the survey beside it."""
    text = _("%(n)d orders scored") % {"n": portal.get("coei_orders", 0)}
    if portal.get("surveys"):
        text += _("; %(n)d survey answers, %(s)s stars on average") % {"n": portal["surveys"], "s": portal["stars"]}
    else:
        text += _("; no survey answer yet")
    return text


def headline(figs: dict[str, Any], f: KpiFilter) -> Panel:
    ft, ot, pr = figs["first-touch"], figs["on-time"], figs["processing"]
    portal = figs["portal"]
    rows = [
        [_("First-touch latency (median, business time)"), duration_text(ft["median_business_seconds"]),
         _("%(n)d orders submitted") % {"n": ft["count"]}],
        [_("On-time delivery"), percent(ot["rate"]),
         _("%(ok)d of %(n)d completed orders") % {"ok": ot["on_time"], "n": ot["completed"]}],
        [_("Processing time per order (mean)"), duration_text(pr["mean_seconds"]),
         _("median %(m)s, p90 %(p)s, %(n)d orders") % {
             "m": duration_text(pr["median_seconds"]), "p": duration_text(pr["p90_seconds"]), "n": pr["count"]}],
        [_("Overdue orders"), figs["overdue"]["count"], _("open orders past their stage deadline")],
        [_("Stalled orders"), figs["stalled"]["count"],
         _("no change for %(n)d working days") % {"n": figs["stalled"]["days"]}],
        [_("Exceptions"), figs["exceptions"]["count"], _("tickets opened in the period")],
        [_("Self-query rate"), percent(portal["self_query_rate"]),
         _("%(ok)d of %(n)d orders opened by the customer") % {"ok": portal["opened"], "n": portal["orders"]}],
        [_("Customer order experience index (COEI)"),
         _("No data yet") if portal["coei"] is None else portal["coei"],
         coei_basis(portal)],
    ]
    return Panel("headline", _("Key figures"), [_("Figure"), _("Value"), _("Basis")], rows,
                 links=[None, orders_url(status="completed", **f.orders), None,
                        orders_url(overdue="1", status="open", **f.orders), None, None, None, None])


def trend(figs: dict[str, Any], f: KpiFilter, grain: str) -> Panel:
    rows, cats = [], []
    for r in figs["trend"][grain]:
        d = date.fromisoformat(r["period"])
        label = formats.date_format(d, "m-d") if grain == "day" else _("week of %(d)s") % {
            "d": formats.date_format(d, "m-d")}
        cats.append(label)
        rate = percent(r["on_time"] / r["completed"]) if r["completed"] else "—"
        rows.append([label, r["created"], r["completed"], r["on_time"], rate])
    series = {_("Created"): [r[1] for r in rows], _("Completed"): [r[2] for r in rows],
              _("Completed on time"): [r[3] for r in rows]}
    title = _("Trend by day") if grain == "day" else _("Trend by week")
    return Panel(f"trend-{grain}", title,
                 [_("Period"), _("Created"), _("Completed"), _("Completed on time"), _("On-time delivery")],
                 rows, chart=_chart("line", cats, series))


def stage_times(figs: dict[str, Any], f: KpiFilter, names: Names) -> Panel:
    rows, links, cats = [], [], []
    for r in figs["stage-times"]:
        label = f"{r['workflow']} · {names.stage(r['workflow'], r['stage'])}"
        cats.append(label)
        rows.append([names.workflow(r["workflow"]), names.stage(r["workflow"], r["stage"]), r["count"],
                     hours(r["median_seconds"]), hours(r["p90_seconds"])])
        links.append(orders_url(workflow=r["workflow"], stage=r["stage"]))
    return Panel("stage-times", _("Time per stage (hours)"),
                 [_("Workflow"), _("Stage"), _("Stays ended"), _("Median (hours)"), _("p90 (hours)")],
                 rows, links, _chart("bar", cats, {_("Median"): [r[3] for r in rows],
                                                   _("p90"): [r[4] for r in rows]}, unit=_("h")))


def open_by_stage(figs: dict[str, Any], f: KpiFilter, names: Names) -> Panel:
    rows, links, cats = [], [], []
    for r in figs["open-by-stage"]:
        cats.append(f"{r['workflow']} · {names.stage(r['workflow'], r['stage'])}")
        rows.append([names.workflow(r["workflow"]), names.stage(r["workflow"], r["stage"]),
                     r["red"], r["yellow"], r["green"], r["total"]])
        links.append(orders_url(workflow=r["workflow"], stage=r["stage"], status="open"))
    series = {_("Red"): [r[2] for r in rows], _("Yellow"): [r[3] for r in rows],
              _("Green"): [r[4] for r in rows]}
    return Panel("open-by-stage", _("Open orders by stage and urgency"),
                 [_("Workflow"), _("Stage"), _("Red"), _("Yellow"), _("Green"), _("Total")],
                 rows, links, _chart("stack", cats, series))


def overdue_stage(figs: dict[str, Any], f: KpiFilter, names: Names) -> Panel:
    rows, links, cats = [], [], []
    for r in figs["overdue"]["by_stage"]:
        cats.append(f"{r['workflow']} · {names.stage(r['workflow'], r['stage'])}")
        rows.append([names.workflow(r["workflow"]), names.stage(r["workflow"], r["stage"]),
                     r["open"], r["overdue"], r["on_hold"]])
        links.append(orders_url(workflow=r["workflow"], stage=r["stage"], overdue="1", status="open",
                                customer=f.customer, channel=f.channel))
    return Panel("overdue-stage", _("Overdue by stage"),
                 [_("Workflow"), _("Stage"), _("Open orders"), _("Overdue"), _("On hold")], rows, links,
                 _chart("bar", cats, {_("Overdue"): [r[3] for r in rows], _("On hold"): [r[4] for r in rows]}))


def overdue_top(figs: dict[str, Any], f: KpiFilter, names: Names) -> Panel:
    rows, links = [], []
    for r in figs["overdue"]["top"]:
        rows.append([r["number"], names.customer(r["customer"]), names.stage(r["workflow"], r["stage"]),
                     _when(r["due_at"]), duration_text(r["overdue_seconds"])])
        links.append(reverse("web:order_detail", args=[r["number"]]))
    return Panel("overdue-top", _("Overdue TOP5"),
                 [_("Order"), _("Customer"), _("Stage"), _("Due"), _("Overdue by")], rows, links,
                 note=_("The five open orders longest past their stage deadline."))


def stalled(figs: dict[str, Any], f: KpiFilter, names: Names) -> Panel:
    s = figs["stalled"]
    rows, links = [], []
    for r in s["orders"]:
        rows.append([r["number"], names.customer(r["customer"]), names.stage(r["workflow"], r["stage"]),
                     _when(r["updated_at"])])
        links.append(reverse("web:order_detail", args=[r["number"]]))
    note = _("%(n)d open orders with no change for %(d)d working days (since %(t)s); the longest "
             "stalled first.") % {"n": s["count"], "d": s["days"], "t": _when(s["cutoff"])}
    return Panel("stalled", _("Stalled orders"), [_("Order"), _("Customer"), _("Stage"), _("Last change")],
                 rows, links, note=note)


def exceptions(figs: dict[str, Any], f: KpiFilter, names: Names, dim: str) -> Panel:
    rows, links = [], []
    for r in figs["exceptions"][dim]:
        key = r["key"]
        if dim == "kind":
            label, link = names.kind(key[0]), orders_url(ticket=key[0], **f.orders)
        elif dim == "product":
            label, link = key[0] or "—", orders_url(product=key[0], **f.orders)
        elif dim == "customer":
            label, link = names.customer(key[0]), orders_url(customer=key[0], workflow=f.workflow,
                                                              channel=f.channel)
        else:
            label = f"{key[0]} · {names.stage(key[0], key[1])}"
            link = orders_url(workflow=key[0], stage=key[1], customer=f.customer, channel=f.channel)
        rows.append([label, r["count"]])
        links.append(link)
    titles = {"kind": _("Exception TOP10 by type"), "product": _("Exception TOP10 by product"),
              "customer": _("Exception TOP10 by customer"), "stage": _("Exception TOP10 by stage")}
    heads = {"kind": _("Type"), "product": _("Product"), "customer": _("Customer"), "stage": _("Stage")}
    return Panel(f"exceptions-{dim}", titles[dim], [heads[dim], _("Tickets")], rows, links,
                 _chart("bar", [r[0] for r in rows], {_("Tickets"): [r[1] for r in rows]}))


def build(codes: tuple[str, ...] | list[str], f: KpiFilter) -> tuple[dict[str, Any], list[Panel]]:
    """The figures the panels need (each read once) and the panels, in order."""
    needs = {"headline": ("first-touch", "on-time", "processing", "overdue", "stalled", "exceptions", "portal"),
             "trend-day": ("trend",), "trend-week": ("trend",), "stage-times": ("stage-times",),
             "open-by-stage": ("open-by-stage",), "overdue-stage": ("overdue",), "overdue-top": ("overdue",),
             "stalled": ("stalled",)}
    wanted: list[str] = []
    for code in codes:
        for fig in needs.get(code, ("exceptions",)):
            if fig not in wanted:
                wanted.append(fig)
    figs = selectors.read_figures(wanted, f)
    names = Names()
    makers = {
        "headline": lambda: headline(figs, f), "trend-day": lambda: trend(figs, f, "day"),
        "trend-week": lambda: trend(figs, f, "week"), "stage-times": lambda: stage_times(figs, f, names),
        "open-by-stage": lambda: open_by_stage(figs, f, names),
        "overdue-stage": lambda: overdue_stage(figs, f, names),
        "overdue-top": lambda: overdue_top(figs, f, names), "stalled": lambda: stalled(figs, f, names),
    }
    panels = [makers[c]() if c in makers else exceptions(figs, f, names, c.removeprefix("exceptions-"))
              for c in codes]
    return figs, panels


PANEL_CODES = frozenset(c for codes in AUDIENCE_PANELS.values() for c in codes)


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """The filter form's choices: workflows, customers, channels (codes with words)."""
    return {
        "workflow": [(wf.code, f"{wf.code} {wf.name}")
                     for wf in WorkflowDefinition.objects.filter(is_current=True).order_by("code")],
        "customer": list(Customer.objects.order_by("code").values_list("code", "name")[:500]),
        "channel": [(c, str(label)) for c, label in CHANNEL_LABELS.items()],
    }

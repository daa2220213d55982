"""The KPI dashboards (``/kpi/``): one page per audience (owner, operations, planning, sales,
purchasing) over the figures of ``kpis.selectors`` (the same functions ``/api/kpis`` answers
from), each chart with its table, its drill-down to the order list and an Excel download.

The panels of a page are rendered once per audience, filter and language and kept in the
shared cache for ``PAGE_SECONDS`` (the figures are company-wide, the same for every viewer);
a run of the KPI rollup makes them anew (``kpis.rollup.generation``). The page says when its
figures were read."""

from __future__ import annotations

import hashlib

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.forms.utils import flatatt
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.downloads import download_response
from orderhub.core.errors import DomainError
from orderhub.core.permissions import KPI_AUDIENCES, allowed, kpi_audience
from orderhub.core.roles import ROLES
from orderhub.kpis import report, rollup, services
from orderhub.kpis.exports import table_workbook
from orderhub.kpis.selectors import KpiFilter

from .. import kpi_panels
from .common import actor_for, refused, requires

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_SECONDS = 60   # a dashboard's panels are kept this long per audience, filter and language


class QuickSelect(forms.Select):
    """A ``<select>`` written out here: Django renders each option through a template, which
    for the filter's few hundred customers took about a third of the dashboard's time."""

    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, attrs)
        chosen = "" if value is None else str(value[0] if isinstance(value, (list, tuple)) and value else value)
        options = format_html_join("", '<option value="{}"{}>{}</option>', (
            (v, mark_safe(" selected") if str(v) == chosen else "", label) for v, label in self.choices))
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(final), options)


class KpiFilterForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("Period from"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("Period to"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}))
    workflow = forms.ChoiceField(label=gettext_lazy("Workflow"), required=False, widget=QuickSelect)
    customer = forms.ChoiceField(label=gettext_lazy("Customer"), required=False, widget=QuickSelect)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False, widget=QuickSelect)
    stalled_days = forms.IntegerField(label=gettext_lazy("Stalled after (working days)"), required=False,
                                      min_value=1, max_value=250)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        any_ = [("", _("all"))]
        for name, choices in kpi_panels.filter_choices().items():
            self.fields[name].choices = any_ + choices

    def kpi_filter(self) -> KpiFilter:
        d = self.cleaned_data if self.is_valid() else {}
        return KpiFilter.build(start=d.get("start"), end=d.get("end"), workflow=d.get("workflow"),
                               customer=d.get("customer"), channel=d.get("channel"),
                               stalled_days=d.get("stalled_days"), now=clock.now())


@requires("kpis.view")
def kpi_home(request):
    """To the dashboard of the viewer's own audience, keeping the filter."""
    url = reverse("web:kpi_dashboard", args=[kpi_audience(actor_for(request)) or KPI_AUDIENCES[0]])
    return redirect(url + ("?" + request.GET.urlencode() if request.GET else ""))


@requires("kpis.view")
def kpi_dashboard(request, audience: str):
    if audience not in kpi_panels.AUDIENCE_PANELS:
        raise Http404
    form = KpiFilterForm(request.GET or None)
    f = form.kpi_filter()
    labels = kpi_panels.audience_labels()
    query = request.GET.urlencode()
    figures, panels_html = _panels_html(audience, f, query)
    return render(request, "web/kpi/dashboard.html", {
        "form": form, "f": f, "figures": figures, "panels_html": panels_html, "audience": audience,
        "tabs": [(a, labels[a], reverse("web:kpi_dashboard", args=[a]) + ("?" + query if query else ""))
                 for a in KPI_AUDIENCES],
        "audience_label": labels[audience], "query": query, "today": timezone.localdate(f.now),
        "can_set_report": allowed(actor_for(request), "notify.manage"),
    })


def _panels_html(audience: str, f: KpiFilter, query: str) -> tuple[dict | None, SafeString]:
    """The page's panels and chart data as HTML, from the cache when made in the last
    ``PAGE_SECONDS`` for the same audience, filter, query and language since the last rollup
    run; else read and rendered (the figures returned too, None when cached)."""
    parts = (audience, sorted(f.as_query().items()), query, get_language(), rollup.generation())
    key = "kpi:page:" + hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    html = cache.get(key)
    if isinstance(html, str):
        return None, mark_safe(html)  # noqa: S308 (our own template's output)
    figures, panels = kpi_panels.build(kpi_panels.AUDIENCE_PANELS[audience], f)
    html = render_to_string("web/kpi/_panels.html", {
        "panels": panels, "query": query,
        "at": timezone.localtime(f.now).strftime("%Y-%m-%d %H:%M"),
        "charts": [{"id": p.code, **p.chart} for p in panels if p.chart and p.rows]})
    cache.set(key, str(html), PAGE_SECONDS)
    return figures, mark_safe(html)  # noqa: S308 (our own template's output)


@requires("kpis.view")
def kpi_export(request, panel: str):
    """One panel's table as an Excel workbook, for the same filter as the page."""
    if panel not in kpi_panels.PANEL_CODES:
        raise Http404
    form = KpiFilterForm(request.GET or None)
    f = form.kpi_filter()
    _figures, (p,) = kpi_panels.build([panel], f)
    names = kpi_panels.Names()
    lines = [_("Period: %(start)s to %(end)s") % {"start": f.start, "end": f.end}]
    if f.workflow:
        lines.append(_("Workflow") + ": " + names.workflow(f.workflow))
    if f.customer:
        lines.append(_("Customer") + ": " + names.customer(f.customer))
    if f.channel:
        lines.append(_("Channel") + ": " + str(kpi_panels.CHANNEL_LABELS.get(f.channel, f.channel)))
    if p.note:
        lines.append(p.note)
    lines.append(_("Generated %(at)s by %(who)s") % {
        "at": timezone.localtime(f.now).strftime("%Y-%m-%d %H:%M"), "who": actor_for(request).label})
    content = table_workbook(title=p.title, lines=lines, columns=p.columns, rows=p.rows, now=f.now)
    return download_response(content, filename=f"kpi-{panel}-{f.start:%Y%m%d}-{f.end:%Y%m%d}.xlsx",
                             fallback="kpi.xlsx", content_type=XLSX)


class ReportDateForm(forms.Form):
    date = forms.DateField(label=gettext_lazy("日报日期"), required=False,
                           widget=forms.DateInput(attrs={"type": "date"}))


@requires("kpis.view")
def kpi_daily_report(request, ext: str):
    """The daily report of ``?date=`` (default today) as PDF or its Excel twin."""
    form = ReportDateForm(request.GET or None)
    day = (form.cleaned_data.get("date") if form.is_valid() else None) or timezone.localdate(clock.now())
    if ext == "pdf":
        content, ctype = report.daily_pdf(day), "application/pdf"
    else:
        content, ctype = report.daily_xlsx(day), XLSX
    return download_response(content, filename=report.filename(day, ext), fallback=f"daily-report.{ext}",
                             content_type=ctype)


class ReportSettingForm(forms.Form):
    enabled = forms.BooleanField(label=gettext_lazy("按时发送日报"), required=False)
    send_at = forms.TimeField(label=gettext_lazy("发送时间"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    roles = forms.MultipleChoiceField(label=gettext_lazy("接收角色"), required=False,
                                      widget=forms.CheckboxSelectMultiple,
                                      choices=[(k, v) for k, v in ROLES.items()])


@requires("notify.manage")
def kpi_report_setting(request):
    """When and to which roles the daily report is mailed (an admin's setting)."""
    s = services.daily_report_setting()
    form = ReportSettingForm(request.POST or None, initial={"enabled": s.enabled, "send_at": s.send_at,
                                                            "roles": s.roles})
    if request.method == "POST" and form.is_valid():
        try:
            services.daily_report_setting_save(actor=actor_for(request), **form.cleaned_data)
        except DomainError as e:
            return refused(request, e, "web:kpi_report_setting")
        messages.success(request, _("日报设置已保存。"))
        return redirect("web:kpi_report_setting")
    return render(request, "web/kpi/report_setting.html", {"form": form, "setting": s})

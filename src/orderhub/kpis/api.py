"""KPI API (mounted at /api/kpis): the dashboards' figures for an ERP or BI tool, one
operation per figure, each reading the same selector as the page (``kpis.selectors``), so the
numbers are equal. Every operation takes the same filter (period, workflow, customer,
channel); durations are seconds, rates shares in 0..1, ``null`` where nothing was measured
(never a zero standing in for "no data"). Capability ``kpis.view``.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from django.http import HttpResponseBase
from ninja import Query, Router, Schema
from pydantic import Field

from orderhub.core import clock
from orderhub.core.downloads import download_response
from orderhub.core.http.auth import requires
from orderhub.core.http.schemas import ERRORS, BizDate, Line

from . import report, selectors, services
from .selectors import KpiFilter

router = Router(tags=["kpis"])


class KpiQuery(Schema):
    start: BizDate | None = Field(None, description="first day of the period (business time zone); "
                                                    "default: 29 days before `end`")
    end: BizDate | None = Field(None, description="last day of the period, included; default: today")
    workflow: Line | None = Field(None, max_length=32, description="workflow code, e.g. T1")
    customer: Line | None = Field(None, max_length=32, description="customer code, e.g. C0101")
    channel: Line | None = Field(None, max_length=32, description="intake channel, e.g. wechat")
    stalled_days: int | None = Field(None, ge=1, le=250,
                                     description="working days without change that make an order stalled (default 5)")

    def kpi_filter(self) -> KpiFilter:
        return KpiFilter.build(start=self.start, end=self.end, workflow=self.workflow,
                               customer=self.customer, channel=self.channel, stalled_days=self.stalled_days)


class FirstTouchOut(Schema):
    count: int = Field(description="orders submitted in the period with a first touch recorded")
    median_business_seconds: float | None = Field(description="median latency in business time")
    p50_seconds: float | None = Field(description="wall-clock median")
    p99_seconds: float | None


class OnTimeOut(Schema):
    completed: int
    on_time: int
    late: int
    rate: float | None = Field(description="on_time / completed; null when nothing was completed")


class SpanOut(Schema):
    count: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None


class StageTimeOut(Schema):
    workflow: str
    stage: str
    count: int
    median_seconds: float | None
    p90_seconds: float | None


class OpenByStageOut(Schema):
    workflow: str
    stage: str
    red: int
    yellow: int
    green: int
    total: int


class StalledOrderOut(Schema):
    number: str
    customer: str
    workflow: str
    stage: str
    updated_at: str


class StalledOut(Schema):
    days: int
    cutoff: str = Field(description="orders unchanged since before this moment are stalled")
    count: int
    orders: list[StalledOrderOut] = Field(description="the longest-stalled, at most 20")


class OverdueStageOut(Schema):
    workflow: str
    stage: str
    open: int
    overdue: int
    on_hold: int


class OverdueOrderOut(Schema):
    number: str
    customer: str
    workflow: str
    stage: str
    due_at: str
    overdue_seconds: float | None


class OverdueOut(Schema):
    count: int
    by_stage: list[OverdueStageOut]
    top: list[OverdueOrderOut] = Field(description="the five most overdue open orders")


class TopRowOut(Schema):
    key: list[str | None] = Field(description="the group: [kind], [sku], [customer code] or [workflow, stage]")
    count: int


class ExceptionsOut(Schema):
    count: int
    kind: list[TopRowOut]
    product: list[TopRowOut]
    customer: list[TopRowOut]
    stage: list[TopRowOut]


class TrendRowOut(Schema):
    period: date = Field(description="the day, or the Monday of the week")
    created: int
    completed: int
    on_time: int


class TrendOut(Schema):
    day: list[TrendRowOut]
    week: list[TrendRowOut]


class PortalOut(Schema):
    self_query_rate: float | None = Field(description="orders created in the period that their customer opened "
                                          "(tracking link or portal) / orders created; null: no order")
    coei: float | None = Field(description="customer order experience index (0-100, seed 002: 40 % shipping notice "
                               "before shipping + 30 % status updated as often as expected + 30 % delay explained "
                               "in time; weights configurable), mean over the scored orders; null: none scored")
    recorded: bool = Field(description="whether the figures are recorded (the self-query rate is, by the portal)")
    orders: int | None = Field(description="orders created in the period")
    opened: int | None = Field(description="of those, opened by their customer (tracking link or portal page)")
    coei_orders: int = Field(0, description="orders with a COEI (not cancelled, at least one part applicable)")
    coei_notice: float | None = Field(None, description="mean share of shipments noticed before shipping (0-1)")
    coei_updates: float | None = Field(None, description="mean share of expected update windows with an update (0-1)")
    coei_delay: float | None = Field(None, description="mean share of delays explained in time (0-1)")
    surveys: int = Field(0, description="satisfaction survey answers of these orders")
    stars: float | None = Field(None, description="their mean stars (1-5); null: no answer")


def _figure(code: str, q: KpiQuery) -> Any:
    return selectors.FIGURES[code](q.kpi_filter())


@router.get("/first-touch", auth=requires("kpis.view"), response={200: FirstTouchOut, **ERRORS})
def first_touch(request, q: Query[KpiQuery]):
    """First-touch latency of the orders submitted in the period (seed 001: 17.3 h → 22 min)."""
    return _figure("first-touch", q)


@router.get("/on-time", auth=requires("kpis.view"), response={200: OnTimeOut, **ERRORS})
def on_time(request, q: Query[KpiQuery]):
    """On-time delivery of the orders completed in the period (seed 004: 98.3 %)."""
    return _figure("on-time", q)


@router.get("/processing", auth=requires("kpis.view"), response={200: SpanOut, **ERRORS})
def processing(request, q: Query[KpiQuery]):
    """Processing time per order: arrival to the end of its first stage (seed 002: 27 min 18 s → 6 min 18 s)."""
    return _figure("processing", q)


@router.get("/stage-times", auth=requires("kpis.view"), response={200: list[StageTimeOut], **ERRORS})
def stage_times(request, q: Query[KpiQuery]):
    """Median and p90 time in each stage, over the stays that ended in the period."""
    return _figure("stage-times", q)


@router.get("/open-by-stage", auth=requires("kpis.view"), response={200: list[OpenByStageOut], **ERRORS})
def open_by_stage(request, q: Query[KpiQuery]):
    """Open orders now per workflow and stage, by urgency."""
    return _figure("open-by-stage", q)


@router.get("/stalled", auth=requires("kpis.view"), response={200: StalledOut, **ERRORS})
def stalled(request, q: Query[KpiQuery]):
    """Open orders unchanged for `stalled_days` working days (seed 003: 47 zombie orders)."""
    return _figure("stalled", q)


@router.get("/overdue", auth=requires("kpis.view"), response={200: OverdueOut, **ERRORS})
def overdue(request, q: Query[KpiQuery]):
    """Open orders past their stage deadline, per stage, and the TOP5 (seed 000)."""
    return _figure("overdue", q)


@router.get("/exceptions", auth=requires("kpis.view"), response={200: ExceptionsOut, **ERRORS})
def exceptions(request, q: Query[KpiQuery]):
    """Tickets opened in the period, TOP10 by kind, product, customer and stage (seed 002)."""
    return _figure("exceptions", q)


@router.get("/trend", auth=requires("kpis.view"), response={200: TrendOut, **ERRORS})
def trend(request, q: Query[KpiQuery]):
    """Orders created, completed and completed on time, per day and per week of the period."""
    return _figure("trend", q)


@router.get("/portal", auth=requires("kpis.view"), response={200: PortalOut, **ERRORS})
def portal(request, q: Query[KpiQuery]):
    """Self-query rate (from the customer portal's opens; seed 002: 64 %) and COEI (seed 002:
    62.3 → 89.7; null while no order is scored) with its parts, and the satisfaction survey."""
    return _figure("portal", q)


class ReportQuery(Schema):
    date: BizDate | None = Field(None, description="the report's day (business time zone); default: today")


PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _day(q: ReportQuery) -> date:
    from django.utils import timezone

    return q.date or timezone.localdate(clock.now())


@router.get("/daily-report.pdf", auth=requires("kpis.view"), response={200: None, **ERRORS})
def daily_report_pdf(request, q: Query[ReportQuery]) -> HttpResponseBase:
    """The daily report of `date` as a PDF download: the day's headline figures, the charts
    (open orders by stage, the 14 days' trend), overdue TOP5 and exception TOP10, all read from
    the same selectors as the figures above (open-order figures as at the moment of the call)."""
    day = _day(q)
    return download_response(report.daily_pdf(day), filename=report.filename(day, "pdf"),
                             fallback="daily-report.pdf", content_type=PDF)


@router.get("/daily-report.xlsx", auth=requires("kpis.view"), response={200: None, **ERRORS})
def daily_report_xlsx(request, q: Query[ReportQuery]) -> HttpResponseBase:
    """The daily report's Excel twin: the same figures and tables as the PDF."""
    day = _day(q)
    return download_response(report.daily_xlsx(day), filename=report.filename(day, "xlsx"),
                             fallback="daily-report.xlsx", content_type=XLSX)


class ReportSettingIO(Schema):
    enabled: bool = Field(description="whether the daily report is mailed")
    send_at: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                         description="time of day it is mailed (business time zone, HH:MM), e.g. 08:00")
    roles: list[str] = Field(description="role codes whose people receive it by e-mail, e.g. manager")


def _setting_out() -> dict[str, Any]:
    s = services.daily_report_setting()
    return {"enabled": s.enabled, "send_at": s.send_at.strftime("%H:%M"), "roles": list(s.roles)}


@router.get("/daily-report/setting", auth=requires("notify.manage"), response={200: ReportSettingIO, **ERRORS})
def get_report_setting(request):
    """When and to which roles the daily report is mailed."""
    return _setting_out()


@router.put("/daily-report/setting", auth=requires("notify.manage"), response={200: ReportSettingIO, **ERRORS})
def save_report_setting(request, payload: ReportSettingIO):
    """Change when and to which roles the daily report is mailed (audited); 422 `invalid`: an unknown role."""
    services.daily_report_setting_save(enabled=payload.enabled, send_at=time.fromisoformat(payload.send_at),
                                       roles=payload.roles,
                                       actor=request.actor)
    return _setting_out()

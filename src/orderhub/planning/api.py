"""Planning API (mounted at /api/planning): production lines and routings, the capacity board,
the schedule rebuild, an order's plan, rush-order options and their insertion, delivery risks and
their measured precision and recall. Reads through ``planning.selectors``/``rush``/``risk``,
writes through ``planning.services``; capabilities ``planning.view`` and ``planning.plan``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from orderhub.catalog.models import Product
from orderhub.core.errors import Problem, ValidationFailed
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, STRICT, BizDate, Line, Text
from orderhub.orders.selectors import visible_numbers

from . import selectors, services
from .risk import risk_backtest, risk_list
from .rush import rush_options
from .schedule import today

router = Router(tags=["planning"])


class PlanRoutingIn(Schema):
    model_config = STRICT
    sku: Line = Field(max_length=64)
    seq: int = Field(10, ge=1, le=999)
    operation: Line = Field(min_length=1, max_length=60)
    hours_per_unit: Decimal = Field(gt=0, max_digits=12, decimal_places=4)
    preferred: bool = True


class PlanLineIn(Schema):
    model_config = STRICT
    name: Line = Field(min_length=1, max_length=100)
    hours_per_day: Decimal = Field(gt=0, le=24, max_digits=10, decimal_places=2)
    is_active: bool = True
    routings: list[PlanRoutingIn] | None = Field(None, max_length=2000,
                                                 description="Replace the line's routing steps (omit: keep them)")


class PlanRoutingOut(Schema):
    sku: str
    name: str
    seq: int
    operation: str
    hours_per_unit: Decimal
    preferred: bool


class PlanLineOut(Schema):
    code: str
    name: str
    hours_per_day: Decimal
    is_active: bool
    routings: list[PlanRoutingOut]


class PlanCellOut(Schema):
    day: date
    hours: Decimal
    capacity: Decimal
    percent: int
    orders: int


class PlanBoardRowOut(Schema):
    line: str
    name: str
    cells: list[PlanCellOut]


class PlanBoardOut(Schema):
    days: list[date]
    lines: list[PlanBoardRowOut]


class PlanRebuildOut(Schema):
    orders: int
    operations: int
    moved: int
    slipped: list[str]


class PlanOperationOut(Schema):
    line: str
    line_name: str
    operation: str
    first_day: date
    last_day: date
    hours: Decimal


class PlanOrderOut(Schema):
    number: str
    promised_date: date | None
    materials_date: date | None
    expected_date: date | None
    rush_line: str | None
    operations: list[PlanOperationOut]


class PlanDelayOut(Schema):
    order: str
    before: date | None
    after: date | None
    days: int


class PlanRushOptionOut(Schema):
    line: str
    name: str
    completion: date
    delayed: list[PlanDelayOut]


class PlanRushOptionsOut(Schema):
    number: str
    promised_date: date | None
    before: date | None
    lines_considered: int
    options: list[PlanRushOptionOut]


class PlanRushIn(Schema):
    model_config = STRICT
    line: Line = Field(min_length=1, max_length=32)
    reason: Text = Field("", max_length=300)


class PlanRiskOut(Schema):
    number: str
    customer: str
    promised_date: date
    stage: str
    owner: str | None
    kinds: list[str]
    reasons: list[str]


class PlanScoreOut(Schema):
    orders: int
    precision: float | None
    recall: float | None
    true_positive: int
    false_positive: int
    false_negative: int


def _line_dict(wc, routings) -> dict[str, Any]:
    return {"code": wc.code, "name": wc.name, "hours_per_day": wc.hours_per_day, "is_active": wc.is_active,
            "routings": [{"sku": r.product.sku, "name": r.product.name, "seq": r.seq, "operation": r.operation,
                          "hours_per_unit": r.hours_per_unit, "preferred": r.preferred} for r in routings]}


@router.get("/lines", auth=requires("planning.view"), response={200: list[PlanLineOut], **ERRORS})
def list_lines(request: ActorRequest) -> list[dict[str, Any]]:
    """Production lines with hours per working day and their routing steps."""
    return [_line_dict(wc, rs) for wc, rs in selectors.lines_with_routings()]


@router.put("/lines/{code}", auth=requires("planning.plan"), response={200: PlanLineOut, **ERRORS})
def save_line(request: ActorRequest, code: str, payload: PlanLineIn) -> dict[str, Any]:
    """Create or change a line (and replace its routings when given); the schedule is rebuilt."""
    routings = None
    if payload.routings is not None:
        skus = {r.sku for r in payload.routings}
        ids = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
        missing = sorted(skus - set(ids))
        if missing:
            raise ValidationFailed("unknown_sku", _("Product “%(sku)s” does not exist.") % {"sku": missing[0]},
                                   problems=[Problem("unknown_sku", missing[0], field="routings")])
        routings = [services.RoutingIn(ids[r.sku], r.seq, r.operation, r.hours_per_unit, r.preferred)
                    for r in payload.routings]
    wc = services.line_save(actor=request.actor, code=code[:32], name=payload.name,
                            hours_per_day=payload.hours_per_day, is_active=payload.is_active, routings=routings)
    return next(_line_dict(w, rs) for w, rs in selectors.lines_with_routings() if w.pk == wc.pk)


@router.get("/board", auth=requires("planning.view"), response={200: PlanBoardOut, **ERRORS})
def board(request: ActorRequest, start: BizDate | None = None, days: int = Query(14, ge=1, le=62)) -> dict[str, Any]:
    """Load per line and day: hours booked, capacity on the business calendar, % load, orders."""
    dates, rows = selectors.capacity_board(start=start or today(), days=days)
    return {"days": dates, "lines": [
        {"line": r.line.code, "name": r.line.name,
         "cells": [{"day": c.day, "hours": c.hours, "capacity": c.capacity, "percent": c.percent, "orders": c.orders}
                   for c in r.cells]} for r in rows]}


@router.post("/reschedule", auth=requires("planning.plan"), response={200: PlanRebuildOut, **ERRORS})
def reschedule(request: ActorRequest) -> dict[str, Any]:
    """Read stock and open POs again and place every released order by priority (owners of
    orders that now finish after their promised date are told)."""
    r = services.schedule_rebuild(actor=request.actor, refresh_materials=True)
    return {"orders": r.orders, "operations": r.operations, "moved": len(r.moved), "slipped": r.slipped}


@router.get("/orders/{number}", auth=requires("planning.view"), response={200: PlanOrderOut, **ERRORS})
def order_plan(request: ActorRequest, number: str) -> dict[str, Any]:
    """An order's plan: materials date, expected completion, its operations per line."""
    order = selectors.visible_order(number, request.actor)
    s = selectors.order_schedule(order)
    return {"number": order.number, "promised_date": order.promised_date,
            "materials_date": s.plan.materials_date if s.plan else None,
            "expected_date": s.plan.expected_date if s.plan else None,
            "rush_line": s.plan.rush_line.code if s.plan and s.plan.rush_line else None,
            "operations": [{"line": c, "line_name": n, "operation": op, "first_day": f, "last_day": la, "hours": h}
                           for c, n, op, f, la, h in s.operations]}


@router.get("/orders/{number}/rush-options", auth=requires("planning.view"),
            response={200: PlanRushOptionsOut, **ERRORS})
def rush(request: ActorRequest, number: str) -> dict[str, Any]:
    """The top 3 lines that can take the order first: its completion on each, its delivery date
    before, and the orders each insertion delays and by how many days."""
    order = selectors.visible_order(number, request.actor)
    opts = rush_options(order.number)
    return {"number": order.number, "promised_date": opts.promised, "before": opts.before,
            "lines_considered": opts.considered,
            "options": [{"line": o.code, "name": o.name, "completion": o.completion,
                         "delayed": [{"order": d.number, "before": d.before, "after": d.after, "days": d.days}
                                     for d in o.delays]} for o in opts.options]}


@router.post("/orders/{number}/rush", auth=requires("planning.plan"), response={200: PlanRebuildOut, **ERRORS})
def rush_insert(request: ActorRequest, number: str, payload: PlanRushIn) -> dict[str, Any]:
    """Insert the order as a rush order on a line: everything is rescheduled and the owners of
    the orders it delays are told."""
    order = selectors.visible_order(number, request.actor)
    r = services.rush_apply(actor=request.actor, number=order.number, line_code=payload.line, reason=payload.reason)
    return {"orders": r.orders, "operations": r.operations, "moved": len(r.moved), "slipped": r.slipped}


@router.get("/risks", auth=requires("planning.view"), response={200: list[PlanRiskOut], **ERRORS})
def risks(request: ActorRequest, hours: int = Query(48, ge=1, le=24 * 31)) -> list[dict[str, Any]]:
    """Open orders promised within ``hours`` (or already past it) whose date is at risk, with why."""
    found = risk_list(hours=hours)
    seen = visible_numbers([r.order.number for r in found], request.actor)
    return [{"number": r.order.number, "customer": r.order.customer.name, "promised_date": r.order.promised_date,
             "stage": r.order.stage, "owner": r.order.owner.username if r.order.owner else None,
             "kinds": r.kinds, "reasons": [s for _k, s in r.reasons]} for r in found if r.order.number in seen]


@router.get("/risks/score", auth=requires("planning.view"), response={200: PlanScoreOut, **ERRORS})
def risk_score(request: ActorRequest) -> dict[str, Any]:
    """Precision and recall of the 48-hour warning over every order whose promised date has passed."""
    s = risk_backtest()
    return {"orders": s.orders, "precision": s.precision, "recall": s.recall, "true_positive": s.true_positive,
            "false_positive": s.false_positive, "false_negative": s.false_negative}

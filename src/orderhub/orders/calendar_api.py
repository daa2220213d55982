"""The business calendar over the API (mounted at /api/calendar): which years are estimated,
and importing a year's official holiday schedule, which recomputes the open deadlines it moves.
It lives in orders because the import's consequence is written to orders (core writes none)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import ConfigDict, Field

from orderhub.core import clock
from orderhub.core.calendar_config import year_is_estimated
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS
from orderhub.core.models import OfficialHolidayYear
from orderhub.core.services import calendar_official_import

from .services import order_deadlines_recompute

router = Router(tags=["calendar"])


class YearOut(Schema):
    year: int
    estimated: bool = Field(description="no official schedule known: holidays and make-up workdays are a guess")
    imported: bool = Field(description="an administrator imported the official schedule")
    days_off: list[date] = Field(description="imported days off (empty unless imported)")
    workdays: list[date] = Field(description="imported make-up workdays (empty unless imported)")
    source: str


class OfficialIn(Schema):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=200_000, description="one entry per line: `2027-02-06~2027-02-12 休`, "
                                                       "`2027-02-20 班` (see the calendar page)")
    source: str = Field("", max_length=200, description="where the schedule comes from")


class OfficialOut(YearOut):
    recomputed: list[str] = Field(description="orders whose open stage deadline moved")


def _year(y: int, row: OfficialHolidayYear | None) -> dict:
    return {"year": y, "estimated": year_is_estimated(y), "imported": row is not None,
            "days_off": row.days_off if row else [], "workdays": row.workdays if row else [],
            "source": row.source if row else ""}


@router.get("/years", auth=requires("settings.calendar"), response={200: list[YearOut], **ERRORS})
def list_years(request):
    """Last year to next year: whether each is estimated, and any imported schedule."""
    this = clock.now().year
    rows = {r.year: r for r in OfficialHolidayYear.objects.filter(year__gte=this - 1)}
    return [_year(y, rows.get(y)) for y in sorted(set(range(this - 1, this + 2)) | set(rows))]


@router.post("/official", auth=requires("settings.calendar"), response={200: OfficialOut, **ERRORS})
def import_official(request: ActorRequest, payload: OfficialIn) -> dict[str, Any]:
    """Import one year's official holiday schedule (replaces the library's estimate for that
    year; audited), then recompute every open deadline that reaches into it (each audited on
    its order)."""
    with transaction.atomic():
        row = calendar_official_import(text=payload.text, source=payload.source, actor=request.actor)
    moved = order_deadlines_recompute(actor=request.actor, since=date(row.year, 1, 1),
                                      reason=_("official holiday schedule %(year)s imported") % {"year": row.year})
    return {**_year(row.year, row), "recomputed": moved}

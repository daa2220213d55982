"""The company's business calendar: statutory China calendar, the official schedules an
administrator imported (for years the holidays library only estimates), and admin overrides.

Precedence, last wins: the holidays library < an imported official schedule for its year <
a single-day override.
"""

import hashlib
import threading
import time as _time
from collections.abc import Iterable
from datetime import date, timedelta

import holidays
from django.conf import settings

from .calendar import DEFAULT_PERIODS, BusinessCalendar, library_official_years
from .models import CalendarOverride, OfficialHolidayYear

_TTL_SECONDS = 60
_lock = threading.Lock()
_cached: tuple[float, BusinessCalendar, frozenset[int], str] | None = None

COUNTRY = "CN"


def official_overrides(base: BusinessCalendar, year: int, days_off: Iterable[str],
                       workdays: Iterable[str]) -> dict[date, bool]:
    """The per-day corrections that turn the library's ``year`` into the official schedule:
    listed days off and make-up workdays as listed, every other day Monday-Friday work,
    weekend off (the library's guessed days off that the schedule does not list go back to
    normal days)."""
    off = {date.fromisoformat(d) for d in days_off}
    on = {date.fromisoformat(d) for d in workdays}
    out: dict[date, bool] = {}
    day = date(year, 1, 1)
    while day.year == year:
        wanted = day in on or (day not in off and day.weekday() < 5)
        if base.is_workday(day) != wanted:
            out[day] = wanted
        day += timedelta(days=1)
    return out


def _load() -> tuple[BusinessCalendar, frozenset[int], str]:
    periods = getattr(settings, "ORDERHUB_WORKING_PERIODS", DEFAULT_PERIODS)
    base = BusinessCalendar(periods=periods, tz=settings.TIME_ZONE)
    overrides: dict[date, bool] = {}
    imported = set()
    for y in OfficialHolidayYear.objects.all():
        overrides.update(official_overrides(base, y.year, y.days_off, y.workdays))
        imported.add(y.year)
    overrides.update(dict(CalendarOverride.objects.values_list("date", "is_workday")))
    cal = BusinessCalendar(periods=periods, overrides=overrides, tz=settings.TIME_ZONE)
    # the library's version too: its estimates of future years change with it
    what = repr((periods, sorted(overrides.items()), holidays.__version__))
    return (cal, frozenset(imported) | library_official_years(COUNTRY),
            hashlib.sha256(what.encode()).hexdigest()[:12])


def _get() -> tuple[BusinessCalendar, frozenset[int], str]:
    global _cached
    with _lock:
        if _cached is not None and _time.monotonic() - _cached[0] < _TTL_SECONDS:
            return _cached[1], _cached[2], _cached[3]
    cal, official, fingerprint = _load()
    with _lock:
        _cached = (_time.monotonic(), cal, official, fingerprint)
    return cal, official, fingerprint


def get_business_calendar() -> BusinessCalendar:
    """The calendar with official schedules and overrides, cached per process for a minute
    (cleared on edit)."""
    return _get()[0]


def calendar_fingerprint() -> str:
    """A short digest of what the calendar is made of (working periods, every per-day override
    and official schedule, the holidays library's version): it changes when the calendar
    does, so what was computed in business time can say which calendar it used."""
    return _get()[2]


def year_is_estimated(year: int) -> bool:
    """True when no official schedule is known for ``year`` (neither in the holidays library
    nor imported): its holidays and make-up workdays are the library's guess."""
    return year not in _get()[1]


def estimated_years(start: date, end: date) -> list[int]:
    """The estimated years between two dates (inclusive), in order."""
    return [y for y in range(start.year, end.year + 1) if year_is_estimated(y)]


def clear_calendar_cache() -> None:
    global _cached
    with _lock:
        _cached = None

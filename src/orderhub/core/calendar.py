"""Business calendar for Chinese manufacturers: deadlines count working hours only.

Pure Python (no Django models, no database access).

A day is classified with this precedence:

1. admin ``overrides`` (``date -> True`` workday / ``False`` day off);
2. the ``holidays`` library's calendar for ``country`` (China by default): a date in
   ``holidays.country_holidays(country, years=...)`` is a statutory holiday, and a date in
   that object's ``weekend_workdays`` set is a make-up workday (调休上班);
3. Saturday and Sunday are days off;
4. every other day is a workday.

Working time on a workday is the union of the configured local-time ``periods``. Each period
is half-open, ``[start, end)``: 12:00 with the default periods is not working time and
``next_business_moment`` moves it to 13:00. A deadline that lands exactly on the end of a
period stays at that end, though (16 business hours from Monday 08:30 is Tuesday 17:30).

All arithmetic happens in the local wall time of the calendar's time zone and is exact to
the microsecond (integers internally). In a zone with daylight saving time, a working period
that spans a transition counts its nominal wall-clock length.

Performance: the holiday objects and the per-year classification of every day are cached
(module-wide for the statutory part, per instance only for years touched by overrides), and
whole working days are skipped with bisection over per-year sorted workday ordinals, so the
cost of ``add_business_hours`` does not grow with the number of hours added.
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime, time, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "DEFAULT_PERIODS",
    "KIND_HOLIDAY",
    "KIND_MAKEUP_WORKDAY",
    "KIND_OVERRIDE_HOLIDAY",
    "KIND_OVERRIDE_WORKDAY",
    "KIND_WEEKEND",
    "KIND_WORKDAY",
    "BusinessCalendar",
]

# 08:30-12:00 and 13:00-17:30: 8 working hours per day.
DEFAULT_PERIODS = ((time(8, 30), time(12, 0)), (time(13, 0), time(17, 30)))

KIND_WORKDAY = "workday"
KIND_WEEKEND = "weekend"
KIND_HOLIDAY = "holiday"
KIND_MAKEUP_WORKDAY = "makeup_workday"
KIND_OVERRIDE_HOLIDAY = "override_holiday"
KIND_OVERRIDE_WORKDAY = "override_workday"

# Day kinds are stored as small integer codes (one byte per day) in the per-year cache.
_CODE_WORKDAY = 0
_CODE_WEEKEND = 1
_CODE_HOLIDAY = 2
_CODE_MAKEUP_WORKDAY = 3
_CODE_OVERRIDE_HOLIDAY = 4
_CODE_OVERRIDE_WORKDAY = 5
_KIND_NAMES = (
    KIND_WORKDAY,
    KIND_WEEKEND,
    KIND_HOLIDAY,
    KIND_MAKEUP_WORKDAY,
    KIND_OVERRIDE_HOLIDAY,
    KIND_OVERRIDE_WORKDAY,
)
_WORKING_CODES = frozenset({_CODE_WORKDAY, _CODE_MAKEUP_WORKDAY, _CODE_OVERRIDE_WORKDAY})

_SATURDAY = 5
_US_PER_SECOND = 1_000_000
_US_PER_HOUR = 3_600 * _US_PER_SECOND
_US_PER_HOUR_DECIMAL = Decimal(_US_PER_HOUR)
_MAX_ORDINAL = date.max.toordinal()


@dataclass(frozen=True, slots=True)
class _YearInfo:
    """The classification of every day of one year."""

    first_ordinal: int  # ordinal of January 1st
    kinds: bytes  # one day-kind code per day of the year
    work: bytes  # 1 if the day is a workday, else 0
    ordinals: tuple[int, ...]  # sorted ordinals of the workdays


def _make_year_info(first_ordinal: int, kinds: bytes | bytearray) -> _YearInfo:
    work = bytes(1 if code in _WORKING_CODES else 0 for code in kinds)
    ordinals = tuple(first_ordinal + i for i, flag in enumerate(work) if flag)
    return _YearInfo(first_ordinal, bytes(kinds), work, ordinals)


@cache
def _default_language(country: str) -> str | None:
    """The country's native language in the holidays library; validates the code."""
    try:
        probe = holidays.country_holidays(country)
    except NotImplementedError as exc:
        raise ValueError(f"country {country!r} is not supported by the holidays library") from exc
    return getattr(probe, "default_language", None)


@lru_cache(maxsize=1024)
def _holidays_for_year(country: str, year: int) -> holidays.HolidayBase:
    """The holidays library's object for one year, in the country's native language.

    The language is fixed so that holiday names do not depend on the process locale.
    """
    return holidays.country_holidays(country, years=year, language=_default_language(country))


@lru_cache(maxsize=1024)
def _statutory_year(country: str, year: int) -> _YearInfo:
    """Classification of one year from the holidays library and weekends (no overrides)."""
    calendar = _holidays_for_year(country, year)
    holiday_dates = {d for d in calendar if d.year == year}
    # ``weekend_workdays`` holds make-up workdays (调休上班). The library fills it while
    # populating a year, plus cross-year entries (e.g. a late-December Saturday worked
    # for a January holiday) which every instance carries.
    makeup_dates = {d for d in getattr(calendar, "weekend_workdays", ()) if d.year == year}
    first = date(year, 1, 1)
    first_ordinal = first.toordinal()
    n_days = date(year, 12, 31).toordinal() - first_ordinal + 1
    first_weekday = first.weekday()
    kinds = bytearray(n_days)
    for i in range(n_days):
        d = date.fromordinal(first_ordinal + i)
        if d in holiday_dates:
            kinds[i] = _CODE_HOLIDAY
        elif d in makeup_dates:
            kinds[i] = _CODE_MAKEUP_WORKDAY
        elif (first_weekday + i) % 7 >= _SATURDAY:
            kinds[i] = _CODE_WEEKEND
        else:
            kinds[i] = _CODE_WORKDAY
    return _make_year_info(first_ordinal, kinds)


def _time_to_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US_PER_SECOND + t.microsecond


def _hours_to_us(hours: Decimal | float | int) -> int:
    """Convert a non-negative number of hours to whole microseconds (half-even rounding)."""
    if isinstance(hours, bool) or not isinstance(hours, numbers.Number):
        raise TypeError(f"hours must be a number, not {type(hours).__name__}")
    if isinstance(hours, int):
        us = hours * _US_PER_HOUR
    elif isinstance(hours, Decimal):
        if not hours.is_finite():
            raise ValueError(f"hours must be finite, got {hours}")
        us = int((hours * _US_PER_HOUR_DECIMAL).to_integral_value(rounding=ROUND_HALF_EVEN))
    elif isinstance(hours, numbers.Real):
        value = float(hours)
        if not math.isfinite(value):
            raise ValueError(f"hours must be finite, got {hours}")
        us = round(value * _US_PER_HOUR)
    else:
        raise TypeError(f"hours must be a real number, not {type(hours).__name__}")
    if hours < 0:
        raise ValueError(f"hours must not be negative, got {hours}")
    return us


def _parse_periods(periods: Iterable[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    try:
        items = tuple(periods)
    except TypeError as exc:
        raise ValueError("periods must be a sequence of (start, end) time pairs") from exc
    if not items:
        raise ValueError("at least one working period is required")
    result: list[tuple[time, time]] = []
    for index, period in enumerate(items, start=1):
        try:
            start, end = period
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"working period #{index} {period!r} must be a (start, end) pair"
            ) from exc
        if not isinstance(start, time) or not isinstance(end, time):
            raise ValueError(
                f"working period #{index} {period!r} must consist of datetime.time objects"
            )
        label = f"working period #{index} ({start.isoformat()}-{end.isoformat()})"
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"{label} must use naive local times")
        if not start < end:
            raise ValueError(f"{label} must start before it ends")
        if result and start < result[-1][1]:
            previous = result[-1]
            raise ValueError(
                f"{label} overlaps or precedes working period #{index - 1} "
                f"({previous[0].isoformat()}-{previous[1].isoformat()}); "
                "periods must be ordered and non-overlapping"
            )
        result.append((start, end))
    return tuple(result)


class BusinessCalendar:
    """Working days and working hours; deadlines that count working time only."""

    __slots__ = (
        "_added",
        "_country",
        "_cum_ends",
        "_cum_starts",
        "_day_us",
        "_ends",
        "_overrides",
        "_overrides_by_year",
        "_periods",
        "_starts",
        "_tz",
        "_years",
    )

    def __init__(
        self,
        *,
        periods: Iterable[tuple[time, time]] = DEFAULT_PERIODS,
        overrides: Mapping[date, bool] | None = None,
        tz: str | ZoneInfo = "Asia/Shanghai",
        country: str = "CN",
    ) -> None:
        if isinstance(tz, str):
            try:
                self._tz: tzinfo = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {tz!r}") from exc
        elif isinstance(tz, tzinfo):
            self._tz = tz
        else:
            raise TypeError(f"tz must be a time zone name or a tzinfo, not {type(tz).__name__}")

        if not isinstance(country, str):
            raise TypeError("country must be a string such as 'CN'")
        _default_language(country)  # raises ValueError for an unknown country
        self._country = country

        self._periods = _parse_periods(periods)
        # add_business_hours answers by (start, hours): a batch asks the same question for
        # every order it creates (one "now", one stage deadline)
        self._added: dict[tuple[datetime, int], datetime] = {}
        self._starts = tuple(_time_to_us(start) for start, _ in self._periods)
        self._ends = tuple(_time_to_us(end) for _, end in self._periods)
        cum_starts: list[int] = []
        cum_ends: list[int] = []
        total = 0
        for start_us, end_us in zip(self._starts, self._ends, strict=True):
            cum_starts.append(total)
            total += end_us - start_us
            cum_ends.append(total)
        # Working microseconds before each period starts / when it ends, within a day.
        self._cum_starts = tuple(cum_starts)
        self._cum_ends = tuple(cum_ends)
        self._day_us = total

        self._overrides: dict[date, bool] = {}
        self._overrides_by_year: dict[int, dict[date, bool]] = {}
        for day, is_workday in (overrides or {}).items():
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"override keys must be dates, got {day!r}")
            if not isinstance(is_workday, bool):
                raise TypeError(
                    f"override for {day.isoformat()} must be a bool, got {is_workday!r}"
                )
            self._overrides[day] = is_workday
            self._overrides_by_year.setdefault(day.year, {})[day] = is_workday

        self._years: dict[int, _YearInfo] = {}

    def __repr__(self) -> str:
        periods = ", ".join(
            f"{s.strftime('%H:%M')}-{e.strftime('%H:%M')}" for s, e in self._periods
        )
        return (
            f"<BusinessCalendar country={self._country} tz={self._tz} periods=[{periods}] "
            f"overrides={len(self._overrides)}>"
        )

    # Read-only configuration.

    @property
    def tz(self) -> tzinfo:
        return self._tz

    @property
    def periods(self) -> tuple[tuple[time, time], ...]:
        return self._periods

    @property
    def country(self) -> str:
        return self._country

    # Days.

    def is_workday(self, d: date) -> bool:
        """Whether ``d`` is a working day (an aware datetime is taken in local time)."""
        d = self._as_date(d)
        info = self._years.get(d.year) or self._year(d.year)
        return info.work[d.toordinal() - info.first_ordinal] == 1

    def day_kind(self, d: date) -> str:
        """One of ``override_workday``, ``override_holiday``, ``holiday``,
        ``makeup_workday``, ``weekend`` and ``workday``."""
        d = self._as_date(d)
        info = self._years.get(d.year) or self._year(d.year)
        return _KIND_NAMES[info.kinds[d.toordinal() - info.first_ordinal]]

    def holiday_name(self, d: date) -> str | None:
        """The statutory holiday's name in the country's language (e.g. "春节"), else None.

        Reports the holidays library's data and ignores admin overrides.
        """
        d = self._as_date(d)
        self._check_year(d.year)
        return _holidays_for_year(self._country, d.year).get(d)

    def working_seconds_per_day(self) -> int:
        """Working seconds in one working day (28,800 with the default periods)."""
        return self._day_us // _US_PER_SECOND

    # Moments.

    def next_business_moment(self, dt: datetime) -> datetime:
        """``dt`` itself (in the calendar's tz) if inside working time, else the next start."""
        return self._next_moment(self._local(dt))

    def add_business_hours(self, start: datetime, hours: Decimal | float | int) -> datetime:
        """The moment ``hours`` working hours after ``start``.

        Counting starts at ``next_business_moment(start)``; a result that falls exactly on the
        end of a working period stays at that end. Zero hours returns the next business moment.
        """
        amount = _hours_to_us(hours)
        key = (start, amount)
        found = self._added.get(key)   # equal instants give the same answer, whatever their zone
        if found is not None:
            return found
        result = self._add_business_us(start, amount)
        if len(self._added) >= 256:
            self._added.clear()
        self._added[key] = result
        return result

    def _add_business_us(self, start: datetime, amount: int) -> datetime:
        local = self._local(start)
        if amount == 0:
            return self._next_moment(local)
        ordinal = local.toordinal()
        if self._is_work_ordinal(ordinal):
            base = self._elapsed(_local_time_us(local))
        else:
            base = 0  # counting starts with the next workday
        days, offset = divmod(base + amount, self._day_us)
        if offset == 0:  # lands exactly at the end of a working day: stay there
            days -= 1
            offset = self._day_us
        day = self._workday_at_or_after(ordinal, days)
        index = bisect_left(self._cum_ends, offset)
        return self._at(day, self._starts[index] + offset - self._cum_starts[index])

    def business_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds from ``a`` to ``b``; negative if ``b`` is before ``a``."""
        return self._business_us_between(self._local(a), self._local(b)) / _US_PER_SECOND

    # Internals.

    def _local(self, dt: datetime) -> datetime:
        if not isinstance(dt, datetime):
            raise TypeError(f"expected a datetime, got {type(dt).__name__}")
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError(f"naive datetime {dt.isoformat()} is not allowed; pass an aware one")
        return dt.astimezone(self._tz)

    def _as_date(self, d: date) -> date:
        if isinstance(d, datetime):
            return self._local(d).date()
        if not isinstance(d, date):
            raise TypeError(f"expected a date, got {type(d).__name__}")
        return d

    @staticmethod
    def _check_year(year: int) -> None:
        if not MINYEAR <= year <= MAXYEAR:
            raise ValueError(f"year {year} is outside the supported range")

    def _year(self, year: int) -> _YearInfo:
        info = self._years.get(year)
        if info is None:
            self._check_year(year)
            info = _statutory_year(self._country, year)
            year_overrides = self._overrides_by_year.get(year)
            if year_overrides:
                kinds = bytearray(info.kinds)
                for day, is_workday in year_overrides.items():
                    kinds[day.toordinal() - info.first_ordinal] = (
                        _CODE_OVERRIDE_WORKDAY if is_workday else _CODE_OVERRIDE_HOLIDAY
                    )
                info = _make_year_info(info.first_ordinal, kinds)
            self._years[year] = info
        return info

    def _is_work_ordinal(self, ordinal: int) -> bool:
        info = self._year(date.fromordinal(ordinal).year)
        return info.work[ordinal - info.first_ordinal] == 1

    def _workday_at_or_after(self, ordinal: int, skip: int) -> int:
        """The ordinal of the workday ``skip`` workdays after the first workday >= ordinal."""
        if ordinal > _MAX_ORDINAL:
            raise ValueError("the result is beyond the last supported date")
        year = date.fromordinal(ordinal).year
        info = self._year(year)
        index = bisect_left(info.ordinals, ordinal) + skip
        while index >= len(info.ordinals):
            index -= len(info.ordinals)
            year += 1
            if year > MAXYEAR:
                raise ValueError("the result is beyond the last supported date")
            info = self._year(year)
        return info.ordinals[index]

    def _count_workdays(self, lo: int, hi: int) -> int:
        """Number of workdays with ``lo <= ordinal < hi`` (``lo <= hi``)."""
        if lo == hi:
            return 0
        first_year = date.fromordinal(lo).year
        last_year = date.fromordinal(hi).year
        count = 0
        for year in range(first_year, last_year + 1):
            ordinals = self._year(year).ordinals
            left = bisect_left(ordinals, lo) if year == first_year else 0
            right = bisect_left(ordinals, hi) if year == last_year else len(ordinals)
            count += right - left
        return count

    def _elapsed(self, t_us: int) -> int:
        """Working microseconds of a workday before local time-of-day ``t_us``."""
        index = bisect_right(self._starts, t_us) - 1
        if index < 0:
            return 0
        return self._cum_starts[index] + min(t_us, self._ends[index]) - self._starts[index]

    def _business_us_between(self, a: datetime, b: datetime) -> int:
        a_ordinal = a.toordinal()
        b_ordinal = b.toordinal()
        a_elapsed = self._elapsed(_local_time_us(a)) if self._is_work_ordinal(a_ordinal) else 0
        b_elapsed = self._elapsed(_local_time_us(b)) if self._is_work_ordinal(b_ordinal) else 0
        if a_ordinal <= b_ordinal:
            days = self._count_workdays(a_ordinal, b_ordinal)
        else:
            days = -self._count_workdays(b_ordinal, a_ordinal)
        return days * self._day_us + b_elapsed - a_elapsed

    def _next_moment(self, local: datetime) -> datetime:
        ordinal = local.toordinal()
        if self._is_work_ordinal(ordinal):
            t_us = _local_time_us(local)
            index = bisect_right(self._starts, t_us) - 1
            if index >= 0 and t_us < self._ends[index]:
                return local
            if index + 1 < len(self._starts):
                return self._at(ordinal, self._starts[index + 1])
            ordinal += 1
        return self._at(self._workday_at_or_after(ordinal, 0), self._starts[0])

    def _at(self, ordinal: int, t_us: int) -> datetime:
        d = date.fromordinal(ordinal)
        seconds, microsecond = divmod(t_us, _US_PER_SECOND)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return datetime(d.year, d.month, d.day, hour, minute, second, microsecond, tzinfo=self._tz)


def _local_time_us(dt: datetime) -> int:
    return ((dt.hour * 60 + dt.minute) * 60 + dt.second) * _US_PER_SECOND + dt.microsecond


@cache
def library_official_years(country: str = "CN") -> frozenset[int]:
    """Years for which the holidays library carries the government's published schedule.

    For China the library computes the festivals of any year, but the days off around them
    and the make-up workdays exist only for years whose official notice it has transcribed
    (its ``*StaticHolidays`` tables); any later year is the library's estimate.
    """
    import importlib
    import inspect

    cls = type(holidays.country_holidays(country))
    module = importlib.import_module(cls.__module__)
    years: set[int] = set()
    for name, obj in vars(module).items():
        if inspect.isclass(obj) and name.endswith("StaticHolidays"):
            for attr in ("special_public_holidays", "special_public_holidays_observed"):
                years.update(getattr(obj, attr, None) or {})
    return frozenset(years)

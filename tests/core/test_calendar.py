"""Tests for orderhub.core.calendar (pure Python, no database).

Facts about the 2026 China calendar come from the installed holidays==0.109 package:
- holidays/countries/china.py, ``China._populate_public_holidays``: Spring Festival is the
  lunar New Year's Eve plus days 1-3 (2026-02-16 .. 2026-02-19); National Day is Oct 1-3.
- holidays/countries/china.py, ``ChinaStaticHolidays.special_public_holidays[2026]``
  (State Council notice 2025, gov.cn content_7048922), tuples (to_month, to_day, from_month,
  from_day): (JAN, 2, JAN, 4), (FEB, 20, FEB, 14), (FEB, 23, FEB, 28), (MAY, 5, MAY, 9),
  (OCT, 6, SEP, 20), (OCT, 7, OCT, 10). The "from" weekend dates are make-up workdays
  (调休上班), exposed by the library as ``weekend_workdays``.
- The observed rule SAT_SUN_TO_NEXT_WORKDAY adds 2026-10-05 "National Day (observed)"
  because 2026-10-03 is a Saturday.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderhub.core.calendar import DEFAULT_PERIODS, BusinessCalendar

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=SH)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar()


# Day classification ------------------------------------------------------------------------


def test_spring_festival_2026_is_not_a_workday(cal):
    # Source: China._populate_public_holidays, _add_chinese_new_years_day -> 2026-02-17 (Tue).
    d = date(2026, 2, 17)
    assert d.weekday() == 1
    assert not cal.is_workday(d)
    assert cal.day_kind(d) == "holiday"
    assert cal.holiday_name(d) == "春节"
    # Source: special_public_holidays[2026] (FEB, 20, FEB, 14): Friday Feb 20 is a day off.
    assert cal.day_kind(date(2026, 2, 20)) == "holiday"
    assert cal.holiday_name(date(2026, 3, 16)) is None


@pytest.mark.parametrize(
    ("d", "weekday"),
    [
        # Source: special_public_holidays[2026] (FEB, 20, FEB, 14): Saturday Feb 14 is worked.
        (date(2026, 2, 14), 5),
        # Source: special_public_holidays[2026] (FEB, 23, FEB, 28): Saturday Feb 28 is worked.
        (date(2026, 2, 28), 5),
        # Source: special_public_holidays[2026] (OCT, 6, SEP, 20): Sunday Sep 20 is worked.
        (date(2026, 9, 20), 6),
        # Source: special_public_holidays[2026] (OCT, 7, OCT, 10): Saturday Oct 10 is worked.
        (date(2026, 10, 10), 5),
        # Source: special_public_holidays[2026] (JAN, 2, JAN, 4): Sunday Jan 4 is worked.
        (date(2026, 1, 4), 6),
    ],
)
def test_makeup_weekend_days_2026_are_workdays(cal, d, weekday):
    assert d.weekday() == weekday
    assert d in holidays.country_holidays("CN", years=2026).weekend_workdays
    assert cal.is_workday(d)
    assert cal.day_kind(d) == "makeup_workday"


def test_cross_year_makeup_day_is_honoured(cal):
    # Source: special_public_holidays[2002] (JAN, 2, DEC, 29, 2001): Saturday 2001-12-29 was
    # worked for New Year 2002 (a five-tuple, i.e. a make-up day in the previous year).
    d = date(2001, 12, 29)
    assert d.weekday() == 5
    assert cal.day_kind(d) == "makeup_workday"


def test_ordinary_days(cal):
    assert cal.day_kind(date(2026, 3, 16)) == "workday"  # a plain Monday
    assert cal.day_kind(date(2026, 2, 21)) == "weekend"  # Saturday inside the festival week
    # Source: SAT_SUN_TO_NEXT_WORKDAY observed rule, 2026-10-05 "National Day (observed)".
    assert cal.day_kind(date(2026, 10, 5)) == "holiday"


def test_classification_matches_library_is_working_day(cal):
    library = holidays.country_holidays("CN", years=range(2025, 2028))
    d = date(2025, 1, 1)
    while d.year < 2028:
        assert cal.is_workday(d) == library.is_working_day(d), d
        d += timedelta(days=1)


def test_aware_datetime_is_classified_by_local_date(cal):
    # 2026-02-13 17:00 UTC is Saturday 2026-02-14 01:00 in Shanghai: a make-up workday.
    assert cal.is_workday(datetime(2026, 2, 13, 17, 0, tzinfo=UTC))


def test_working_seconds_per_day(cal):
    assert cal.working_seconds_per_day() == 8 * 3600
    assert BusinessCalendar(periods=[(time(9), time(10))]).working_seconds_per_day() == 3600


# add_business_hours ------------------------------------------------------------------------


def test_deadline_counts_through_spring_festival_makeup_saturday(cal):
    # Friday 2026-02-13 16:30 + 2h: 1h on Friday, then Saturday Feb 14 is a make-up workday.
    assert cal.add_business_hours(at(2026, 2, 13, 16, 30), 2) == at(2026, 2, 14, 9, 30)
    # From the end of that Saturday: Feb 15 Sunday, Feb 16-20 holidays, Feb 21-22 weekend,
    # Feb 23 substituted day off -> next working hour is Tuesday Feb 24.
    assert cal.add_business_hours(at(2026, 2, 14, 17, 30), 1) == at(2026, 2, 24, 9, 30)
    seconds = cal.business_seconds_between(at(2026, 2, 13, 16, 30), at(2026, 2, 24, 9, 30))
    assert seconds == (1 + 8 + 1) * 3600  # Fri 16:30-17:30, all of Sat, Tue 08:30-09:30


def test_deadline_counts_through_national_day_makeup_sunday(cal):
    # Friday 2026-09-18 17:00 + 1h: Saturday Sep 19 off, Sunday Sep 20 is a make-up workday.
    assert cal.add_business_hours(at(2026, 9, 18, 17, 0), 1) == at(2026, 9, 20, 9, 0)


def test_across_weekend(cal):
    assert cal.add_business_hours(at(2026, 3, 13, 16, 30), 2) == at(2026, 3, 16, 9, 30)


def test_across_lunch(cal):
    assert cal.add_business_hours(at(2026, 3, 16, 11, 0), 2) == at(2026, 3, 16, 14, 0)
    assert cal.add_business_hours(at(2026, 3, 16, 11, 0), Decimal("1.25")) == at(
        2026, 3, 16, 13, 15
    )


def test_starting_inside_lunch(cal):
    assert cal.add_business_hours(at(2026, 3, 16, 12, 20), 1) == at(2026, 3, 16, 14, 0)
    assert cal.add_business_hours(at(2026, 3, 16, 12, 20), 0) == at(2026, 3, 16, 13, 0)


def test_starting_at_night(cal):
    assert cal.add_business_hours(at(2026, 3, 16, 20, 0), 1) == at(2026, 3, 17, 9, 30)
    assert cal.add_business_hours(at(2026, 3, 17, 3, 0), 1) == at(2026, 3, 17, 9, 30)
    assert cal.add_business_hours(at(2026, 3, 13, 23, 59), 0.5) == at(2026, 3, 16, 9, 0)


def test_starting_on_a_holiday(cal):
    # Oct 1-3 holidays, Oct 4 Sunday, Oct 5 observed, Oct 6-7 substituted -> Thursday Oct 8.
    assert cal.add_business_hours(at(2026, 10, 1, 10, 0), 1) == at(2026, 10, 8, 9, 30)
    assert cal.next_business_moment(at(2026, 2, 17, 9, 0)) == at(2026, 2, 24, 8, 30)


def test_landing_exactly_on_period_end(cal):
    monday = at(2026, 3, 16, 8, 30)
    assert cal.add_business_hours(monday, 16) == at(2026, 3, 17, 17, 30)
    assert cal.add_business_hours(monday, 3.5) == at(2026, 3, 16, 12, 0)
    assert cal.add_business_hours(monday, 8) == at(2026, 3, 16, 17, 30)


def test_zero_hours(cal):
    inside = at(2026, 3, 16, 10, 7, 3, 12)
    assert cal.add_business_hours(inside, 0) == inside
    assert cal.add_business_hours(at(2026, 3, 16, 17, 30), 0) == at(2026, 3, 17, 8, 30)


def test_sub_second_precision(cal):
    start = at(2026, 3, 16, 11, 59, 59, 500_000)
    assert cal.add_business_hours(start, Decimal(1) / Decimal(3600)) == at(
        2026, 3, 16, 13, 0, 0, 500_000
    )


def test_other_time_zone_input_and_output_tz(cal):
    # 00:30 UTC is 08:30 in Shanghai.
    result = cal.add_business_hours(datetime(2026, 3, 16, 0, 30, tzinfo=UTC), 1)
    assert result == at(2026, 3, 16, 9, 30)
    assert result.tzinfo == SH
    assert result.utcoffset() == timedelta(hours=8)


def test_next_business_moment(cal):
    inside = at(2026, 3, 16, 9, 0)
    assert cal.next_business_moment(inside) == inside
    assert cal.next_business_moment(at(2026, 3, 16, 7, 0)) == at(2026, 3, 16, 8, 30)
    assert cal.next_business_moment(at(2026, 3, 16, 12, 0)) == at(2026, 3, 16, 13, 0)
    assert cal.next_business_moment(at(2026, 3, 13, 17, 30)) == at(2026, 3, 16, 8, 30)


# Overrides --------------------------------------------------------------------------------


def test_overrides_turn_a_workday_off_and_a_sunday_on():
    cal = BusinessCalendar(
        overrides={
            date(2026, 3, 18): False,  # Wednesday
            date(2026, 3, 22): True,  # Sunday
            date(2026, 10, 1): True,  # a statutory holiday made a workday
        }
    )
    assert cal.day_kind(date(2026, 3, 18)) == "override_holiday"
    assert not cal.is_workday(date(2026, 3, 18))
    assert cal.day_kind(date(2026, 3, 22)) == "override_workday"
    assert cal.is_workday(date(2026, 3, 22))
    assert cal.day_kind(date(2026, 10, 1)) == "override_workday"
    assert cal.holiday_name(date(2026, 10, 1)) == "国庆节"  # library data, not the override
    assert cal.add_business_hours(at(2026, 3, 17, 17, 0), 1) == at(2026, 3, 19, 9, 0)
    assert cal.add_business_hours(at(2026, 3, 20, 17, 0), 1) == at(2026, 3, 22, 9, 0)
    assert cal.business_seconds_between(at(2026, 3, 17, 8, 30), at(2026, 3, 23, 8, 30)) == (
        4 * 8 * 3600  # Tue, Thu, Fri, Sun
    )
    # A calendar without overrides is unaffected (statutory data is shared, not mutated).
    assert BusinessCalendar().day_kind(date(2026, 3, 18)) == "workday"


def test_override_types_are_checked():
    with pytest.raises(TypeError):
        BusinessCalendar(overrides={datetime(2026, 3, 18, tzinfo=SH): False})
    with pytest.raises(TypeError):
        BusinessCalendar(overrides={date(2026, 3, 18): "no"})


# Years beyond 2026 -------------------------------------------------------------------------


def test_2027_and_later(cal):
    # Source: China._populate_public_holidays, lunar New Year 2027 is 2027-02-06; 2027-02-08
    # (Monday) is the third festival day. 2027 has no State Council notice in 0.109, so it has
    # no make-up days.
    assert cal.day_kind(date(2027, 2, 8)) == "holiday"
    assert cal.is_workday(date(2027, 3, 1))
    # Thursday 2026-12-31 17:00 + 1h: Jan 1 2027 New Year's Day, Jan 2-3 weekend.
    assert cal.add_business_hours(at(2026, 12, 31, 17, 0), 1) == at(2027, 1, 4, 9, 0)
    assert cal.add_business_hours(at(2035, 6, 1, 9, 0), 3000) > at(2036, 1, 1)
    assert cal.is_workday(date(2100, 3, 1))


# Validation -------------------------------------------------------------------------------


def test_naive_datetimes_raise(cal):
    naive = datetime(2026, 3, 16, 9, 0)
    with pytest.raises(ValueError, match="naive"):
        cal.add_business_hours(naive, 1)
    with pytest.raises(ValueError, match="naive"):
        cal.business_seconds_between(naive, at(2026, 3, 16, 10))
    with pytest.raises(ValueError, match="naive"):
        cal.business_seconds_between(at(2026, 3, 16, 10), naive)
    with pytest.raises(ValueError, match="naive"):
        cal.next_business_moment(naive)


@pytest.mark.parametrize("hours", [-1, -0.5, Decimal("-0.001")])
def test_negative_hours_raise(cal, hours):
    with pytest.raises(ValueError, match="negative"):
        cal.add_business_hours(at(2026, 3, 16, 9), hours)


@pytest.mark.parametrize("hours", [float("nan"), float("inf"), Decimal("NaN")])
def test_non_finite_hours_raise(cal, hours):
    with pytest.raises(ValueError):
        cal.add_business_hours(at(2026, 3, 16, 9), hours)


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        ([], "at least one"),
        ([(time(12), time(8))], r"#1 \(12:00:00-08:00:00\)"),
        ([(time(9), time(9))], r"#1 \(09:00:00-09:00:00\)"),
        ([(time(8), time(12)), (time(11), time(14))], r"#2 \(11:00:00-14:00:00\)"),
        ([(time(13), time(17)), (time(8), time(12))], r"#2 \(08:00:00-12:00:00\)"),
        ([(time(8), time(12), time(13))], "#1"),
        ([("08:00", "12:00")], "#1"),
        ([(time(8, tzinfo=UTC), time(12))], "#1"),
    ],
)
def test_invalid_periods_raise(periods, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(periods=periods)


def test_unknown_country_and_tz_raise():
    with pytest.raises(ValueError):
        BusinessCalendar(country="XX")
    with pytest.raises(ValueError):
        BusinessCalendar(tz="Mars/Olympus_Mons")


# Long spans -------------------------------------------------------------------------------


def _nth_workday_by_library(first: date, n: int) -> date:
    """The n-th workday (1-based) on or after ``first``, stepping day by day with the
    holidays library's own ``is_working_day`` (independent of BusinessCalendar)."""
    library = holidays.country_holidays("CN", years=range(first.year, first.year + 3))
    d = first - timedelta(days=1)
    while n:
        d += timedelta(days=1)
        if library.is_working_day(d):
            n -= 1
    return d


def test_one_thousand_business_hours(cal):
    # 1,000 h / 8 h per day = 125 full working days.
    expected_day = _nth_workday_by_library(date(2026, 3, 2), 125)
    result = cal.add_business_hours(at(2026, 3, 2, 8, 30), 1000)
    assert result == datetime.combine(expected_day, time(17, 30), tzinfo=SH)
    # Starting 1.5 working hours into the day lands 1.5 working hours into day 126.
    expected_day = _nth_workday_by_library(date(2026, 3, 2), 126)
    result = cal.add_business_hours(at(2026, 3, 2, 10, 0), 1000)
    assert result == datetime.combine(expected_day, time(10, 0), tzinfo=SH)
    assert cal.business_seconds_between(at(2026, 3, 2, 10, 0), result) == 1000 * 3600


# Round trips (hypothesis) -----------------------------------------------------------------

ZONES = st.sampled_from([SH, UTC, ZoneInfo("America/New_York")])
MOMENTS = st.datetimes(
    min_value=datetime(2025, 6, 1), max_value=datetime(2027, 6, 30), timezones=ZONES
)
HOURS = st.decimals(min_value=0, max_value=2500, places=6, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(a=MOMENTS, hours=HOURS)
def test_add_then_between_round_trip(cal, a, hours):
    result = cal.add_business_hours(a, hours)
    assert result.tzinfo == SH
    assert result >= a
    assert round(cal.business_seconds_between(a, result) * 1_000_000) == int(hours * 3_600_000_000)
    if hours > 0:
        # The result is inside working time or exactly at the end of a period.
        start_of_day = result.replace(hour=0, minute=0, second=0, microsecond=0)
        clock = result - start_of_day
        assert cal.is_workday(result.date())
        assert any(
            timedelta(hours=s.hour, minutes=s.minute)
            < clock
            <= timedelta(hours=e.hour, minutes=e.minute)
            for s, e in DEFAULT_PERIODS
        )


@settings(max_examples=300, deadline=None)
@given(a=MOMENTS, b=MOMENTS)
def test_between_then_add_round_trip(cal, a, b):
    seconds = cal.business_seconds_between(a, b)
    assert cal.business_seconds_between(b, a) == -seconds
    if b < a:
        a, b = b, a
        seconds = -seconds
    assert seconds >= 0
    result = cal.add_business_hours(a, seconds / 3600)
    target = cal.next_business_moment(b)
    if target == b.astimezone(SH) and b.astimezone(SH).time() not in {start for start, _ in cal.periods}:
        assert result == b  # b strictly inside working time: exact inverse
    else:
        # b at the start of a period is the same business moment as the end of the previous
        # one, which is where a deadline landing there is reported.
        # b outside working time: the result is business-equivalent to b's next moment
        # (the end of the previous period, or that moment itself when nothing is added).
        assert result <= target
        assert cal.business_seconds_between(result, target) == 0

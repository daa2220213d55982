"""Business-time arithmetic for deadlines and ladders: due states and ladder step moments.

Pure functions over a :class:`~orderhub.core.calendar.BusinessCalendar` (no database access).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from orderhub.core.calendar import BusinessCalendar
from orderhub.workflow.spec import CompiledStep, DeadlineSpec, DueSoonSpec

ON_TRACK = "on_track"
DUE_SOON = "due_soon"
OVERDUE = "overdue"
NO_DEADLINE = "none"

_MAX_DAYS_BACK = 3660


def subtract_business_hours(cal: BusinessCalendar, end: datetime, hours: Decimal | int) -> datetime:
    """The moment ``hours`` working hours before ``end`` (the mirror of ``add_business_hours``):
    walks back over working periods, skipping weekends, statutory holidays and days off, and
    counting make-up workdays. A result exactly on a period's start stays there."""
    remaining = timedelta(microseconds=int(Decimal(hours) * 3_600_000_000))
    if remaining < timedelta(0):
        raise ValueError("hours must not be negative")
    tz = cal.tz
    local = end.astimezone(tz)
    if remaining == timedelta(0):
        return local
    day, cursor = local.date(), local
    for _ in range(_MAX_DAYS_BACK):
        if cal.is_workday(day):
            for start_t, end_t in reversed(cal.periods):
                start = datetime.combine(day, start_t, tzinfo=tz)
                if start >= cursor:
                    continue
                seg_end = min(datetime.combine(day, end_t, tzinfo=tz), cursor)
                available = seg_end - start
                if available >= remaining:
                    return seg_end - remaining
                remaining -= available
        day -= timedelta(days=1)
        cursor = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    raise ValueError("no working time found within ten years")


def required_moment(cal: BusinessCalendar, required: date) -> datetime:
    """An order's required date as a moment: the end of that day's working time."""
    return datetime.combine(required, cal.periods[-1][1], tzinfo=cal.tz)


def deadline_after(cal: BusinessCalendar, deadline: DeadlineSpec | None, start: datetime) -> datetime | None:
    if deadline is None:
        return None
    if deadline.business_hours is not None:
        return cal.add_business_hours(start, deadline.business_hours)
    return start + timedelta(hours=float(deadline.hours))


def step_moments(cal: BusinessCalendar, steps: Sequence[CompiledStep], *, entered: datetime,
                 due: datetime | None, required: date | None) -> list[datetime]:
    """When each step of a ladder fires. A moment before the entry is moved to the entry (the
    step fires at once); ``after: previous`` counts from the previous step's (moved) moment."""
    out: list[datetime] = []
    previous: datetime | None = None
    for step in steps:
        when = step.spec.when
        if when.after is not None:
            base = {"entered": entered, "due": due, "previous": previous}[when.after]
            if base is None:
                base = entered
            if when.business_hours is not None:
                moment = (cal.add_business_hours(base, when.business_hours) if when.business_hours
                          else base)
            else:
                moment = base + timedelta(hours=float(when.hours))
        else:
            base = due if when.before == "due" else (
                required_moment(cal, required) if required is not None else None)
            if base is None:
                base = entered
            if when.business_hours is not None:
                moment = subtract_business_hours(cal, base, when.business_hours)
            else:
                moment = base - timedelta(hours=float(when.hours))
        moment = max(moment, entered)
        out.append(moment)
        previous = moment
    return out


def due_state(cal: BusinessCalendar, *, entered: datetime, due: datetime | None, now: datetime,
              soon: DueSoonSpec, business: bool = True, overdue_at: datetime | None = None) -> str:
    """on_track / due_soon / overdue (or ``none`` without a deadline). Due-soon is a share of the
    allowance left or a number of business hours before the deadline; plain-hour deadlines
    (``hours:``) count plain time."""
    if due is None:
        return NO_DEADLINE
    if overdue_at is not None or now >= due:
        return OVERDUE

    def seconds(a: datetime, b: datetime) -> float:
        return cal.business_seconds_between(a, b) if business else (b - a).total_seconds()

    left = seconds(now, due)
    if soon.percent is not None:
        threshold = seconds(entered, due) * float(soon.percent) / 100
    else:
        threshold = float(soon.business_hours) * 3600
    return DUE_SOON if left <= threshold else ON_TRACK

"""Reading the official holiday schedule an administrator pastes or uploads.

One entry per line: a date or a range of dates, then what the days are::

    2027-02-06~2027-02-12 休        # or 放假 / 假 / off / holiday
    2027-02-20 班                   # or 上班 / 补班 / 调休上班 / workday
    2027年10月1日至2027年10月7日 放假

Dates may be written 2027-02-06, 2027/2/6 or 2027年2月6日; a range uses ~, 至 or 到.
Columns may be separated by spaces, tabs or commas (a CSV with a header row reads too);
lines without a date (headers, blank lines, ``#`` notes) are skipped. Every entry must fall in
one year; a day listed both as a day off and as a workday is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.translation import gettext as _

from .errors import Problem, ValidationFailed

_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_RANGE = re.compile(r"[~～至到–—]")
MAX_LINES = 2000


@dataclass(frozen=True)
class HolidayTable:
    year: int
    days_off: list[date]
    workdays: list[date]


def _kind(text: str) -> str | None:
    low = text.lower()
    if "班" in text or "work" in low:
        return "workday"
    if "休" in text or "假" in text or "off" in low or "holiday" in low:
        return "off"
    return None


def parse_holiday_table(text: str) -> HolidayTable:
    problems: list[Problem] = []
    off: set[date] = set()
    on: set[date] = set()
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise ValidationFailed("too_long", _("At most %(n)s lines.") % {"n": MAX_LINES},
                               problems=[Problem("too_long", _("At most %(n)s lines.") % {"n": MAX_LINES},
                                                 field="text")])
    for no, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        found = list(_DATE.finditer(line))
        if not found:
            continue
        try:
            days = [date(int(m[1]), int(m[2]), int(m[3])) for m in found]
        except ValueError:
            problems.append(Problem("invalid_date", _("Line %(n)s: no such date.") % {"n": no}, field="text"))
            continue
        rest = _DATE.sub(" ", line)
        kind = _kind(rest)
        if kind is None:
            problems.append(Problem("no_kind", _("Line %(n)s: say whether the days are 休 (off) or 班 (workday).")
                                    % {"n": no}, field="text"))
            continue
        if len(days) == 2 and _RANGE.search(rest):
            first, last = days
            if last < first or (last - first).days > 31:
                problems.append(Problem("invalid_range", _("Line %(n)s: the range must run forwards and span at "
                                                           "most a month.") % {"n": no}, field="text"))
                continue
            days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        (on if kind == "workday" else off).update(days)
    if not problems and not (off or on):
        problems.append(Problem("empty", _("No dates found. Write one entry per line, e.g. 2027-02-06~2027-02-12 休."),
                                field="text"))
    both = sorted(off & on)
    if both:
        problems.append(Problem("conflict", _("%(day)s is listed both as a day off and as a workday.")
                                % {"day": both[0].isoformat()}, field="text"))
    years = sorted({d.year for d in off | on})
    if len(years) > 1:
        problems.append(Problem("several_years", _("Import one year at a time (found %(years)s).")
                                % {"years": "、".join(str(y) for y in years)}, field="text"))
    if problems:
        raise ValidationFailed("invalid_schedule", problems[0].message, problems=problems)
    return HolidayTable(year=years[0], days_off=sorted(off), workdays=sorted(on))

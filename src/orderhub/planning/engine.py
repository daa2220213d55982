"""Finite scheduling, pure (no database): lines with hours per working day, the load already
booked, and jobs placed one after another, each operation on the earliest days with free hours
on its line. Deterministic: the same jobs in the same order give the same schedule.

An order's operations run in ``seq`` order: operations of one ``seq`` (different products on
different lines) start together, the next ``seq`` starts on the day the previous one ended. An
operation longer than a day's free hours spans several days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

HORIZON_DAYS = 730     # nothing is placed further out: a job that does not fit is reported late
EPS = 1e-6


@dataclass(frozen=True)
class Op:
    seq: int
    operation: str
    line: int
    hours: float


@dataclass
class Job:
    order_id: int
    start: date                      # materials ready (and not before today)
    ops: list[Op]


@dataclass
class Placed:
    order_id: int
    end: date | None                 # None: no operation (nothing to make)
    rows: list[tuple[int, int, str, date, float]] = field(default_factory=list)  # line, seq, op, day, hours


class Board:
    """Free hours per line and day: capacity on working days minus what is booked."""

    def __init__(self, hours_per_day: dict[int, float], is_workday: Callable[[date], bool]):
        self.capacity = hours_per_day
        self.is_workday = is_workday
        self.used: dict[int, dict[date, float]] = defaultdict(lambda: defaultdict(float))
        self._workday: dict[date, bool] = {}
        # per line, (base, upto): every day of [base, upto) is full (upto only moves forward)
        self.cursor: dict[int, tuple[date, date]] = {}

    def workday(self, d: date) -> bool:
        known = self._workday.get(d)
        if known is None:
            known = self._workday[d] = self.is_workday(d)
        return known

    def free(self, line: int, d: date) -> float:
        if not self.workday(d):
            return 0.0
        return max(0.0, self.capacity.get(line, 0.0) - self.used[line][d])

    def book(self, line: int, d: date, hours: float) -> None:
        self.used[line][d] += hours

    def place_op(self, op: Op, start: date) -> tuple[date, list[tuple[date, float]]]:
        """Book ``op`` from ``start`` on; its last day and the hours per day."""
        left, rows = op.hours, []
        limit = start + timedelta(days=HORIZON_DAYS)
        if op.line not in self.capacity:
            return limit, []
        cursor = self.cursor.get(op.line)
        d = cursor[1] if cursor and cursor[0] <= start < cursor[1] else start
        while left > EPS and d < limit:
            take = min(left, self.free(op.line, d))
            if take > EPS:
                self.book(op.line, d, take)
                rows.append((d, take))
                left -= take
            if left > EPS:
                d += timedelta(days=1)
        self._advance(op.line, start)
        return d, rows

    def _advance(self, line: int, start: date) -> None:
        """Move the line's cursor past the full days (a first booking sets its base)."""
        base, d = self.cursor.get(line) or (start, start)
        if not base <= start <= d:
            return
        limit = d + timedelta(days=HORIZON_DAYS)
        while d < limit and self.free(line, d) <= EPS:
            d += timedelta(days=1)
        self.cursor[line] = (base, d)

    def place(self, job: Job) -> Placed:
        out = Placed(job.order_id, None)
        by_seq: dict[int, list[Op]] = defaultdict(list)
        for op in job.ops:
            by_seq[op.seq].append(op)
        start = job.start
        for seq in sorted(by_seq):
            ends = []
            for op in by_seq[seq]:
                end, rows = self.place_op(op, start)
                ends.append(end)
                out.rows.extend((op.line, seq, op.operation, d, h) for d, h in rows)
            start = max(ends)
        if job.ops:
            out.end = start
        return out

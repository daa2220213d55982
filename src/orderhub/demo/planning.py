"""The demo's production lines, routings and schedule (issue 18 items 7–9).

The lines and routings are loaded before the first order, so every T1 order confirmed (已排产)
while the history is replayed gets its promised date from stock, open POs and the capacity
booked at that moment, as real use would.

The T1 orders' moves are replayed in time order (:func:`replay_walks`, every order's moves
interleaved on one moving clock), with the periodic planning jobs run at the simulated times as
beat would run them: ``planning.replan`` at the first business hour of each working day and
``planning.risk_scan`` on every business hour. So the delivery-risk notices of the past exist
with their historic times, and the backtest scores them against what the replay then did: an
order whose material ran short stays blocked before 物料齐套 (the kitting guard), a slow stage
makes its order late, a line booked full pushes the expected completion past the promise.

At the end the schedule is rebuilt from today (the capacity board shows about two weeks of load,
the owners of orders that slipped are told), the scan runs once more and the backtest is
computed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from orderhub.catalog.models import Product
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.calendar_config import get_business_calendar
from orderhub.planning.risk import risk_backtest, risk_scan
from orderhub.planning.services import RoutingIn, line_save, schedule_rebuild

D = Decimal
LINES = [("CNC-1", "数控车床一线", "16"), ("CNC-2", "数控车床二线", "16"), ("MC-1", "立式加工中心", "16"),
         ("PK-1", "检验包装线", "8")]
# sku: [(line, hours per piece, preferred)] for machining (seq 10); every part is then checked and
# packed on PK-1 (seq 20)
MACHINING = {
    "SNS-HSG-0231": [("CNC-1", "0.015", True), ("CNC-2", "0.018", False), ("MC-1", "0.012", False)],
    "SNS-CVR-0112": [("CNC-1", "0.005", True), ("CNC-2", "0.006", False)],
    "SHF-45-200": [("CNC-2", "0.02", True), ("CNC-1", "0.022", False)],
    "VLV-BODY-304": [("MC-1", "0.03", True), ("CNC-1", "0.04", False)],
    "BRK-AL-75": [("MC-1", "0.008", True), ("CNC-2", "0.01", False)],
    "NZL-BRASS-12": [("CNC-1", "0.01", True), ("CNC-2", "0.01", False)],
    "FLG-SS-DN50": [("MC-1", "0.04", True)],
    "SPC-S45-30": [("CNC-2", "0.004", True), ("CNC-1", "0.005", False)],
}
PACKING = "0.002"


def load_lines(actor: Actor) -> int:
    """The four lines and their routings (before any order)."""
    ids = dict(Product.objects.filter(sku__in=MACHINING).values_list("sku", "pk"))
    for code, name, hours in LINES:
        steps = [RoutingIn(ids[sku], 10, "数控加工" if code != "MC-1" else "铣削加工", D(rate), pref)
                 for sku, opts in MACHINING.items() for line, rate, pref in opts if line == code]
        if code == "PK-1":
            steps = [RoutingIn(ids[sku], 20, "检验包装", D(PACKING)) for sku in MACHINING]
        line_save(actor=actor, code=code, name=name, hours_per_day=D(hours), routings=steps)
    return len(LINES)


@dataclass
class History:
    """What the replayed past did: the moves made, refused (a guard said no: the order stays
    where it is), and the periodic jobs run at their simulated times."""
    moves: int = 0
    refused: int = 0
    scans: int = 0
    replans: int = 0
    notices: int = 0


class _Beat:
    """The periodic planning jobs on the replay's moving clock: every whole business hour up to a
    moment runs the risk scan, the first of each working day the replan before it."""

    def __init__(self, start: datetime, history: History):
        self.cal = get_business_calendar()
        self.next = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        self.day: date | None = None
        self.history = history
        self.system = Actor.system("planning.replan")

    def until(self, moment: datetime) -> None:
        while self.next <= moment:
            at, self.next = self.next, self.next + timedelta(hours=1)
            if self.cal.next_business_moment(at) != at:
                continue   # beat runs every hour; out of business hours nothing has moved since
            with clock.frozen(at):
                if timezone.localdate(at) != self.day:
                    self.day = timezone.localdate(at)
                    schedule_rebuild(actor=self.system, refresh_materials=True)
                    self.history.replans += 1
                self.history.notices += risk_scan(now=at)
                self.history.scans += 1


def replay_walks(walks: list[tuple[str, list[tuple[str, datetime]]]], now: datetime,
                 move: Callable[[str, str], bool]) -> History:
    """Make every order's planned moves ((stage, when) per order number) in time order, on one
    clock, with the planning jobs between them; an order whose move is refused makes no more."""
    steps = sorted((at, k, stage) for k, (_n, plan) in enumerate(walks) for stage, at in plan)
    history = History()
    if not steps:
        return history
    beat, stopped = _Beat(steps[0][0], history), set()
    for at, k, stage in steps:
        if k in stopped:
            continue
        beat.until(at)
        with clock.frozen(at):
            if move(walks[k][0], stage):
                history.moves += 1
            else:
                history.refused += 1
                stopped.add(k)
    beat.until(now)
    return history


def finish_planning(actor: Actor, history: History) -> dict:
    """Rebuild the schedule from today and warn of delivery risks; the figures for the summary."""
    rebuilt = schedule_rebuild(actor=actor, refresh_materials=True)
    notices = risk_scan()
    score = risk_backtest()
    return {"released": rebuilt.orders, "operations": rebuilt.operations, "slipped": len(rebuilt.slipped),
            "replayed_moves": history.moves, "refused_moves": history.refused, "risk_scans": history.scans,
            "replans": history.replans, "risk_notices": history.notices + notices,
            "risk_precision": score.precision, "risk_recall": score.recall, "risk_backtest_orders": score.orders,
            "risk_true_positive": score.true_positive, "risk_false_positive": score.false_positive,
            "risk_false_negative": score.false_negative}

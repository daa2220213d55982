"""The demo's production lines, routings and schedule (issue 18 items 7–9).

The lines and routings are loaded before the first order, so every T1 order confirmed (已排产)
while the history is replayed gets its promised date from stock, open POs and the capacity
booked at that moment, as real use would. At the end the schedule is rebuilt from today (the
capacity board shows about two weeks of load, the owners of orders that slipped are told) and
the delivery-risk scan runs (the risk list and its notices)."""

from __future__ import annotations

from decimal import Decimal

from orderhub.catalog.models import Product
from orderhub.core.actors import Actor
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


def finish_planning(actor: Actor) -> dict:
    """Rebuild the schedule from today and warn of delivery risks; the figures for the summary."""
    rebuilt = schedule_rebuild(actor=actor, refresh_materials=True)
    notices = risk_scan()
    score = risk_backtest()
    return {"released": rebuilt.orders, "operations": rebuilt.operations, "slipped": len(rebuilt.slipped),
            "risk_notices": notices, "risk_precision": score.precision, "risk_recall": score.recall,
            "risk_backtest_orders": score.orders}

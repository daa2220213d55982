"""Applying an approved change request to a 1,000-line order (issue 15.2's proof, measured with
issue 15.6): ``change_request_decide`` by the last approver on a T3 order held at
``production_locked`` (its 1,000 lines reserved), PostgreSQL.

    .venv/bin/python bench/change_apply_bench.py           # 1,000 lines, 5 runs
    .venv/bin/python bench/change_apply_bench.py --lines 200 --reuse

Database ``orderhub_bench_change_apply`` (dropped and recreated unless ``--reuse``): migrate, the
common seed, one T3 order of ``--lines`` lines moved to ``production_locked``. Each run raises a
change request changing every line's quantity (up on even runs, back down on odd ones), lets
every approver role but the last approve (untimed), then times the last approval: the whole
change applied as one new version (lock, lines, stock rebalanced, guards, event, snapshot,
ticket resolved, everyone told). Prints the median and best after one warm-up, in milliseconds,
and the median of this process's CPU time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from line_edit_bench import load  # noqa: E402  (the same 1,000-line T3 order)

DB = "orderhub_bench_change_apply"
URL = f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{DB}"


def measure(number: str, runs: int) -> dict:
    from orderhub.core.actors import Actor
    from orderhub.orders.models import OrderLine
    from orderhub.orders.services import LineChange
    from orderhub.orders.services.change_requests import change_request_decide, change_request_raise

    acts = common.actors()
    boss = Actor.system("bench-approver")   # acts for any approver role
    times, cpu = [], []
    for run in range(runs + 1):
        bump = Decimal(-1) if run % 2 else Decimal(1)
        lines = [LineChange("update", line_no=n, qty=q + bump)
                 for n, q in OrderLine.objects.filter(order__number=number).values_list("line_no", "qty")]
        req = change_request_raise(order=number, actor=acts["sales"], lines=lines, reason="bench")
        for role in req.approvers[:-1]:
            change_request_decide(request=req.pk, approve=True, comment="同意", actor=boss, role=role)
        t, c = time.perf_counter(), time.process_time()
        done = change_request_decide(request=req.pk, approve=True, comment="同意", actor=boss,
                                     role=req.approvers[-1])
        c, elapsed = (time.process_time() - c) * 1000, (time.perf_counter() - t) * 1000
        assert done.applied_version, "the last approval applies the change"
        if run:
            times.append(elapsed)
            cpu.append(c)
    return {"lines_changed": len(lines), "median_ms": round(statistics.median(times), 1),
            "best_ms": round(min(times), 1), "python_cpu_median_ms": round(statistics.median(cpu), 1),
            "runs": [round(x, 1) for x in times]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    if not args.reuse:
        common.recreate_database(DB)
    common.bootstrap(URL)
    if not args.reuse:
        common.migrate()
        common.seed()
        load(args.lines)
    import os

    from orderhub.orders.models import Order

    number = Order.objects.order_by("-pk").values_list("number", flat=True).first()
    print("load average before:", os.getloadavg())
    print("approved change applied:", measure(number, args.runs))
    print("load average after:", os.getloadavg())


if __name__ == "__main__":
    main()

"""Applying a line change to a 1,000-line order (issue 15.1): ``order_lines_change`` on a T3
order held at ``production_locked`` (its 1,000 lines reserved), PostgreSQL.

    .venv/bin/python bench/line_edit_bench.py              # 1,000 lines, 7 runs of each change
    .venv/bin/python bench/line_edit_bench.py --lines 200 --reuse

Database ``orderhub_bench_line_edit`` (dropped and recreated unless ``--reuse``): migrate, the
common seed (stock never runs out), then one T3 order of ``--lines`` lines moved to
``production_locked`` (guards, reservation). Each run is one call, committed, timed from the call
to its return (lock, validation, line writes, stock rebalance, guards, event, snapshot):

- ``all-qty``: every line's quantity changed (up on even runs, back down on odd ones: stock
  reserved, then freed);
- ``few``: 10 quantities changed, 5 lines added, 5 removed (the added ones, on the next run).

Prints the median and the best of the runs after one warm-up, in milliseconds, and the median
of this process's CPU time (the Python side; steadier than wall time on a busy machine).
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

DB = "orderhub_bench_line_edit"
URL = f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{DB}"
MOVES = [("credit_review", "sales"), ("contract_signed", "finance"), ("production_locked", "sales")]


def load(lines: int) -> str:
    from orderhub.orders.services import order_create, order_transition

    acts = common.actors()
    order = order_create(data=common.InputFactory(seed=15, lines=lines, workflow="T3").order_input(),
                         actor=acts["sales"]).order
    for to, who in MOVES:
        res = order_transition(order=order.number, to=to, actor=acts[who])
        assert res.ok, res.reasons
    return order.number


def all_qty(number: str, run: int):
    from orderhub.orders.models import OrderLine
    from orderhub.orders.services import LineChange

    bump = Decimal(-1) if run % 2 else Decimal(1)
    return [LineChange("update", line_no=n, qty=q + bump)
            for n, q in OrderLine.objects.filter(order__number=number).values_list("line_no", "qty")]


def few(number: str, run: int):
    from orderhub.orders.models import OrderLine
    from orderhub.orders.services import LineChange

    rows = list(OrderLine.objects.filter(order__number=number).order_by("line_no").values_list("line_no", "qty"))
    bump = Decimal(-1) if run % 2 else Decimal(1)
    changes = [LineChange("update", line_no=n, qty=q + bump) for n, q in rows[:10]]
    if not run % 2:
        changes += [LineChange("add", sku=f"RM{i:04d}", qty=Decimal(2)) for i in range(5)]
    else:
        changes += [LineChange("remove", line_no=n) for n, _q in rows[-5:]]
    return changes


def measure(number: str, build, runs: int) -> dict:
    from orderhub.orders.services import order_lines_change

    actor = common.actors()["sales"]
    times, cpu = [], []
    for run in range(runs + 1):
        changes = build(number, run)
        t, c = time.perf_counter(), time.process_time()
        order_lines_change(order=number, changes=changes, actor=actor, reason="bench")
        c, elapsed = (time.process_time() - c) * 1000, (time.perf_counter() - t) * 1000
        if run:                        # run 0 warms caches and prepared statements
            times.append(elapsed)
            cpu.append(c)
    return {"changes": len(changes), "median_ms": round(statistics.median(times), 1),
            "best_ms": round(min(times), 1), "python_cpu_median_ms": round(statistics.median(cpu), 1),
            "runs": [round(x, 1) for x in times]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    if not args.reuse:
        common.recreate_database(DB)
    common.bootstrap(URL)
    if not args.reuse:
        common.migrate()
        common.seed()
        load(args.lines)
    from orderhub.orders.models import Order

    number = Order.objects.order_by("-pk").values_list("number", flat=True).first()
    print("all-qty:", measure(number, all_qty, args.runs))
    print("few:", measure(number, few, args.runs))


if __name__ == "__main__":
    main()

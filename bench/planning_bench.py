"""Capacity planning (issue 18 items 7 and 8), PostgreSQL:

- the promised date of a 100-line order with BOMs at confirmation (``planning.promise.
  promise_at_confirmation``: materials from stock and open POs, routings, the booked load, the
  writes), budget 200 ms;
- rush-order options across 20 lines with 5,000 released orders on the schedule
  (``planning.rush.rush_options``), budget 1 s;
- the full rebuild of the schedule (every released order placed again), for the record.

    .venv/bin/python bench/planning_bench.py                   # 5,000 released + 45,000 other orders
    .venv/bin/python bench/planning_bench.py --other 200000    # more orders that hold no capacity
    .venv/bin/python bench/planning_bench.py --reuse
    .venv/bin/python bench/planning_bench.py --base orderhub_bench_b_history --other 0   # at 1M orders

``--base DB`` starts from a copy of a loaded database (bench/datagen.py's 1,000,000 orders: the
issue's "at 1M orders") instead of an empty one: the lines, routings and ``--released`` orders
are added on top (the bench company's sales role set to see every customer, as the common seed
now does).

Database ``orderhub_bench_planning`` (dropped and recreated unless ``--reuse``): migrate, the
common seed (500 products, 40 % of the finished ones with a 2–4 component BOM), 20 lines of 16 h
a day, every product routed (seq 10 on 3 of lines 1–19, the first preferred; seq 20 on the
packing line 20; the first finished product on all of lines 1–19: the rush candidate, a new order
of 40 of it, not yet scheduled), ``--released`` orders of 5 lines moved to 已排产 by one UPDATE (bench set-up,
not the app's path) and scheduled by one rebuild, ``--other`` orders left at 待确认 (they hold no
capacity: what grows with the order count is only the lookup by id). Each promise run happens in a
savepoint rolled back afterwards, so every run sees the same schedule. Prints median and worst in
milliseconds after one warm-up.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DB = "orderhub_bench_planning"
URL = f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{DB}"
CHUNK = 500
LINES = 20


def load(released: int, other: int) -> None:
    from orderhub.catalog.models import Product
    from orderhub.core.actors import Actor
    from orderhub.orders.models import Order
    from orderhub.orders.services import order_create_batch
    from orderhub.planning.models import Routing, WorkCenter
    from orderhub.planning.services import schedule_rebuild

    rng = random.Random(7)
    lines = WorkCenter.objects.bulk_create([WorkCenter(code=f"L{i + 1:02d}", name=f"产线{i + 1:02d}",
                                                       hours_per_day=Decimal(16)) for i in range(LINES)])
    steps = []
    for pid in Product.objects.values_list("pk", flat=True):
        for k, wc in enumerate(rng.sample(lines[:-1], 3)):
            steps.append(Routing(product_id=pid, seq=10, operation="加工", work_center=wc, preferred=k == 0,
                                 hours_per_unit=Decimal(rng.randint(5, 40)) / 100))
        steps.append(Routing(product_id=pid, seq=20, operation="包装", work_center=lines[-1],
                             hours_per_unit=Decimal("0.01")))
    Routing.objects.bulk_create(steps)
    # the rush candidate's product: machined on any of lines 1-19 (so every line is an option)
    rush = Product.objects.filter(sku__startswith="FG").order_by("pk").values_list("pk", flat=True)[0]
    Routing.objects.filter(product_id=rush, seq=10).delete()
    Routing.objects.bulk_create([Routing(product_id=rush, seq=10, operation="加工", work_center=wc, preferred=k == 0,
                                         hours_per_unit=Decimal("0.2")) for k, wc in enumerate(lines[:-1])])
    acts = common.actors()
    factory = common.InputFactory(seed=18, lines=5)
    for start in range(0, released + other, CHUNK):
        order_create_batch(items=[factory.order_input() for _ in range(min(CHUNK, released + other - start))],
                           actor=acts["sales"])
    ids = list(Order.objects.order_by("pk").values_list("pk", flat=True)[:released])
    Order.objects.filter(pk__in=ids).update(stage="scheduled")
    t = time.perf_counter()
    r = schedule_rebuild(actor=Actor.system("bench"), refresh_materials=True, notify_slips=False)
    print(f"rebuild: {r.orders} released orders, {r.operations} operation-days in "
          f"{(time.perf_counter() - t) * 1000:.0f} ms")


def measure_promise(runs: int) -> dict:
    from django.db import transaction

    from orderhub.core import clock
    from orderhub.orders.models import OrderLine
    from orderhub.orders.services import order_create
    from orderhub.planning.promise import promise_at_confirmation

    acts = common.actors()
    order = order_create(data=common.InputFactory(seed=99, lines=100).order_input(), actor=acts["sales"]).order
    lines = list(OrderLine.objects.filter(order=order).select_related("product"))
    times, promised = [], None
    for run in range(runs + 1):
        with transaction.atomic():
            sid = transaction.savepoint()
            t = time.perf_counter()
            promised = promise_at_confirmation(order, lines, clock.now(), acts["sales"])
            d = (time.perf_counter() - t) * 1000
            transaction.savepoint_rollback(sid)
        if run:
            times.append(d)
    return {"lines": len(lines), "promised": str(promised.date if promised else None),
            "median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def measure_rush(runs: int) -> dict:
    from orderhub.catalog.models import Product
    from orderhub.orders.inputs import LineInput, OrderInput
    from orderhub.orders.services import order_create
    from orderhub.planning.rush import rush_options

    sku = Product.objects.filter(sku__startswith="FG").order_by("pk").values_list("sku", flat=True)[0]
    number = order_create(data=OrderInput(customer="C0000", lines=[LineInput(sku=sku, qty=Decimal(40))],
                                          required_date=common.InputFactory(seed=1, lines=1).required,
                                          channel="bench", workflow="T1"), actor=common.actors()["sales"]).order.number
    times, opts = [], None
    for run in range(runs + 1):
        t = time.perf_counter()
        opts = rush_options(number)
        d = (time.perf_counter() - t) * 1000
        if run:
            times.append(d)
    assert opts is not None
    return {"order": number, "lines_considered": opts.considered, "options": len(opts.options),
            "delayed_on_best": len(opts.options[0].delays) if opts.options else 0,
            "median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--released", type=int, default=5_000)
    ap.add_argument("--other", type=int, default=45_000)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--base", help="a loaded database to start from (copied; e.g. datagen's 1M orders)")
    args = ap.parse_args()
    if args.base:
        common.clone_database(DB, args.base)
    elif not args.reuse:
        common.recreate_database(DB)
    common.bootstrap(URL)
    if args.base:
        from orderhub.core.actors import Actor
        from orderhub.core.services import role_setting_save

        common.migrate()
        role_setting_save(role="sales", actor=Actor.system("bench"), order_scope="all")
        load(args.released, args.other)
        common.vacuum_analyze_url(URL)
    elif not args.reuse:
        common.migrate()
        common.seed()
        load(args.released, args.other)
        common.vacuum_analyze_url(URL)
    from orderhub.orders.models import Order
    from orderhub.planning.models import ScheduledOperation

    print(f"orders: {Order.objects.count()}, released: {Order.objects.filter(stage='scheduled').count()}, "
          f"scheduled operation-days: {ScheduledOperation.objects.count()}")
    print("promised date, 100-line order with BOMs:", measure_promise(args.runs))
    print("rush options across 20 lines:", measure_rush(args.runs))


if __name__ == "__main__":
    main()

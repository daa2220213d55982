"""The stock circuit breaker's check after a stock change (issue 15.6), with 10,000 waiting
orders needing the material, PostgreSQL.

    .venv/bin/python bench/breaker_bench.py                # 10,000 waiting orders, 11 runs
    .venv/bin/python bench/breaker_bench.py --reuse

Database ``orderhub_bench_breaker`` (dropped and recreated unless ``--reuse``): migrate, the common
seed, then ``--orders`` open T1 orders (none holding stock: all waiting) of 3 lines, the first
always ``RM0001`` at a random 1–1,000 units, through ``order_create_batch``. RM0001's stock is set
so that 1,000 units are free: no order is short.

Each run is three pairs of ``stock_receive`` calls (the write behind receipts and adjustments),
each committed: +1/−1 (nothing trips: the check alone), −3 (the orders needing more than 997
trip: about 0.3 %) and +3 (they reset). The check (``orders.breakers.stock.check_stock``, run
inside the stock write) is timed on its own by wrapping the listener (wall time, and this
process's CPU time: the Python side); the whole call is timed
too: it includes the write and, after commit, pausing or resuming the tripped orders (hold,
ticket, history). Prints medians and worst in milliseconds after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DB = "orderhub_bench_breaker"
URL = f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{DB}"
CHUNK = 500
SKU = "RM0001"
FREE = Decimal(1000)


def load(orders: int) -> None:
    from orderhub.orders.inputs import LineInput
    from orderhub.orders.services import order_create_batch

    acts = common.actors()
    factory = common.InputFactory(seed=156, lines=2)
    for start in range(0, orders, CHUNK):
        items = []
        for _ in range(min(CHUNK, orders - start)):
            oi = factory.order_input()
            extra = [ln for ln in oi.lines if ln.sku != SKU][:2]
            items.append(replace(oi, lines=[LineInput(sku=SKU, qty=Decimal(factory.rng.randint(1, 1000))), *extra]))
        bad = [r.error for r in order_create_batch(items=items, actor=acts["sales"]) if r.error]
        if bad:
            raise SystemExit(f"load failed: {bad[0]}")


def set_free(product_id: int) -> int:
    from django.db.models import F

    from orderhub.inventory.models import StockLevel
    from orderhub.inventory.selectors import available_by_product

    level = StockLevel.objects.filter(product_id=product_id).order_by("pk").first()
    assert level is not None, "the seed gives every product stock"
    StockLevel.objects.filter(product_id=product_id).update(on_hand=F("reserved"))
    StockLevel.objects.filter(pk=level.pk).update(on_hand=F("reserved") + FREE)
    assert available_by_product([product_id])[product_id] == FREE
    return level.warehouse_id


def measure(product_id: int, warehouse_id: int, runs: int) -> dict:
    from orderhub.core.actors import Actor
    from orderhub.inventory import safety
    from orderhub.inventory.models import StockMove
    from orderhub.inventory.services import stock_receive
    from orderhub.orders.breakers import stock
    from orderhub.orders.models import BreakerTrip

    checks: list[float] = []
    cpu: list[float] = []

    def timed(product_ids: set[int]) -> None:
        t, c = time.perf_counter(), time.process_time()
        stock.check_stock(product_ids)
        checks.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)

    safety._change_listeners[:] = [timed if fn is stock.on_stock_change else fn for fn in safety._change_listeners]
    actor = Actor.system("bench")
    out: dict[str, list[float]] = {k: [] for k in ("quiet_check", "trip_check", "reset_check",
                                                   "trip_call", "reset_call")}
    tripped = 0

    def call(qty: int) -> tuple[float, float]:
        checks.clear()
        t = time.perf_counter()
        stock_receive(product_id=product_id, warehouse_id=warehouse_id, qty=Decimal(qty), actor=actor,
                      kind=StockMove.Kind.ADJUSTMENT)
        return checks[0], (time.perf_counter() - t) * 1000

    cpu_quiet: list[float] = []
    for run in range(runs + 1):
        cpu.clear()
        q1, _c = call(1)
        q2, _c = call(-1)
        trip_check, trip_call = call(-3)
        tripped = BreakerTrip.objects.filter(reset_at__isnull=True).count()
        reset_check, reset_call = call(3)
        assert tripped and not BreakerTrip.objects.filter(reset_at__isnull=True).exists()
        if run:
            cpu_quiet.append(cpu[0])
            out["quiet_check"] += [q1, q2]
            out["trip_check"].append(trip_check)
            out["reset_check"].append(reset_check)
            out["trip_call"].append(trip_call)
            out["reset_call"].append(reset_call)
    res: dict = {"orders_tripped": tripped, "quiet_check_python_cpu_median_ms": round(statistics.median(cpu_quiet), 1)}
    for k, v in out.items():
        res[f"{k}_median_ms"] = round(statistics.median(v), 1)
        res[f"{k}_max_ms"] = round(max(v), 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    if not args.reuse:
        common.recreate_database(DB)
    common.bootstrap(URL)
    if not args.reuse:
        common.migrate()
        common.seed()
        load(args.orders)
        common.vacuum_analyze_url(URL)
    from orderhub.catalog.models import Product
    from orderhub.orders.breakers.stock import short_orders
    from orderhub.orders.models import Order

    pid = Product.objects.get(sku=SKU).pk
    wh = set_free(pid)
    assert not short_orders({pid}, stages=[])[0], "no order may be short before the runs"
    print(f"waiting orders needing {SKU}: {Order.objects.filter(status='open', lines__product_id=pid).count()}")
    print("machine before the runs:", common.wait_for_quiet(120), "load average", os.getloadavg())
    print("stock breaker check after a stock change:", measure(pid, wh, args.runs))
    print("load average after:", os.getloadavg())


if __name__ == "__main__":
    main()

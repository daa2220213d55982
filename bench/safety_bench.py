"""Safety stock flagging after a stock change (issue 18 item 4): one stock adjustment that
crosses a material's safety stock, with 10,000 open orders, PostgreSQL.

    .venv/bin/python bench/safety_bench.py                 # 10,000 open orders, 11 runs
    .venv/bin/python bench/safety_bench.py --reuse

Database ``orderhub_bench_safety`` (dropped and recreated unless ``--reuse``): migrate, the common
seed (500 products, 40 % of the finished ones with a 2–4 component BOM), then ``--orders`` open T1
orders of 5 random lines through ``order_create_batch``; then every fifth order (by id) holds 1 of
its first line's product through ``inventory.services.stock_reserve`` (faster to load than kitting
moves): started, never flagged. The material needed by the most
orders (directly or through a BOM) gets a safety stock equal to its free stock.

Each run is two calls of ``stock_receive`` (the write behind receipts and adjustments), each
committed and timed from the call to its return: −1 (crosses down: breach row, the not-started
orders needing it flagged) and +1 (crosses back up: flags cleared). Prints the median and worst
of each after one warm-up, in milliseconds, and how many orders were flagged.
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

DB = "orderhub_bench_safety"
URL = f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{DB}"
CHUNK = 500


def load(orders: int) -> None:
    from orderhub.inventory.services import Requirement, stock_reserve
    from orderhub.orders.models import Order, OrderLine
    from orderhub.orders.services import order_create_batch

    acts = common.actors()
    factory = common.InputFactory(seed=18, lines=5)
    for start in range(0, orders, CHUNK):
        order_create_batch(items=[factory.order_input() for _ in range(min(CHUNK, orders - start))],
                           actor=acts["sales"])
    for pk in list(Order.objects.order_by("pk").values_list("pk", flat=True))[::5]:
        product_id = OrderLine.objects.filter(order_id=pk).order_by("line_no").values_list("product_id", flat=True)[0]
        stock_reserve(order_id=pk, requirements=[Requirement(product_id, Decimal(1))], actor=acts["sales"],
                      release_condition="bench")


def most_needed() -> tuple[int, int]:
    """The raw material the most open orders need (directly or through a BOM), and how many."""
    from django.db.models import Count, Q

    from orderhub.catalog.models import BomItem, Product
    from orderhub.orders.models import OrderLine

    best = (0, -1)
    for pid in Product.objects.filter(sku__startswith="RM").values_list("pk", flat=True):
        parents = list(BomItem.objects.filter(component_id=pid).values_list("parent_id", flat=True))
        n = OrderLine.objects.filter(Q(product_id=pid) | Q(product_id__in=parents)).aggregate(
            n=Count("order_id", distinct=True))["n"]
        best = max(best, (pid, n), key=lambda x: x[1])
    return best


def measure(product_id: int, runs: int) -> dict:
    from orderhub.catalog.models import Product
    from orderhub.core.actors import Actor
    from orderhub.inventory.models import StockLevel, StockMove
    from orderhub.inventory.selectors import available_by_product
    from orderhub.orders.models import SafetyFlag

    wh = StockLevel.objects.filter(product_id=product_id).order_by("pk").values_list("warehouse_id", flat=True)[0]
    Product.objects.filter(pk=product_id).update(safety_stock=available_by_product([product_id])[product_id])
    actor = Actor.system("bench")
    down, up, flagged = [], [], 0
    from orderhub.inventory.services import stock_receive

    for run in range(runs + 1):
        t = time.perf_counter()
        stock_receive(product_id=product_id, warehouse_id=wh, qty=Decimal(-1), actor=actor,
                      kind=StockMove.Kind.ADJUSTMENT)
        d = (time.perf_counter() - t) * 1000
        flagged = SafetyFlag.objects.filter(product_id=product_id).count()
        t = time.perf_counter()
        stock_receive(product_id=product_id, warehouse_id=wh, qty=Decimal(1), actor=actor)
        u = (time.perf_counter() - t) * 1000
        assert flagged and not SafetyFlag.objects.filter(product_id=product_id).exists()
        if run:
            down.append(d)
            up.append(u)
    return {"orders_flagged": flagged, "down_median_ms": round(statistics.median(down), 1),
            "down_max_ms": round(max(down), 1), "up_median_ms": round(statistics.median(up), 1),
            "up_max_ms": round(max(up), 1), "down_runs": [round(x, 1) for x in down]}


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
    from orderhub.orders.models import Order

    pid, needers = most_needed()
    print(f"open orders: {Order.objects.filter(status='open').count()}; material {pid}: "
          f"{needers} orders need it")
    print("stock change crossing safety stock:", measure(pid, args.runs))


if __name__ == "__main__":
    main()

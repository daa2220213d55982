"""Contention: 32 clients reserving the last 100 units of one SKU through the order services.

    .venv/bin/python bench/contention.py                      # 32 clients, 4 orders each, 3 repeats
    .venv/bin/python bench/contention.py --clients 64 --orders-per-client 2

Database ``orderhub_bench_b_contention`` (dropped and recreated). Per repeat a fresh SKU gets
exactly ``--units`` (100) on hand in one warehouse and nothing anywhere else; ``--clients``
×``--orders-per-client`` T3 orders of 1–5 units of it (together several times the stock) are
created and moved to ``contract_signed`` beforehand. Then every client — a thread with its own
database connection — waits at a barrier and moves its orders to ``production_locked`` through
``order_transition`` (guards ``stock >= qty × 1.05`` and credit, then the reservation), all at
once. Afterwards the stock row and the reservations are read back:

- oversold = units reserved beyond on hand (must be 0), checked three ways: the stock row's
  ``reserved`` vs ``on_hand``, the sum of active reservations vs ``on_hand``, and the two agree;
- throughput = reservation attempts (moves tried) per second, and each move's latency.

Result: bench/results/<date>-contention.json.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import contract  # noqa: E402

DB = "orderhub_bench_b_contention"
URL = f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{DB}"


def log(msg: str) -> None:
    print(f"[contention] {msg}", flush=True)


def prepare(rep: int, clients: int, per_client: int, units: int, seed: int) -> tuple[int, list[list[str]]]:
    """A fresh SKU with ``units`` on hand and the orders, at contract_signed, per client."""
    from orderhub.catalog.models import Product
    from orderhub.inventory.models import StockLevel, Warehouse
    from orderhub.orders.inputs import LineInput, OrderInput
    from orderhub.orders.services import order_create_batch, order_transition

    acts = common.actors()
    product = Product.objects.create(sku=f"LAST-{rep}", name=f"最后一批{rep}", unit="件",
                                     list_price=Decimal("10"))
    StockLevel.objects.create(product=product, warehouse=Warehouse.objects.get(code="WH1"),
                              on_hand=Decimal(units))
    rng = random.Random(seed + rep)
    required = date.today() + timedelta(days=20)
    items = [OrderInput(customer=f"C{rng.randrange(common.N_CUSTOMERS):04d}",
                        lines=[LineInput(sku=product.sku, qty=Decimal(rng.randint(1, 5)))],
                        required_date=required, channel="bench", workflow="T3",
                        external_ref=f"last-{rep}-{i}")
             for i in range(clients * per_client)]
    numbers = []
    for res in order_create_batch(items=items, actor=acts["sales"]):
        if res.error:
            raise SystemExit(f"setup failed: {res.error}")
        numbers.append(res.order.number)
    for n in numbers:
        for to, who in (("credit_review", "sales"), ("contract_signed", "finance")):
            r = order_transition(order=n, to=to, actor=acts[who])
            if not r.ok:
                raise SystemExit(f"setup move {n} → {to} blocked: {r.reasons}")
    return product.pk, [numbers[c::clients] for c in range(clients)]


def race(groups: list[list[str]]) -> dict:
    """One thread (one connection) per client; all start together."""
    from django.db import connection

    from orderhub.orders.services import order_transition

    acts = common.actors()
    barrier = threading.Barrier(len(groups) + 1)
    results: list[dict] = [{} for _ in groups]

    def client(i: int, numbers: list[str]) -> None:
        out = {"ok": 0, "blocked": 0, "errors": [], "lat": [], "reasons": set()}
        try:
            connection.ensure_connection()   # connect before the start
            barrier.wait(timeout=120)
            out["t0"] = time.perf_counter()
            for n in numbers:
                t = time.perf_counter()
                try:
                    r = order_transition(order=n, to="production_locked", actor=acts["sales"])
                    if r.ok:
                        out["ok"] += 1
                    else:
                        out["blocked"] += 1
                        out["reasons"].update(p.code for p in r.reasons)
                except Exception as exc:  # counted and reported, never hidden
                    out["errors"].append(f"{type(exc).__name__}: {exc}"[:200])
                out["lat"].append(time.perf_counter() - t)
            out["t1"] = time.perf_counter()
        finally:
            results[i] = out
            connection.close()

    threads = [threading.Thread(target=client, args=(i, g)) for i, g in enumerate(groups)]
    for t in threads:
        t.start()
    barrier.wait(timeout=120)
    for t in threads:
        t.join()
    span = max(r["t1"] for r in results) - min(r["t0"] for r in results)
    attempts = sum(r["ok"] + r["blocked"] + len(r["errors"]) for r in results)
    return {"span_s": span, "attempts": attempts, "ok": sum(r["ok"] for r in results),
            "blocked": sum(r["blocked"] for r in results),
            "errors": [e for r in results for e in r["errors"]],
            "block_reasons": sorted({c for r in results for c in r["reasons"]}),
            "lat_ms": [x * 1000 for r in results for x in r["lat"]]}


def check(product_id: int) -> dict:
    from django.db.models import Sum

    from orderhub.inventory.models import Reservation, StockLevel

    levels = list(StockLevel.objects.filter(product_id=product_id))
    on_hand = sum((lv.on_hand for lv in levels), Decimal(0))
    reserved_rows = sum((lv.reserved for lv in levels), Decimal(0))
    active = Reservation.objects.filter(product_id=product_id, status="active") \
        .aggregate(s=Sum("qty"))["s"] or Decimal(0)
    orders = Reservation.objects.filter(product_id=product_id, status="active") \
        .values("order_id").distinct().count()
    oversold = max(reserved_rows - on_hand, active - on_hand, Decimal(0))
    return {"on_hand": float(on_hand), "reserved_stock_rows": float(reserved_rows),
            "reserved_active_reservations": float(active), "orders_reserved": orders,
            "oversold_units": float(oversold), "rows_agree": reserved_rows == active}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--orders-per-client", type=int, default=4)
    ap.add_argument("--units", type=int, default=100, help="units on hand of the contested SKU")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--date", default=date.today().isoformat())
    args = ap.parse_args(argv)
    common.recreate_database(DB)
    common.bootstrap(URL)
    from django.conf import settings

    # one connection per thread, closed by the thread: no pooling across threads
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
    common.migrate()
    common.seed()
    machine = common.machine_info()
    reps = []
    for rep in range(args.repeat):
        pid, groups = prepare(rep, args.clients, args.orders_per_client, args.units, args.seed)
        common.vacuum_analyze_url(URL)
        res = race(groups)
        chk = check(pid)
        rate = res["attempts"] / res["span_s"] if res["span_s"] else 0.0
        reps.append({**res, **chk, "rate": rate})
        log(f"rep {rep + 1}/{args.repeat}: {res['attempts']} moves in {res['span_s']:.2f} s "
            f"({rate:.1f}/s): {res['ok']} reserved, {res['blocked']} blocked "
            f"({', '.join(res['block_reasons'])}), errors {len(res['errors'])}; stock on hand "
            f"{chk['on_hand']:g}, reserved {chk['reserved_stock_rows']:g} (reservations "
            f"{chk['reserved_active_reservations']:g}), oversold {chk['oversold_units']:g}")
    cond = (f"{args.clients} threads, one PostgreSQL connection each, {args.orders_per_client} "
            f"T3 orders of 1–5 units per client against {args.units} units on hand; "
            f"{contract.SHARED_MACHINE}")
    oversold = [r["oversold_units"] for r in reps]
    ok_all = all(x == 0 for x in oversold) and all(r["rows_agree"] for r in reps)
    errors = sum(len(r["errors"]) for r in reps)
    figs = [
        contract.figure("oversold units (stock row and active reservations vs on hand)", "count",
                        oversold, goal="= 0", goal_value=0, verdict="PASS" if ok_all else "MISS",
                        conditions=cond),
        contract.figure("reservation attempts per second (moves to production_locked)", "orders/s",
                        [r["rate"] for r in reps], better="higher", conditions=cond),
        contract.figure("move to production_locked under contention: latency", "ms",
                        [x for r in reps for x in r["lat_ms"]], conditions=cond, judged_on="p99"),
        contract.figure("units reserved of the last 100", "count",
                        [r["reserved_active_reservations"] for r in reps], better="higher",
                        conditions=cond),
        contract.figure("moves that failed with an error (not a guard)", "count",
                        [len(r["errors"]) for r in reps], goal="= 0", goal_value=0,
                        verdict="PASS" if errors == 0 else "MISS", conditions=cond),
    ]
    notes = [f"Every repeat: {reps[0]['attempts']} moves; refused moves were blocked by "
             f"{sorted({c for r in reps for c in r['block_reasons']})} (the guard reads the stock; "
             "the reservation locks the stock rows with SELECT … FOR UPDATE and re-checks)."]
    if errors:
        notes.append(f"Errors: {[e for r in reps for e in r['errors']][:3]}")
    path = contract.write_result(
        "contention", figs, notes=notes, day=args.date,
        machine={"django": machine["django"], "postgresql": machine["postgresql"]},
        detail={"settings": vars(args), "repeats": [{k: v for k, v in r.items() if k != "lat_ms"}
                                                    for r in reps]})
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Customer portal at a million orders (issue 16): a contact of one customer (about 5,000 of the
million orders are theirs) opens "my orders" (pages, search), an order page, and tracking links.

Loads the history with datagen (or reuses it: ``--reuse``), adds the contact through the
services, signs it in with a session cookie and renders each page through Django's test client.
Figures: every request's time, judged on p95 (the order page < 200 ms, the rest < 300 ms).

    .venv/bin/python bench/portal_bench.py [--orders-history 1000000] [--reuse] [--requests 60]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import contract  # noqa: E402
import datagen  # noqa: E402

DB = "orderhub_bench_b_portal"
GOALS = {"portal_order": 200.0, "portal_list": 300.0, "portal_search": 300.0, "track": 200.0}


def log(msg: str) -> None:
    print(f"[portal] {msg}", flush=True)


def loaded_orders(db: str) -> int | None:
    import psycopg

    try:
        with psycopg.connect(datagen.url_for(db), autocommit=True, connect_timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM orders_order").fetchone()[0]
    except psycopg.Error:
        return None


def measure(requests: int, seed: int = 16) -> tuple[dict, dict]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from orderhub.catalog.models import Customer
    from orderhub.core.actors import Actor
    from orderhub.orders.models import Order
    from orderhub.portal.models import Contact
    from orderhub.portal.services import ContactInput, contact_save, tracking_link_issue
    from orderhub.portal.sessions import COOKIE, session_token

    rng = random.Random(seed)
    customer = Customer.objects.order_by("code").first()
    contact = Contact.objects.filter(customer=customer).first() or contact_save(
        customer=customer.code, data=ContactInput(name="压测联系人", email="bench@portal.example"),
        actor=Actor.system("bench"))
    mine = list(Order.objects.filter(customer=customer).values_list("number", flat=True))
    sample = rng.sample(mine, min(requests, len(mine)))
    system = Actor.system("bench")
    tokens = [tracking_link_issue(order=n, actor=system)[0] for n in sample]
    client = Client()
    client.cookies[COOKIE] = session_token(contact)
    last_page = max(1, len(mine) // 20)
    pages = {
        "portal_list": lambda i: f"/portal/?page={rng.randint(1, last_page)}",
        "portal_search": lambda i: "/portal/?q=" + rng.choice([sample[i % len(sample)], sample[i % len(sample)][-6:],
                                                                "SO-", "PO"]) + rng.choice(["", "&status=open"]),
        "portal_order": lambda i: f"/portal/orders/{sample[i % len(sample)]}/",
        "track": lambda i: f"/track/{tokens[i % len(tokens)]}",
    }
    out = {}
    for name, url_for in pages.items():
        for i in range(5):
            assert client.get(url_for(i)).status_code == 200, url_for(i)
        times, queries = [], []
        for i in range(requests):
            url = url_for(i)
            with CaptureQueriesContext(connection) as q:
                t = time.perf_counter()
                resp = client.get(url)
                times.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200, (url, resp.status_code)
            queries.append(len(q))
        out[name] = {"p50_ms": round(common.percentile(times, 50), 1),
                     "p95_ms": round(common.percentile(times, 95), 1), "queries_max": max(queries),
                     "times_ms": times}
        log(f"{name:14s} p50 {out[name]['p50_ms']:7.1f} ms  p95 {out[name]['p95_ms']:7.1f} ms  "
            f"queries ≤ {out[name]['queries_max']}")
    return out, {"customer": customer.code, "customer_orders": len(mine)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders-history", type=int, default=1_000_000)
    ap.add_argument("--reuse", action="store_true", help="measure the loaded database when there is one")
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--db", default=DB)
    ap.add_argument("--date", default=date.today().isoformat())
    args = ap.parse_args(argv)
    if not args.db.startswith("orderhub_bench_b"):
        raise SystemExit("--db must start with orderhub_bench_b")
    have = loaded_orders(args.db)
    if args.reuse and have:
        log(f"reusing {args.db} with {have:,} orders")
        common.bootstrap(datagen.url_for(args.db))
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    else:
        load = datagen.generate(args.orders_history, db=args.db, jobs=args.jobs)
        have = load["orders"]
    res, who = measure(args.requests)
    cond = (f"{have:,} orders from bench/datagen.py; customer {who['customer']} has "
            f"{who['customer_orders']:,} of them; server-side render through Django's test client "
            f"({args.requests} requests per page); {contract.SHARED_MACHINE}")
    figs = [contract.figure(f"portal {name}: time per request", "ms", r["times_ms"],
                            goal=f"p95 < {GOALS[name]:.0f} ms", goal_value=GOALS[name], judged_on="p95",
                            conditions=cond, queries_max=r["queries_max"]) for name, r in res.items()]
    path = contract.write_result("portal", figs, day=args.date, detail={
        "orders": have, **who, "pages": {k: {kk: vv for kk, vv in v.items() if kk != "times_ms"}
                                          for k, v in res.items()}})
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Pages and KPI queries with a large order history (default 1,000,000 orders).

    .venv/bin/python bench/history.py                         # load 1M orders, then measure
    .venv/bin/python bench/history.py --orders-history 100000 # a quick run
    .venv/bin/python bench/history.py --reuse                 # measure the loaded database again

Loads the history with bench/datagen.py (COPY, T1–T4 mix, stage histories, audit chains) into
``orderhub_bench_b_history`` unless ``--reuse`` finds it loaded, then

- renders home, board (cold and shared poll), list (paged and filtered) and order pages through
  Django's test client as a signed-in planner (bench/pages.py's measurement, on T1's board);
- calls the KPI selectors of ``orderhub.orders.kpis`` (on-time delivery rate, processing time per
  stage, overdue counts by stage) with windows of 7, 30 and 90 days, all workflows and each one;
- rolls the KPI history up as the job does (``kpis.rollup``: past days, today up to a minute
  ago), then calls every figure of ``orderhub.kpis.selectors``, the rolled-up figures for one
  customer and for one customer and channel, and renders the five dashboard pages computed
  (the rollup's generation bumped before each request, so nothing is taken from the page cache)
  and kept (the same request again).

Figures: every request's time, judged on p95 (goal < 300 ms; the order page < 200 ms; a
dashboard page < 500 ms). The exact per-stage ``percentile_cont`` is timed for reference only
(no figure reads it once the rollup has run).
Result: bench/results/<date>-history.json.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import contract  # noqa: E402
import datagen  # noqa: E402
import pages  # noqa: E402

DB = datagen.DEFAULT_DB
GOAL_KPI_MS = 300.0
GOAL_PAGE_MS = 500.0   # a dashboard page (issue 17)


def log(msg: str) -> None:
    print(f"[history] {msg}", flush=True)


def loaded_orders(db: str) -> int | None:
    import psycopg

    try:
        with psycopg.connect(datagen.url_for(db), autocommit=True, connect_timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM orders_order").fetchone()[0]
    except psycopg.Error:
        return None


WINDOWS = (7, 30, 90)
FLOWS = (None, "T1", "T2", "T3", "T4")


def measure_kpis(requests: int, seed: int = 5) -> dict:
    from orderhub.core import clock
    from orderhub.orders import kpis

    calls = {
        "kpi on_time_delivery_rate": lambda d, wf: kpis.on_time_delivery_rate(
            since=clock.now() - timedelta(days=d), workflow=wf),
        "kpi overdue_by_stage": lambda d, wf: kpis.overdue_by_stage(workflow=wf),
    }
    out = time_calls(calls, requests, seed)
    # the exact path (percentile_cont over every stay): what a figure read before the rollup's
    # first run; for reference, fewer calls (seconds each at 1M orders)
    out.update(time_calls({EXACT: lambda d, wf: kpis.stage_processing_times(
        since=clock.now() - timedelta(days=d), workflow=wf)}, max(requests // 6, 3), seed))
    return out


EXACT = "kpi stage_processing_times (exact, reference: not served once rolled up)"


def measure_kpi_figures(requests: int, seed: int = 6) -> dict:
    """Every figure of the dashboards and /api/kpis (``orderhub.kpis.selectors``), as the page
    and the API call it: the period ending today, all workflows or one."""
    from django.utils import timezone

    from orderhub.kpis import selectors

    def call(fn):
        return lambda d, wf: fn(selectors.KpiFilter.build(
            start=timezone.localdate() - timedelta(days=d - 1), workflow=wf))

    return time_calls({f"kpi figure {code}": call(fn) for code, fn in selectors.FIGURES.items()},
                      requests, seed)


def measure_kpi_by_customer(requests: int, seed: int = 8) -> dict:
    """The figures the rollup serves, for one customer (the rollup's customer rows), a random
    customer per call; time per stage also for one customer and one of their channels."""
    from django.utils import timezone

    from orderhub.catalog.models import Customer
    from orderhub.kpis import selectors
    from orderhub.orders.models import Order

    rng = random.Random(seed)
    codes = list(Customer.objects.values_list("code", flat=True))
    channels = sorted(set(Order.objects.filter(status="open").values_list("channel", flat=True)[:2000]))

    def call(fn, channel=False):
        return lambda d, wf: fn(selectors.KpiFilter.build(
            start=timezone.localdate() - timedelta(days=d - 1), workflow=wf, customer=rng.choice(codes),
            channel=rng.choice(channels) if channel else None))

    calls = {f"kpi figure {code} (one customer)": call(selectors.FIGURES[code])
             for code in ("stage-times", "processing", "trend", "on-time", "portal")}
    calls["kpi figure stage-times (one customer, one channel)"] = call(selectors.FIGURES["stage-times"], True)
    return time_calls(calls, requests, seed)


def measure_dashboards(requests: int, seed: int = 7) -> dict:
    """The dashboard pages (/kpi/<audience>/) through Django's test client as an administrator
    (who sees KPIs): computed (the rollup's generation bumped first, as a rollup run does, so
    each audience's panels are read and rendered) and kept (the same request once more: the
    panels from the page cache, the filter form and tabs made anew)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from orderhub.kpis.rollup import bump_generation

    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(username="bench_admin"))

    def page(audience, fresh):
        def get(d, wf):
            q = {"start": (timezone.localdate() - timedelta(days=d - 1)).isoformat(), "workflow": wf or ""}
            if fresh:
                bump_generation()
            with CaptureQueriesContext(connection) as seen:
                r = client.get(f"/kpi/{audience}/", q)
            assert r.status_code == 200, r.status_code
            read = any("kpis_rolledday" in x["sql"] for x in seen.captured_queries)
            assert read == fresh, "computed or kept, as asked"
        return get

    audiences = ("boss", "operations", "planning", "sales", "purchasing")
    out = time_calls({f"kpi dashboard page {a} (computed)": page(a, True) for a in audiences}, requests, seed)
    # kept: each request made once (computed or already kept), then timed again (from the cache)
    rng = random.Random(seed)
    for a in audiences:
        times, queries = [], []
        for _i in range(requests):
            d, wf = rng.choice(WINDOWS), rng.choice(FLOWS)
            client.get(f"/kpi/{a}/", {"start": (timezone.localdate() - timedelta(days=d - 1)).isoformat(),
                                      "workflow": wf or ""})
            with CaptureQueriesContext(connection) as q:
                t = time.perf_counter()
                page(a, False)(d, wf)
                times.append((time.perf_counter() - t) * 1000)
            queries.append(len(q))
        name = f"kpi dashboard page {a} (kept)"
        out[name] = {"times_ms": [round(x, 2) for x in times], "p50_ms": round(contract.percentile(times, 50), 1),
                     "p95_ms": round(contract.percentile(times, 95), 1), "queries_max": max(queries)}
        log(f"{name:28s} p50 {out[name]['p50_ms']:7.1f} ms  p95 {out[name]['p95_ms']:7.1f} ms")
    return out


def rollup_history(exact: bool) -> dict:
    """The KPI rollup (``orderhub.kpis.rollup``) as the periodic job keeps it: the first run
    rolls up the whole history (timed), a second run only the last days again (timed), so the
    figures read the rollup plus today live. ``exact``: every day dropped from the rollup
    instead, so the figures are computed from the orders and stays (the exact path)."""
    from orderhub.kpis.models import CustomerStageDays, StageDurations
    from orderhub.kpis.rollup import TABLES, kpi_rollup_refresh

    for model in TABLES:
        model.objects.all().delete()
    if exact:
        log("exact path: no rollup")
        return {}
    t = time.perf_counter()
    days = kpi_rollup_refresh()
    first = time.perf_counter() - t
    t = time.perf_counter()
    again = kpi_rollup_refresh()
    later = time.perf_counter() - t
    from django.db import connection

    with connection.cursor() as cur:
        for model in TABLES:
            cur.execute(f"ANALYZE {model._meta.db_table}")
    rows, customer_rows = StageDurations.objects.count(), CustomerStageDays.objects.count()
    log(f"rollup: {days} days in {first:.1f} s ({rows:,} bucket rows, {customer_rows:,} customer rows), "
        f"a later run ({again} days and today) {later:.2f} s")
    kept = keep_coei()
    return {f"first run (the whole history, {days} days and today, {rows:,} stage rows, {customer_rows:,} "
            "customer stage rows)": round(first, 2),
            f"a later run ({again} days rolled up again, and today)": round(later, 2), **kept}


def keep_coei() -> dict:
    """The COEI scores kept as the periodic job ``portal.coei_refresh`` keeps them (newest
    first), for the orders of the longest window measured (90 days), timed; then a second run
    (nothing stale: the cost of a run when little changed)."""
    from django.db import connection

    from orderhub.core import clock
    from orderhub.portal.coei import refresh

    since = clock.now() - timedelta(days=max(WINDOWS))
    t = time.perf_counter()
    n = refresh(since=since, seconds=3600)
    first = time.perf_counter() - t
    t = time.perf_counter()
    again = refresh(since=since, seconds=3600)
    later = time.perf_counter() - t
    with connection.cursor() as cur:
        cur.execute("ANALYZE portal_coeiscore")
    log(f"coei: {n:,} orders scored and kept in {first:.1f} s, a second run ({again} stale) {later:.2f} s")
    return {f"COEI scores kept: first run ({n:,} orders of the last {max(WINDOWS)} days)": round(first, 2),
            f"COEI scores kept: a second run ({again} stale)": round(later, 2)}


def time_calls(calls: dict, requests: int, seed: int) -> dict:
    """Each call ``requests`` times with a random window (7/30/90 days) and workflow (all or
    one), after three warm-up calls: times, p50/p95, queries per call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rng = random.Random(seed)
    windows, flows = WINDOWS, FLOWS
    out = {}
    for name, fn in calls.items():
        for _ in range(3):
            fn(30, None)   # warm-up: plans, caches
        times, queries, sample = [], [], None
        for _i in range(requests):
            d, wf = rng.choice(windows), rng.choice(flows)
            with CaptureQueriesContext(connection) as q:
                t = time.perf_counter()
                res = fn(d, wf)
                times.append((time.perf_counter() - t) * 1000)
            queries.append(len(q))
            if wf is None and d == 30 and sample is None:
                sample = res
        out[name] = {"times_ms": [round(x, 2) for x in times],
                     "p50_ms": round(contract.percentile(times, 50), 1),
                     "p95_ms": round(contract.percentile(times, 95), 1),
                     "queries_max": max(queries), "sample_30d_all": _plain(sample)}
        log(f"{name:28s} p50 {out[name]['p50_ms']:7.1f} ms  p95 {out[name]['p95_ms']:7.1f} ms  "
            f"queries ≤ {out[name]['queries_max']}")
    return out


def explain(fn) -> str:
    """EXPLAIN ANALYZE of the one query ``fn`` runs, as one line of plan nodes with their
    actual time (ms, inclusive) and rows: where the time of a slow KPI goes."""
    import json

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as q:
        fn()
    sql = next(c["sql"] for c in reversed(q.captured_queries)   # the query, not SET/COMMIT
               if c["sql"].lstrip().upper().startswith(("SELECT", "WITH")))
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cur.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    parts: list[str] = []

    def walk(node, depth=0):
        label = node["Node Type"]
        for key in ("Index Name", "Relation Name"):
            if key in node:
                label += f" {node[key]}"
                break
        if node.get("Sort Method"):
            label += f" ({node['Sort Method']})"
        parts.append(f"{'>' * depth}{label} {node['Actual Total Time']:.0f} ms/{node['Actual Rows']} rows")
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan[0]["Plan"])
    return f"execution {plan[0]['Execution Time']:.0f} ms: " + "; ".join(parts)


def _plain(res):
    from dataclasses import asdict, is_dataclass

    if res is None:
        return None
    if isinstance(res, list):
        return [asdict(r) if is_dataclass(r) else r for r in res[:40]]
    if is_dataclass(res):
        return {**asdict(res), "rate": res.rate}
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders-history", type=int, default=1_000_000, help="orders to load")
    ap.add_argument("--reuse", action="store_true",
                    help="measure the loaded database as it is (load only when it is missing)")
    ap.add_argument("--requests", type=int, default=60, help="requests per page")
    ap.add_argument("--kpi-requests", type=int, default=30, help="calls per KPI selector")
    ap.add_argument("--jobs", type=int, default=2, help="loader processes (datagen)")
    ap.add_argument("--db", default=DB)
    ap.add_argument("--exact", action="store_true",
                    help="measure the KPI figures without the daily rollup (every figure exact)")
    ap.add_argument("--date", default=date.today().isoformat())
    ap.add_argument("--scenario", default="history",
                    help="the result's name: bench/results/<date>-<scenario>.json")
    ap.add_argument("--no-pages", action="store_true",
                    help="skip home, board, list and order pages (KPI figures and dashboards only)")
    args = ap.parse_args(argv)
    if not args.db.startswith("orderhub_bench_b"):
        raise SystemExit("--db must start with orderhub_bench_b")
    have = loaded_orders(args.db)
    load = None
    if args.reuse and have:
        log(f"reusing {args.db} with {have:,} orders")
        common.bootstrap(datagen.url_for(args.db))
        from django.core.management import call_command

        call_command("migrate", verbosity=0)   # a database loaded by an older checkout
    else:
        load = datagen.generate(args.orders_history, db=args.db, jobs=args.jobs)
        have = load["orders"]
        log(f"wrote {datagen.write_result(load, args.date)}")
    machine = common.machine_info()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    import psycopg

    with psycopg.connect(datagen.url_for(args.db), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        counts = dict(conn.execute("SELECT status, count(*) FROM orders_order GROUP BY 1").fetchall())
        stages = conn.execute("SELECT count(*) FROM orders_stageinstance").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM core_auditevent").fetchone()[0]
    log(f"measuring pages on {have:,} orders ({counts}), {stages:,} stage instances, "
        f"{events:,} audit events")
    roll = rollup_history(exact=args.exact)
    page_res = {} if args.no_pages else pages.measure(args.requests)
    kpi_res = measure_kpis(args.kpi_requests)
    kpi_res.update(measure_kpi_figures(args.kpi_requests))
    kpi_res.update(measure_kpi_by_customer(max(args.kpi_requests // 2, 5)))
    dash_res = measure_dashboards(max(args.kpi_requests // 3, 5))
    cond = (f"{have:,} orders ({counts.get('open', 0):,} open) from bench/datagen.py, "
            f"{stages:,} stage instances, {events:,} audit events; server-side render through "
            f"Django's test client ({args.requests} requests per page, {args.kpi_requests} calls "
            f"per KPI); load average at start {load_at_start}; {contract.SHARED_MACHINE}")
    figs = pages.page_figures(page_res, cond)
    for name, secs in roll.items():
        figs.append(contract.figure(f"kpi rollup: {name}", "s", [secs], conditions=cond, p99=False))
    for name, k in kpi_res.items():
        goal = None if name == EXACT else GOAL_KPI_MS
        figs.append(contract.figure(f"{name}: time per call (7/30/90-day windows, all or one "
                                    "workflow)", "ms", k["times_ms"],
                                    goal=f"p95 < {GOAL_KPI_MS:.0f} ms" if goal else None,
                                    goal_value=goal, judged_on="p95", conditions=cond,
                                    p50=k["p50_ms"], queries_max=k["queries_max"]))
    for name, k in dash_res.items():
        figs.append(contract.figure(f"{name}: time per request (7/30/90-day periods, all or one "
                                    "workflow)", "ms", k["times_ms"], goal=f"p95 < {GOAL_PAGE_MS:.0f} ms",
                                    goal_value=GOAL_PAGE_MS, judged_on="p95", conditions=cond,
                                    p50=k["p50_ms"], queries_max=k["queries_max"]))
    notes = []
    if load:
        figs.append(contract.figure("history load (datagen) wall time", "s", [load["total_s"]],
                                    conditions=f"{load['orders']:,} orders, {load['jobs']} loader "
                                    f"processes; {contract.SHARED_MACHINE}", p99=False))
        notes.append(f"Load: {load['orders']:,} orders, {load['lines']:,} lines, "
                     f"{load['stage_instances']:,} stage instances, {load['audit_events']:,} audit "
                     f"events in {load['total_s']} s (COPY {load['copy_s']} s, indexes "
                     f"{load['indexes_s']} s, VACUUM ANALYZE {load['vacuum_analyze_s']} s); "
                     f"{load['db_size_mb']:,} MB; audit sample: "
                     f"{load['audit_sample']['events_checked']} events, "
                     f"{len(load['audit_sample']['breaks'])} breaks.")
    from orderhub.core import clock
    from orderhub.orders import kpis

    for f in figs:
        if f["verdict"] == "MISS" and f["name"].startswith("kpi "):
            fn = {"on_time": kpis.on_time_delivery_rate, "stage_pr": kpis.stage_processing_times}
            key = f["name"][4:12]
            if key in fn:
                plan = explain(lambda fn=fn[key]: fn(since=clock.now() - timedelta(days=30)))
                notes.append(f"Where the time of {f['name'].split(':')[0]} goes (30-day window, "
                             f"all workflows, EXPLAIN ANALYZE; '>' = child node): {plan}")
    slow = [f for f in figs if f["verdict"] == "MISS"]
    if slow:
        notes.append("Missed: " + ", ".join(f"{f['name']} (p95 {f.get('p95')} ms, +{f['miss_by_pct']}%)"
                                            for f in slow))
    path = contract.write_result(
        args.scenario, figs, notes=notes, day=args.date,
        machine={"django": machine["django"], "postgresql": machine["postgresql"]},
        detail={"loadavg_at_start": load_at_start, "orders": have, "status_counts": counts, "stage_instances": stages,
                "audit_events": events, "load": load,
                "pages": {k: {kk: vv for kk, vv in v.items() if kk != "times_ms"}
                          for k, v in page_res.items()},
                "kpis": {k: {kk: vv for kk, vv in v.items() if kk != "times_ms"}
                         for k, v in kpi_res.items()},
                "dashboards": {k: {kk: vv for kk, vv in v.items() if kk not in ("times_ms", "sample_30d_all")}
                               for k, v in dash_res.items()}})
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

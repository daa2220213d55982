"""OrderHub benchmark: order intake through the services and the HTTP API, large orders,
queries per order, and PostgreSQL's own single-client commit rate for comparison.

    .venv/bin/python bench/run.py                      # everything (< 10 min on 2 cores)
    .venv/bin/python bench/run.py --scenario queries
    .venv/bin/python bench/run.py --scenario intake-services --workers 1,2 --orders 1000

Every run drops and recreates the database ``orderhub_bench_b``, migrates and seeds it, then
measures. Results: bench/results/<date>-<scenario>.json and <date>-summary.md (see README.md).
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import itertools
import json
import multiprocessing as mp
import os
import pstats
import queue as queue_mod
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path

import common
import contract
import report
import workers

SCENARIOS = ["intake-services", "intake-http", "large-order", "queries", "pgbench"]
LINE_COUNTS = (1, 10, 100, 1000)
LARGE_LINES = 1000

GOAL_SERVICES = 500.0     # (a) orders/s through order_create, any number of processes
GOAL_HTTP = 200.0         # (b) orders/s through POST /api/orders on gunicorn
GOAL_COMMITS = 3.0        # (c) one order costs at most three bare single-client commits
GOAL_LARGE_S = 1.0        # (d) 1,000-line order: guards + reservation in < 1 s


_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", flush=True)


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def rnd(x, digits=2):
    return None if x is None else round(x, digits)


# --------------------------------------------------------------------------- goals


def goal_min(gid: str, figure: str, goal: float, measured: float | None, unit: str) -> dict:
    ok = measured is not None and measured >= goal
    short = None if ok or measured is None else round((goal - measured) / goal * 100, 1)
    return {"id": gid, "figure": figure, "goal": f">= {goal:g} {unit}", "goal_value": goal,
            "measured": rnd(measured), "unit": unit, "pass": ok, "shortfall_pct": short}


def goal_max(gid: str, figure: str, goal: float, measured: float | None, unit: str) -> dict:
    ok = measured is not None and measured < goal
    over = None if ok or measured is None else round((measured - goal) / goal * 100, 1)
    return {"id": gid, "figure": figure, "goal": f"< {goal:g} {unit}", "goal_value": goal,
            "measured": rnd(measured, 4), "unit": unit, "pass": ok, "shortfall_pct": over}


def info(figure: str, measured, unit: str = "") -> dict:
    return {"id": "", "figure": figure, "goal": "(info)", "measured": measured, "unit": unit,
            "pass": None, "shortfall_pct": None}


# --------------------------------------------------------------------------- pgbench


def _pgbench(script: Path, clients: int, seconds: int) -> dict:
    cmd = ["pgbench", "-h", common.PG_HOST, "-p", str(common.PG_PORT), "-U", common.PG_USER,
           "-n", "-c", str(clients), "-j", str(clients), "-T", str(seconds), "-f", str(script),
           common.DB_NAME]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    return {"tps": tps, "latency_ms": float(lat.group(1)) if lat else None,
            "command": " ".join(cmd)}


def _psycopg_floor(n: int = 3000) -> dict:
    """The same single-row INSERT with autocommit from Python/psycopg, and a bare SELECT 1:
    the floor a Python process pays per statement before any ORM or domain code."""
    import psycopg

    with psycopg.connect(host=common.PG_HOST, user=common.PG_USER, dbname=common.DB_NAME,
                         autocommit=True) as conn:
        for _ in range(200):
            conn.execute("SELECT 1")
        t = time.perf_counter()
        for _ in range(n):
            conn.execute("SELECT 1")
        select1 = (time.perf_counter() - t) / n
        t = time.perf_counter()
        for _ in range(n):
            conn.execute("INSERT INTO bench_scratch (v) VALUES (1)")
        insert = (time.perf_counter() - t) / n
    return {"select1_roundtrip_ms": rnd(select1 * 1000, 4),
            "insert_commit_ms": rnd(insert * 1000, 4),
            "insert_commit_per_s": rnd(1 / insert, 1)}


def run_pgbench(args) -> dict:
    import psycopg

    with psycopg.connect(host=common.PG_HOST, user=common.PG_USER, dbname=common.DB_NAME,
                         autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_scratch (id bigserial PRIMARY KEY, "
                     "v integer NOT NULL, at timestamptz NOT NULL DEFAULT now())")
    script = common.TMP_DIR / "pgbench_insert.sql"
    script.write_text("INSERT INTO bench_scratch (v) VALUES (1);\n")
    runs = []
    for i in range(args.repeat):
        r = _pgbench(script, 1, args.pgbench_seconds)
        log(f"pgbench -c 1 run {i + 1}/{args.repeat}: {r['tps']:.0f} tps")
        runs.append(r)
    tps = [r["tps"] for r in runs]
    two = _pgbench(script, 2, max(3, args.pgbench_seconds // 2))
    log(f"pgbench -c 2: {two['tps']:.0f} tps (context)")
    floor = _psycopg_floor()
    log(f"psycopg floor: SELECT 1 {floor['select1_roundtrip_ms']} ms, "
        f"INSERT+commit {floor['insert_commit_ms']} ms")
    return {
        "script": script.read_text().strip(),
        "command": runs[0]["command"],
        "single_client_tps": {"runs": [rnd(x, 1) for x in tps], "median": rnd(statistics.median(tps), 1),
                              "min": rnd(min(tps), 1), "max": rnd(max(tps), 1)},
        "single_client_latency_ms": statistics.median(r["latency_ms"] for r in runs),
        "two_clients_tps": rnd(two["tps"], 1),
        "python_psycopg": floor,
    }


# --------------------------------------------------------------------------- service workers


def _collect(q, expected: int, timeout: float) -> list[dict]:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < expected:
        try:
            msg = q.get(timeout=max(1.0, deadline - time.monotonic()))
        except queue_mod.Empty:
            raise RuntimeError(f"timed out waiting for {expected - len(out)} worker results") from None
        if "fatal" in msg:
            raise RuntimeError(f"worker failed:\n{msg['fatal']}")
        out.append(msg)
    return out


def _await_warm(barrier, q, who: str) -> None:
    try:
        barrier.wait(timeout=600)  # all warmed up
    except threading.BrokenBarrierError:
        raise RuntimeError(f"{who} failed while warming up:\n{_fatal_from(q)}") from None


def _start_repeat(barrier, q, args, who: str) -> dict:
    """Settle the database and the machine, then release every process at once."""
    vacuum_s = common.vacuum_analyze() if args.vacuum else None
    quiet = common.wait_for_quiet(args.wait_idle) if args.wait_idle else {}
    quiet["vacuum_analyze_s"] = rnd(vacuum_s, 2)
    try:
        barrier.wait(timeout=300 + args.wait_idle)
    except threading.BrokenBarrierError:
        raise RuntimeError(f"{who} failed before the start:\n{_fatal_from(q)}") from None
    return quiet


def _fatal_from(q) -> str:
    try:
        while True:
            msg = q.get(timeout=2)
            if "fatal" in msg:
                return msg["fatal"]
    except queue_mod.Empty:
        return "(no message)"


def _aggregate(results: list[dict], unit_key: str = "ok") -> dict:
    span = max(r["t1"] for r in results) - min(r["t0"] for r in results)
    done = sum(r[unit_key] for r in results)
    lat = [x for r in results for x in r["lat"]]
    return {"orders_ok": done, "span_s": rnd(span, 3), "rate": done / span if span else 0.0,
            "lat": lat}


def run_service_throughput(args, mode: str, nworkers: int, repeat: int, orders: int) -> dict:
    """``nworkers`` spawned processes, each ``orders`` orders per repeat after a warm-up."""
    ctx = mp.get_context("spawn")
    cfg = common.Config(database_url=common.DATABASE_URL, lines=args.lines, orders=orders, warmup=args.warmup,
                        repeat=repeat,
                        seed=args.seed * 100 + nworkers + {"create": 0, "full": 30, "batch": 60}[mode],
                        batch=args.batch_size)
    barrier = ctx.Barrier(nworkers + 1)
    q = ctx.Queue()
    procs = [ctx.Process(target=workers.service_worker, args=(cfg, w, mode, barrier, q),
                         name=f"bench-{mode}-{w}") for w in range(nworkers)]
    for p in procs:
        p.start()
    reps = []
    lat_all: list[float] = []
    errors: list[str] = []
    error_count = 0
    try:
        _await_warm(barrier, q, "worker")
        for rep in range(repeat):
            quiet = _start_repeat(barrier, q, args, "worker")
            with common.CpuMeter() as cpu:
                res = _collect(q, nworkers, timeout=900)
            agg = _aggregate(res)
            error_count += sum(r["error_count"] for r in res)
            errors += [e for r in res for e in r["errors"]]
            lat_all += agg.pop("lat")
            per_worker = [r["ok"] / (r["t1"] - r["t0"]) for r in res]
            reps.append({"rate": rnd(agg["rate"]), "span_s": agg["span_s"],
                         "orders_ok": agg["orders_ok"],
                         "per_worker_rate": [rnd(x) for x in per_worker],
                         "worker_cpu_ms_per_order": rnd(sum(r["cpu_s"] for r in res)
                                                        / max(1, agg["orders_ok"]) * 1000, 3),
                         "postgres_cpu_ms_per_order": rnd(cpu.pg_s / max(1, agg["orders_ok"])
                                                          * 1000, 3),
                         "machine_busy_pct": rnd(cpu.busy_pct, 1),
                         "steal_pct": rnd(cpu.steal_pct, 1),
                         # busy CPU not used by the workers or PostgreSQL: kernel (WAL
                         # writeback), the parent, and anything else running on the machine
                         "other_busy_pct": rnd((cpu.busy_s - sum(r["cpu_s"] for r in res) - cpu.pg_s)
                                               / cpu.total_s * 100 if cpu.total_s else None, 1),
                         "postgres_other_sessions_cpu_pct": rnd(cpu.pg_other_s / cpu.total_s * 100
                                                                if cpu.total_s else None, 1),
                         "quiet_check": quiet,
                         "errors": sum(r["error_count"] for r in res)})
            log(f"  {mode:6s} workers={nworkers} rep {rep + 1}/{repeat}: {agg['rate']:.1f} orders/s "
                f"({agg['orders_ok']} in {agg['span_s']} s, errors {reps[-1]['errors']}; CPU/order: "
                f"worker {reps[-1]['worker_cpu_ms_per_order']} ms, PostgreSQL "
                f"{reps[-1]['postgres_cpu_ms_per_order']} ms; machine busy "
                f"{reps[-1]['machine_busy_pct']}%, other {reps[-1]['other_busy_pct']}%, steal "
                f"{reps[-1]['steal_pct']}%)")
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
                p.join(5)
    rates = [r["rate"] for r in reps]
    lat_ms = [x * 1000 for x in lat_all]
    return {"mode": mode, "workers": nworkers, "orders_per_worker": orders, "repeats": reps,
            "rate_median": rnd(statistics.median(rates)), "rate_min": min(rates),
            "rate_max": max(rates),
            "latency_ms": {k: rnd(v, 3) for k, v in common.summary(lat_ms).items()},
            "errors": error_count, "error_samples": errors[:5]}


# --------------------------------------------------------------------------- profile


CATEGORIES = [
    ("psycopg driver + waiting for PostgreSQL", ("psycopg",)),
    ("Django ORM (query compile, model init, save)", ("/django/db/models/",)),
    ("Django DB backend + transactions", ("/django/db/",)),
    ("Django other", ("/django/",)),
    ("JSON encode/decode (canonical_json, to_plain)", ("/json/", "_json")),
    ("SHA-256 hashing", ("hashlib",)),
    ("dataclasses.asdict (OrderInput.normalized)", ("dataclasses",)),
    ("business calendar (deadlines)", ("orderhub/core/calendar", "holidays")),
    ("rule-engine expressions", ("rule_engine",)),
    ("OrderHub own code", ("/orderhub/",)),
]


def _category(func: tuple) -> str:
    filename, _, name = func
    text = filename if filename != "~" else name
    for label, needles in CATEGORIES:
        if any(n in text for n in needles):
            return label
    return "stdlib / builtins / other"


def _sql_timer(connection):
    """execute_wrapper + patched _commit: wall time spent in statements and commits."""
    stats = {"queries": 0, "query_s": 0.0, "commits": 0, "commit_s": 0.0, "by_kind": {}}

    def wrapper(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            dt = time.perf_counter() - t
            stats["queries"] += 1
            stats["query_s"] += dt
            kind = " ".join(sql.split()[:3])[:60] if not sql.startswith("SELECT") else \
                "SELECT FROM " + (re.search(r'FROM "(\w+)"', sql) or [None, "?"])[1]
            if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
                kind = sql.rsplit(" ", 1)[0]
            if sql.startswith(("INSERT", "UPDATE")):
                kind = " ".join(sql.split()[:3]).replace('"', "")
            k = stats["by_kind"].setdefault(kind, [0, 0.0])
            k[0] += 1
            k[1] += dt

    original = connection._commit

    def timed_commit():
        t = time.perf_counter()
        try:
            return original()
        finally:
            stats["commits"] += 1
            stats["commit_s"] += time.perf_counter() - t

    return stats, wrapper, original, timed_commit


WATCH = {
    "order_create": "services.py", "_build": "services.py", "_create": "services.py",
    "_prepare": "services.py", "fetch": "services.py", "_append_created": "services.py",
    "_enter": "services.py", "_due_at": "services.py", "_snapshot": "services.py",
    "_append": "services.py", "_order_number": "services.py", "_lock": "services.py",
    "_lines": "services.py", "_run_actions": "services.py", "order_transition": "services.py",
    "evaluate_guards": "services.py", "kitting_problems": "kitting.py",
    "bom_requirements": "kitting.py", "stock_reserve": "services.py",
    "canonical_json": "canonical.py", "to_plain": "canonical.py", "sha256_hex": "canonical.py",
    "normalized": "inputs.py", "build_event": "audit.py", "add_business_hours": "calendar.py",
    "get_business_calendar": "calendar_config.py", "products_by_sku": "selectors.py",
    "preallocated_id": "numbering.py", "has_perm": "actors.py", "for_user": "actors.py",
    "token_authenticate": "tokens.py", "authenticate": "auth.py", "create_order": "api.py",
    "order_detail": "selectors.py", "order_dict": "selectors.py",
}


def _split(label: str, fn, inputs: list) -> dict:
    """Run ``fn`` over ``inputs`` without a profiler, timing statements and commits."""
    from django.db import connection

    count = len(inputs)
    stats, wrapper, original, timed_commit = _sql_timer(connection)
    connection._commit = timed_commit
    try:
        with connection.execute_wrapper(wrapper):
            c0 = time.process_time()
            t = time.perf_counter()
            for inp in inputs:
                fn(inp)
            total = time.perf_counter() - t
            cpu = time.process_time() - c0
    finally:
        connection._commit = original
    sql = stats["query_s"] + stats["commit_s"]
    kinds = sorted(stats["by_kind"].items(), key=lambda kv: -kv[1][1])
    return {
        "path": label, "orders": count, "ms_per_order": rnd(total / count * 1000, 3),
        "orders_per_s": rnd(count / total, 1),
        "process_cpu_ms_per_order": rnd(cpu / count * 1000, 3),
        "statements_per_order": rnd(stats["queries"] / count, 2),
        "commits_per_order": rnd(stats["commits"] / count, 2),
        "sql_ms_per_order": rnd(stats["query_s"] / count * 1000, 3),
        "commit_ms_per_order": rnd(stats["commit_s"] / count * 1000, 3),
        "python_ms_per_order": rnd((total - sql) / count * 1000, 3),
        "sql_share_pct": rnd(sql / total * 100, 1),
        "by_statement": [{"kind": k, "per_order": rnd(c / count, 2),
                          "ms_per_order": rnd(v / count * 1000, 3)} for k, (c, v) in kinds],
    }


def _split_text(s: dict) -> str:
    out = [f"{s['path']}: {s['ms_per_order']} ms/order ({s['orders_per_s']} orders/s), process CPU "
           f"{s['process_cpu_ms_per_order']} ms; {s['statements_per_order']} statements + "
           f"{s['commits_per_order']} commits per order; waiting on SQL {s['sql_ms_per_order']} ms "
           f"+ COMMIT {s['commit_ms_per_order']} ms = {s['sql_share_pct']}% of wall; everything "
           f"else (Python) {s['python_ms_per_order']} ms"]
    for k in s["by_statement"]:
        out.append(f"    {k['per_order']:>6} x  {k['ms_per_order']:>7} ms  {k['kind']}")
    return "\n".join(out) + "\n"


def _cprofile(fn, inputs: list, top: int) -> tuple[dict, str]:
    n = len(inputs)
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    for inp in inputs:
        fn(inp)
    prof.disable()
    profiled_total = time.perf_counter() - t
    st = pstats.Stats(prof)
    cats: dict[str, float] = {}
    total_tt = 0.0
    selected = []
    for func, (_cc, nc, tt, ct, _callers) in st.stats.items():
        cats[_category(func)] = cats.get(_category(func), 0.0) + tt
        total_tt += tt
        filename, _line, name = func
        want = WATCH.get(name)
        if want and filename.endswith(want) and "/orderhub/" in filename:
            selected.append({"function": f"{Path(filename).parent.name}/{Path(filename).name}:{name}",
                             "calls_per_order": rnd(nc / n, 2),
                             "cum_ms_per_order": rnd(ct / n * 1000, 3)})
    selected.sort(key=lambda r: -r["cum_ms_per_order"])
    categories = [{"category": c, "ms_per_order": rnd(v / n * 1000, 3),
                   "share_pct": rnd(v / total_tt * 100, 1)}
                  for c, v in sorted(cats.items(), key=lambda kv: -kv[1])]
    buf = io.StringIO()
    buf.write(f"Under cProfile: {profiled_total / n * 1000:.3f} ms/order (the profiler inflates "
              "Python-heavy parts; use the split above for absolute numbers)\n")
    buf.write("Exclusive (tottime) time by category:\n")
    for c in categories:
        buf.write(f"  {c['share_pct']:>5}%  {c['ms_per_order']:>7} ms/order  {c['category']}\n")
    buf.write("\nOrderHub functions (cumulative, per order):\n")
    for r in selected:
        buf.write(f"  {r['cum_ms_per_order']:>7} ms  {r['calls_per_order']:>6} calls  {r['function']}\n")
    buf.write("\n== Top cumulative entries ==\n")
    st.stream = buf
    st.sort_stats("cumulative").print_stats(top)
    buf.write("\n== Top exclusive (tottime) entries ==\n")
    st.sort_stats("tottime").print_stats(25)
    info_ = {"profiled_ms_per_order": rnd(profiled_total / n * 1000, 3), "categories": categories,
             "selected": selected}
    return info_, buf.getvalue().replace(str(common.ROOT) + "/", "")


def run_profile(args, date_str: str) -> dict:
    """One process: wall split (SQL vs Python, no profiler) and cProfile of the create path
    (results/<date>-profile-create.txt), the full path (-profile-full.txt), its two moves alone
    (-profile-moves.txt: orders made before the timing) and
    POST /api/orders through Django's WSGI handler in-process (-profile-http.txt)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from orderhub.core.tokens import token_create
    from orderhub.orders.services import order_create, order_transition

    acts = common.actors()
    factory = common.InputFactory(seed=args.seed * 7919, lines=args.lines, tag="profile")
    n = args.profile_orders
    nfull = max(50, n // 3)
    _tok, raw = token_create(user=get_user_model().objects.get(username="bench_sales"),
                             name="bench-profile")
    client = Client()
    auth = {"Authorization": f"Bearer {raw}"}

    def create(inp):
        order_create(data=inp, actor=acts["sales"])

    def full(inp):
        workers._full(order_create, order_transition, inp, acts)

    def moves(number):
        for to, who in (("scheduled", "service"), ("materials_ready", "planner")):
            r = order_transition(order=number, to=to, actor=acts[who])
            if not r.ok:
                raise RuntimeError(f"→{to} blocked: {r.reasons}")

    def created(k):   # made before the timing starts: only the moves are measured
        return [order_create(data=factory.order_input(), actor=acts["sales"]).order.number for _ in range(k)]

    def post(body):
        r = client.post("/api/orders", data=body, content_type="application/json", headers=auth)
        if r.status_code != 201:
            raise RuntimeError(f"POST /api/orders → {r.status_code}: {r.content[:300]!r}")

    paths = [
        ("create", "orderhub.orders.services.order_create", create,
         lambda k: [factory.order_input() for _ in range(k)], n),
        ("full", "create + pending→scheduled + scheduled→materials_ready (reserve)", full,
         lambda k: [factory.order_input() for _ in range(k)], nfull),
        ("moves", "the two moves of the full path, one order at a time (per order: pending→scheduled "
                  "+ scheduled→materials_ready; halve for one move)", moves, created, nfull),
        ("http", "POST /api/orders via django.test.Client (WSGI handler, middleware, ninja, "
                 "bearer auth, response) in-process, no network", post,
         lambda k: [json.dumps(factory.payload()) for _ in range(k)], n),
    ]
    out = {"orders": n, "files": {}, "unprofiled_split": [], "profiles": {}}
    for name, title, fn, make, count in paths:
        for inp in make(args.warmup):
            fn(inp)
        sp = _split(name, fn, make(count))
        out["unprofiled_split"].append(sp)
        log(f"profile {name}: {sp['ms_per_order']} ms/order, SQL {sp['sql_ms_per_order']} + commit "
            f"{sp['commit_ms_per_order']} ms, Python {sp['python_ms_per_order']} ms, "
            f"{sp['statements_per_order']} statements")
        prof, text = _cprofile(fn, make(count), args.profile_top)
        out["profiles"][name] = prof
        head = (f"OrderHub bench: profile of {title}\n"
                f"date {date_str}; {count} orders of {args.lines} lines, one process, after a "
                f"warm-up of {args.warmup}; commit {common.machine_info()['git_commit']}\n\n"
                "== Without profiler (execute_wrapper + timed commit) ==\n")
        path = common.RESULTS_DIR / f"{date_str}-profile-{name}.txt"
        path.write_text(head + _split_text(sp) + "\n" + text)
        out["files"][name] = str(path.relative_to(common.ROOT))
    log("profiles written: " + ", ".join(out["files"].values()))
    return out


def scenario_intake_services(args, pg: dict | None, date_str: str) -> dict:
    runs = {"create": [], "full": []}
    runs["batch"] = []
    for mode in ("create", "full", "batch"):
        repeat = args.full_repeat if mode == "full" else args.repeat
        for nw in {"create": args.workers, "full": args.full_workers,
                   "batch": args.batch_workers}[mode]:
            # a batch repeat of --orders would last a fifth of a second: too short to measure
            orders = args.batch_orders if mode == "batch" else args.orders
            log(f"intake-services: {mode}, {nw} worker(s), {orders} orders each x {repeat}")
            runs[mode].append(run_service_throughput(args, mode, nw, repeat, orders))
    if args.profile and args.vacuum:
        common.vacuum_analyze()
    profile = run_profile(args, date_str) if args.profile else None

    def best(mode):
        return max(runs[mode], key=lambda r: r["rate_median"])

    def single(mode):
        return next((r for r in runs[mode] if r["workers"] == 1), None)

    goals = [goal_min("a", "orders/s via order_create, best of "
                      f"{','.join(map(str, args.workers))} processes (workers={best('create')['workers']})",
                      GOAL_SERVICES, best("create")["rate_median"], "orders/s")]
    one = single("batch") or single("create")
    if pg and one:
        tps = pg["single_client_tps"]["median"]
        need = tps / GOAL_COMMITS
        path = (f"order_create_batch ({args.batch_size}/transaction)" if one["mode"] == "batch"
                else "order_create")
        g = goal_min("c", f"1 worker {path} vs pgbench single-client commit rate "
                          f"({tps:.0f} tps / 3)", need, one["rate_median"], "orders/s")
        g["bare_commits_per_order"] = rnd(tps / one["rate_median"], 2)
        g["goal"] = f">= {need:.0f} orders/s (<= 3 commits/order)"
        goals.append(g)
    infos = []
    for mode, label in (("create", "create"), ("full", "full path (create+schedule+reserve)")):
        for r in runs[mode]:
            infos.append(info(f"{label}, {r['workers']} worker(s): median orders/s (min–max) "
                              f"[p50/p99 latency ms]",
                              f"{r['rate_median']} ({r['rate_min']}–{r['rate_max']}) "
                              f"[{r['latency_ms'].get('median')}/{r['latency_ms'].get('p99')}]",
                              "orders/s"))
    for r in runs["batch"]:
        extra = ""
        if pg and r["workers"] == 1:
            extra = f" (= {pg['single_client_tps']['median'] / r['rate_median']:.2f} bare commits/order)"
        infos.append(info(f"batch intake order_create_batch ({args.batch_size} orders/transaction), "
                          f"{r['workers']} worker(s): median orders/s [p50/p99 ms per batch]",
                          f"{r['rate_median']}{extra} [{r['latency_ms'].get('median')}/"
                          f"{r['latency_ms'].get('p99')}]", "orders/s"))
    return {"runs": runs, "profile": profile, "pgbench": pg, "goals": goals, "info": infos}


# --------------------------------------------------------------------------- HTTP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, token: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def start_gunicorn(nworkers: int, threads: int, token: str):
    port = _free_port()
    logfile = common.TMP_DIR / f"gunicorn-w{nworkers}-t{threads}.log"
    cmd = [sys.executable, "-m", "gunicorn", "orderhub.wsgi:application",
           "--bind", f"127.0.0.1:{port}", "--workers", str(nworkers), "--threads", str(threads),
           "--timeout", "120", "--graceful-timeout", "10", "--log-level", "warning",
           "--error-logfile", str(logfile)]
    env = {**os.environ, **common.environ(common.DATABASE_URL)}
    proc = subprocess.Popen(cmd, cwd=common.ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}); see {logfile}")
        try:
            if _get(port, "/api/orders?page_size=1", token) == 200:
                return proc, port, cmd
        except OSError:
            pass
        time.sleep(0.2)
    stop_gunicorn(proc)
    raise RuntimeError(f"gunicorn did not become ready; see {logfile}")


def stop_gunicorn(proc) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # graceful shutdown of the master we started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


_CLIENT_SEQ = itertools.count(1)  # every client gets its own seed, so external_refs never repeat


def run_http_load(args, port: int, token: str, clients: int, repeat: int, server_pid: int) -> dict:
    ctx = mp.get_context("spawn")
    per_client = max(1, args.http_requests // clients)
    barrier = ctx.Barrier(clients + 1)
    q = ctx.Queue()
    procs = [ctx.Process(target=workers.http_client,
                         args=("127.0.0.1", port, token, args.seed * 1_000_000 + next(_CLIENT_SEQ),
                               args.lines, per_client, args.http_warmup, repeat, barrier, q),
                         name=f"bench-http-{c}") for c in range(clients)]
    for p in procs:
        p.start()
    reps = []
    lat_all: list[float] = []
    statuses_all: dict[str, int] = {}
    errors: list[str] = []
    try:
        _await_warm(barrier, q, "client")
        for rep in range(repeat):
            quiet = _start_repeat(barrier, q, args, "client")
            with common.CpuMeter(tree_root=server_pid) as cpu:
                res = _collect(q, clients, timeout=900)
            span = max(r["t1"] for r in res) - min(r["t0"] for r in res)
            statuses: dict[str, int] = {}
            for r in res:
                for k, v in r["statuses"].items():
                    statuses[k] = statuses.get(k, 0) + v
                    statuses_all[k] = statuses_all.get(k, 0) + v
                errors += r["errors"]
                lat_all += r["lat"]
            created = statuses.get("201", 0)
            sent = sum(statuses.values())
            reps.append({"rate": rnd(created / span), "span_s": rnd(span, 3), "sent": sent,
                         "created_201": created, "non_201": sent - created, "statuses": statuses,
                         "gunicorn_cpu_ms_per_order": rnd(cpu.tree_s / max(1, created) * 1000, 3),
                         "postgres_cpu_ms_per_order": rnd(cpu.pg_s / max(1, created) * 1000, 3),
                         "client_cpu_ms_per_order": rnd(sum(r["cpu_s"] for r in res)
                                                        / max(1, created) * 1000, 3),
                         "machine_busy_pct": rnd(cpu.busy_pct, 1),
                         "steal_pct": rnd(cpu.steal_pct, 1),
                         "other_busy_pct": rnd((cpu.busy_s - sum(r["cpu_s"] for r in res) - cpu.pg_s
                                                - cpu.tree_s) / cpu.total_s * 100
                                               if cpu.total_s else None, 1),
                         "quiet_check": quiet,
                         "connects": sum(r["connects"] for r in res),
                         "server_closed": sum(r["server_closed"] for r in res)})
            log(f"    clients={clients} rep {rep + 1}/{repeat}: {created / span:.1f} orders/s "
                f"(201: {created}/{sent}, statuses {statuses}, connects {reps[-1]['connects']}; CPU/order: "
                f"gunicorn {reps[-1]['gunicorn_cpu_ms_per_order']} ms, PostgreSQL "
                f"{reps[-1]['postgres_cpu_ms_per_order']} ms, clients "
                f"{reps[-1]['client_cpu_ms_per_order']} ms; busy {reps[-1]['machine_busy_pct']}%, other "
                f"{reps[-1]['other_busy_pct']}%, steal {reps[-1]['steal_pct']}%)")
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
                p.join(5)
    rates = [r["rate"] for r in reps]
    lat_ms = [x * 1000 for x in lat_all]
    return {"clients": clients, "requests_per_client": per_client, "repeats": reps,
            "rate_median": rnd(statistics.median(rates)), "rate_min": min(rates),
            "rate_max": max(rates),
            "latency_ms": {k: rnd(v, 3) for k, v in common.summary(lat_ms).items()},
            "statuses": statuses_all, "error_samples": errors[:5],
            "non_201_samples": [b for r in res for b in r["non_201_samples"]][:5],
            "keep_alive_honoured": all(r["server_closed"] == 0 for r in reps)}


def celery_app_exists() -> bool:
    import importlib.util

    return importlib.util.find_spec("orderhub.celery") is not None


def start_celery():
    """A Celery worker (solo pool) during the HTTP load, if the project has one."""
    if not celery_app_exists():
        return None
    logfile = common.TMP_DIR / "celery.log"
    cmd = [sys.executable, "-m", "celery", "-A", "orderhub.celery", "worker", "--pool", "solo",
           "--loglevel", "WARNING", "--logfile", str(logfile)]
    env = {**os.environ, **common.environ(common.DATABASE_URL)}
    return subprocess.Popen(cmd, cwd=common.ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def celery_peak_rss(proc) -> list[float] | None:
    if proc is None or proc.poll() is not None:
        return None
    pids = [proc.pid, *common.children(proc.pid)]
    return [rnd(x, 1) for x in (common.peak_rss_mb(p) for p in pids) if x]


def stop_celery(proc) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def scenario_intake_http(args) -> dict:
    from django.contrib.auth import get_user_model

    from orderhub.core.tokens import token_create

    user = get_user_model().objects.get(username="bench_sales")
    _token, raw = token_create(user=user, name=f"bench-{int(time.time())}")
    configs = []
    for nw in args.http_workers:
        proc, port, cmd = start_gunicorn(nw, 1, raw)
        log(f"intake-http: gunicorn --workers {nw} --threads 1 on 127.0.0.1:{port} (pid {proc.pid})")
        celery = start_celery()
        try:
            loads = [run_http_load(args, port, raw, c, args.repeat, proc.pid) for c in args.clients]
            # peak RSS (VmHWM) of every web worker over all the loads of this configuration
            rss = [common.peak_rss_mb(pid) for pid in common.children(proc.pid)]
            celery_rss = celery_peak_rss(celery)
        finally:
            stop_gunicorn(proc)
            stop_celery(celery)
        configs.append({"gunicorn_workers": nw, "threads": 1, "worker_class": "sync",
                        "command": " ".join(cmd[1:]).replace(str(common.ROOT) + "/", ""),
                        "loads": loads, "worker_peak_rss_mb": [rnd(x, 1) for x in rss if x],
                        "master_peak_rss_mb": rnd(common.peak_rss_mb(proc.pid), 1),
                        "celery_peak_rss_mb": celery_rss})
        log(f"intake-http: gunicorn worker peak RSS {configs[-1]['worker_peak_rss_mb']} MB")
    best = max(((c, ld) for c in configs for ld in c["loads"]), key=lambda cl: cl[1]["rate_median"])
    goals = [goal_min("b", f"orders/s via POST /api/orders on gunicorn (best: --workers "
                           f"{best[0]['gunicorn_workers']}, {best[1]['clients']} clients)",
                      GOAL_HTTP, best[1]["rate_median"], "orders/s")]
    infos = [info(f"HTTP gunicorn --workers {c['gunicorn_workers']}, {ld['clients']} clients: "
                  "median orders/s (min–max) [p50/p99 latency ms]",
                  f"{ld['rate_median']} ({ld['rate_min']}–{ld['rate_max']}) "
                  f"[{ld['latency_ms'].get('median')}/{ld['latency_ms'].get('p99')}]",
                  "orders/s")
             for c in configs for ld in c["loads"]]
    return {"configs": configs, "goals": goals, "info": infos}


# --------------------------------------------------------------------------- large order


def _timed(fn):
    from django.db import connection

    stats, wrapper, original, timed_commit = _sql_timer(connection)
    connection._commit = timed_commit
    try:
        with connection.execute_wrapper(wrapper):
            t = time.perf_counter()
            result = fn()
            dt = time.perf_counter() - t
    finally:
        connection._commit = original
    return result, dt, stats["query_s"] + stats["commit_s"], stats["queries"]


def _move(number: str, to: str, actor):
    from orderhub.orders.services import order_transition

    r = order_transition(order=number, to=to, actor=actor)
    if not r.ok:
        raise RuntimeError(f"{number} → {to} blocked: {[p.message for p in r.reasons][:3]}")
    return r


def scenario_large_order(args) -> dict:
    from orderhub.inventory.models import Reservation
    from orderhub.orders.services import order_create

    acts = common.actors()
    f1 = common.InputFactory(seed=args.seed * 31, lines=LARGE_LINES, workflow="T1", tag="large1")
    f3 = common.InputFactory(seed=args.seed * 37, lines=LARGE_LINES, workflow="T3", tag="large3")
    # warm the code paths (compiled workflows, expression caches) with small orders first
    for f, path in ((f1, ["scheduled", "materials_ready"]),
                    (f3, ["credit_review", "contract_signed", "production_locked"])):
        o = order_create(data=f.order_input(lines=5), actor=acts["sales"]).order
        owner = {"scheduled": "service", "materials_ready": "planner", "credit_review": "sales",
                 "contract_signed": "finance", "production_locked": "sales"}
        for to in path:
            _move(o.number, to, acts[owner[to]])
    t1_runs, t3_runs = [], []
    for rep in range(args.large_repeat):
        res, c_s, c_sql, c_q = _timed(lambda: order_create(data=f1.order_input(), actor=acts["sales"]))
        num = res.order.number
        _, s_s, s_sql, s_q = _timed(lambda n=num: _move(n, "scheduled", acts["service"]))
        _, r_s, r_sql, r_q = _timed(lambda n=num: _move(n, "materials_ready", acts["planner"]))
        held = Reservation.objects.filter(order=res.order, status="active").count()
        t1_runs.append({"order": num, "create_s": rnd(c_s, 4), "schedule_s": rnd(s_s, 4),
                        "materials_ready_s": rnd(r_s, 4), "materials_ready_sql_s": rnd(r_sql, 4),
                        "materials_ready_queries": r_q, "create_sql_s": rnd(c_sql, 4),
                        "create_queries": c_q, "reservations": held})
        log(f"large T1 rep {rep + 1}: create {c_s:.3f} s, pending→scheduled {s_s:.3f} s, "
            f"scheduled→materials_ready {r_s:.3f} s (SQL {r_sql:.3f} s, {held} reservations)")

        res, c_s, c_sql, c_q = _timed(lambda: order_create(data=f3.order_input(), actor=acts["sales"]))
        num = res.order.number
        _move(num, "credit_review", acts["sales"])
        _move(num, "contract_signed", acts["finance"])
        _, p_s, p_sql, p_q = _timed(lambda n=num: _move(n, "production_locked", acts["sales"]))
        held = Reservation.objects.filter(order=res.order, status="active").count()
        t3_runs.append({"order": num, "create_s": rnd(c_s, 4), "production_locked_s": rnd(p_s, 4),
                        "production_locked_sql_s": rnd(p_sql, 4), "production_locked_queries": p_q,
                        "reservations": held})
        log(f"large T3 rep {rep + 1}: create {c_s:.3f} s, contract_signed→production_locked "
            f"{p_s:.3f} s (SQL {p_sql:.3f} s, {held} reservations)")

    def stat(runs, key):
        return {k: rnd(v, 4) for k, v in common.summary([r[key] for r in runs]).items()}

    t1 = {k: stat(t1_runs, k) for k in ("create_s", "schedule_s", "materials_ready_s",
                                        "materials_ready_sql_s")}
    t3 = {k: stat(t3_runs, k) for k in ("create_s", "production_locked_s", "production_locked_sql_s")}
    goals = [
        goal_max("d", f"T1 {LARGE_LINES}-line order scheduled→materials_ready (BOM kitting guard + "
                      "reserve), p99 over repeats", GOAL_LARGE_S, t1["materials_ready_s"]["p99"], "s"),
        goal_max("d", f"T3 {LARGE_LINES}-line order contract_signed→production_locked "
                      "(stock/credit guards + reserve), p99 over repeats", GOAL_LARGE_S,
                 t3["production_locked_s"]["p99"], "s"),
    ]
    infos = [info(f"T1 {LARGE_LINES}-line order: create s (median)", t1["create_s"]["median"], "s"),
             info(f"T1 {LARGE_LINES}-line order: materials_ready s median (SQL part)",
                  f"{t1['materials_ready_s']['median']} ({t1['materials_ready_sql_s']['median']})", "s"),
             info(f"T3 {LARGE_LINES}-line order: production_locked s median (SQL part)",
                  f"{t3['production_locked_s']['median']} ({t3['production_locked_sql_s']['median']})",
                  "s")]
    return {"lines": LARGE_LINES, "repeats": args.large_repeat, "t1": {"runs": t1_runs, **t1},
            "t3": {"runs": t3_runs, **t3}, "goals": goals, "info": infos}


# --------------------------------------------------------------------------- queries


# statements a process runs now and then, not per order: id/number blocks, cache refills (calendar,
# workflow versions, the rules' version stamp, the tag and triage versions, the notification hub's
# users (who sees every order)/endpoints/templates)
AMORTISED = ("nextval(", "pg_get_serial_sequence", '"core_calendaroverride"', '"core_officialholidayyear"',
             'UPDATE "core_apitoken" SET "last_used_at"', 'FROM "workflow_workflowdefinition"',
             'FROM "rules_rulesstamp"', 'FROM "rules_rule"', 'FROM "notify_endpoint"',
             'FROM "notify_messagetemplate"', '"notify_contactprofile"', 'FROM "intake_configversion"',
             '"auth_user_user_permissions"')


def _capture(fn):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    sqls = [q["sql"] for q in ctx.captured_queries]
    steady = [s for s in sqls if not any(a in s for a in AMORTISED)]
    return result, {"count": len(sqls), "steady": len(steady), "sql": sqls}


def _short(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql)
    return sql[:140] + ("…" if len(sql) > 140 else "")


def scenario_queries(args) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from orderhub.core.tokens import token_create
    from orderhub.orders.services import order_create

    acts = common.actors()
    f1 = common.InputFactory(seed=args.seed * 41, lines=1, workflow="T1", tag="q1")
    f3 = common.InputFactory(seed=args.seed * 43, lines=1, workflow="T3", tag="q3")
    _tok, raw = token_create(user=get_user_model().objects.get(username="bench_sales"),
                             name="bench-queries")
    client = Client()
    auth = {"Authorization": f"Bearer {raw}"}

    def post(payload):
        r = client.post("/api/orders", data=json.dumps(payload), content_type="application/json",
                        headers=auth)
        if r.status_code != 201:
            raise RuntimeError(f"POST /api/orders → {r.status_code}: {r.content[:300]!r}")
        return r

    # warm every path once (caches: compiled workflows, permissions, calendar, number block)
    o = order_create(data=f1.order_input(), actor=acts["sales"]).order
    _move(o.number, "scheduled", acts["service"])
    _move(o.number, "materials_ready", acts["planner"])
    o = order_create(data=f3.order_input(), actor=acts["sales"]).order
    for to, who in (("credit_review", "sales"), ("contract_signed", "finance"),
                    ("production_locked", "sales")):
        _move(o.number, to, acts[who])
    post(f1.payload())

    ops = ["create", "T1 pending→scheduled", "T1 scheduled→materials_ready (reserve)",
           "T3 contract_signed→production_locked (reserve)", "HTTP POST /api/orders"]
    table = {op: {} for op in ops}
    samples = {}
    for n in LINE_COUNTS:
        for attempt in range(args.query_attempts):
            res, c = _capture(lambda n=n: order_create(data=f1.order_input(lines=n), actor=acts["sales"]))
            num = res.order.number
            _, s = _capture(lambda num=num: _move(num, "scheduled", acts["service"]))
            _, r = _capture(lambda num=num: _move(num, "materials_ready", acts["planner"]))
            o3 = order_create(data=f3.order_input(lines=n), actor=acts["sales"]).order
            _move(o3.number, "credit_review", acts["sales"])
            _move(o3.number, "contract_signed", acts["finance"])
            _, p = _capture(lambda num=o3.number: _move(num, "production_locked", acts["sales"]))
            _, h = _capture(lambda n=n: post(f1.payload(lines=n)))
            for op, cap in zip(ops, (c, s, r, p, h), strict=True):
                table[op].setdefault(str(n), []).append({"count": cap["count"], "steady": cap["steady"]})
                if attempt == 0 and n in (1, LINE_COUNTS[-1]):
                    samples.setdefault(op, {})[str(n)] = [_short(x) for x in cap["sql"]]
    rows = []
    for op in ops:
        steady = {n: sorted({a["steady"] for a in table[op][n]}) for n in table[op]}
        raw_counts = {n: [a["count"] for a in table[op][n]] for n in table[op]}
        distinct = {v for vs in steady.values() for v in vs}
        rows.append({"operation": op, "steady_by_lines": steady, "raw_by_lines": raw_counts,
                     "fixed": len(distinct) == 1})
        log(f"queries {op}: " + ", ".join(f"{n} lines={'/'.join(map(str, v))}" for n, v in steady.items())
            + (" (fixed)" if len(distinct) == 1 else " (VARIES)"))
    measured = "; ".join(f"{r['operation']}: " + "/".join(
        "|".join(map(str, v)) for v in r["steady_by_lines"].values()) for r in rows[:4])
    goals = [{"id": "e", "figure": "SQL queries per order (create, reserving transitions) fixed for "
                                   f"{'/'.join(map(str, LINE_COUNTS))} lines",
              "goal": "same count for every line count", "goal_value": None, "measured": measured,
              "unit": "queries", "pass": all(r["fixed"] for r in rows[:4]), "shortfall_pct": None}]
    infos = [info(f"queries: {r['operation']} ({'/'.join(map(str, LINE_COUNTS))} lines)",
                  "/".join("|".join(map(str, v)) for v in r["steady_by_lines"].values()), "queries")
             for r in rows]
    return {"line_counts": list(LINE_COUNTS), "attempts": args.query_attempts,
            "note": "counts come from django.test.utils.CaptureQueriesContext and include "
                    "BEGIN/COMMIT/SAVEPOINT; 'steady' leaves out amortised statements "
                    f"{list(AMORTISED)} (sequence blocks of 50 ids/numbers per process, "
                    "the calendar reload every 60 s, the token's last-use stamp every 60 s, "
                    "the current-workflow lookup and the current tag and triage versions cached for "
                    "2 s per process, the notification lookups (endpoints, templates, the people of "
                    "each role and who sees every order) for 10 s)",
            "rows": rows, "sql_samples": samples, "goals": goals, "info": infos}


# --------------------------------------------------------------------------- contract figures


def _cond(args, extra: str = "") -> str:
    base = (f"orders of {args.lines} lines (T1), VACUUM ANALYZE before each repeat: "
            f"{'yes' if args.vacuum else 'no'}; {contract.SHARED_MACHINE}")
    return f"{extra}; {base}" if extra else base


def _goal_c(pg: dict) -> dict:
    need = pg["single_client_tps"]["median"] / GOAL_COMMITS
    return {"goal": f">= 1/3 of pgbench single-client ({need:.0f} orders/s)", "goal_value": round(need, 1)}


def _full_vs_create(runs: dict, args) -> list[dict]:
    """Issue 20: the full path (create + 2 moves), one process, at >= 1/3 of the create rate of
    the same run (a move must not cost what a create costs)."""
    one_full = next((r for r in runs["full"] if r["workers"] == 1), None)
    one_create = next((r for r in runs["create"] if r["workers"] == 1), None)
    if not (one_full and one_create):
        return []
    return [contract.figure("full path vs order_create, 1 process: % of the create rate", "%",
                            [round(one_full["rate_median"] / one_create["rate_median"] * 100, 1)],
                            goal=">= 33.3 %", goal_value=100 / 3, better="higher", p99=False,
                            conditions=_cond(args, "medians of the same run"))]


def contract_figures(name: str, data: dict, args) -> list[dict]:
    """The figures of one scenario in the result contract (bench/contract.py)."""
    F = contract.figure
    figs: list[dict] = []
    if name == "pgbench":
        pg = data["pgbench"]
        figs.append(F("pgbench single-client commit rate (1-row INSERT)", "tps",
                      pg["single_client_tps"]["runs"], better="higher",
                      conditions=f"{pg['command']}; {contract.SHARED_MACHINE}"))
        figs.append(F("pgbench 2 clients (context)", "tps", [pg["two_clients_tps"]], better="higher",
                      conditions=contract.SHARED_MACHINE, p99=False))
        fl = pg["python_psycopg"]
        figs.append(F("Python/psycopg INSERT + commit (autocommit)", "ms", [fl["insert_commit_ms"]],
                      conditions="3,000 statements from one process", p99=False))
    elif name == "intake-services":
        runs, pg = data["runs"], data.get("pgbench")
        creates = runs["create"]
        best = max(creates, key=lambda r: r["rate_median"]) if creates else None
        for r in creates:
            rates = [x["rate"] for x in r["repeats"]]
            label = "1 process" if r["workers"] == 1 else f"{r['workers']} processes"
            goal_kw = {}
            if r["workers"] == 1 and pg and not any(b["workers"] == 1 for b in runs["batch"]):
                goal_kw = _goal_c(pg)
            figs.append(F(f"order_create, {label}: orders/s", "orders/s", rates, better="higher",
                          conditions=_cond(args, f"{r['workers']} spawned processes x "
                                                 f"{r['orders_per_worker']} orders per repeat, "
                                                 "one transaction per order"),
                          latency_ms=r["latency_ms"], errors=r["errors"], **goal_kw))
        if best:
            figs.append(F(f"order_create, best of {'/'.join(str(r['workers']) for r in creates)} "
                          f"processes ({best['workers']}): orders/s", "orders/s",
                          [x["rate"] for x in best["repeats"]], goal=">= 500 orders/s",
                          goal_value=GOAL_SERVICES, better="higher", conditions=_cond(args)))
        for r in runs["full"]:
            figs.append(F(f"full path create+schedule+reserve, {r['workers']} process(es): orders/s",
                          "orders/s", [x["rate"] for x in r["repeats"]], better="higher",
                          conditions=_cond(args, "3 transactions per order (T1)"),
                          latency_ms=r["latency_ms"]))
        figs.extend(_full_vs_create(runs, args))
        for r in runs["batch"]:
            # goal (c) is about one worker on the service layer: the batch service is that
            # worker's way in for bulk intake (imports, batch webhooks)
            goal_kw = _goal_c(pg) if r["workers"] == 1 and pg else {}
            figs.append(F(f"order_create_batch ({args.batch_size}/transaction), {r['workers']} "
                          "process(es): orders/s", "orders/s", [x["rate"] for x in r["repeats"]],
                          better="higher", conditions=_cond(args, "T1 guards, audit chain, snapshot, "
                                                                  "notifications; pipelined groups"),
                          latency_ms=r["latency_ms"], errors=r["errors"], **goal_kw))
    elif name == "intake-http":
        all_loads = [(c, ld) for c in data["configs"] for ld in c["loads"]]
        for c, ld in all_loads:
            figs.append(F(f"POST /api/orders, {ld['clients']} client(s), gunicorn --workers "
                          f"{c['gunicorn_workers']}: orders/s", "orders/s",
                          [x["rate"] for x in ld["repeats"]], better="higher",
                          conditions=_cond(args, f"{ld['requests_per_client']} requests per client, "
                                                 "sync workers, loopback"),
                          latency_ms=ld["latency_ms"], statuses=ld["statuses"]))
        if all_loads:
            c, ld = max(all_loads, key=lambda cl: cl[1]["rate_median"])
            figs.append(F(f"POST /api/orders, best ({ld['clients']} clients, --workers "
                          f"{c['gunicorn_workers']}): orders/s", "orders/s",
                          [x["rate"] for x in ld["repeats"]], goal=">= 200 orders/s",
                          goal_value=GOAL_HTTP, better="higher", conditions=_cond(args)))
    elif name == "memory":
        for c in data["configs"]:
            cond = (f"gunicorn --workers {c['gunicorn_workers']} --threads 1 under the intake-http "
                    f"loads ({', '.join(str(ld['clients']) for ld in c['loads'])} clients); "
                    "VmHWM of each worker process")
            figs.append(F("gunicorn web worker peak RSS", "MB", c["worker_peak_rss_mb"],
                          conditions=cond, judged_on="max", max_rss_mb=max(c["worker_peak_rss_mb"] or [0])))
            if c.get("celery_peak_rss_mb"):
                figs.append(F("Celery worker peak RSS", "MB", c["celery_peak_rss_mb"],
                              conditions="celery worker --pool solo during the HTTP loads",
                              judged_on="max"))
        if not celery_app_exists():
            figs.append(contract.not_built("Celery worker peak RSS", "MB",
                                           "orderhub.celery does not exist in this build"))
        elif not any(c.get("celery_peak_rss_mb") for c in data["configs"]):
            figs.append(contract.not_built("Celery worker peak RSS", "MB",
                                           "orderhub.celery exists but its worker did not stay up "
                                           f"(see {common.TMP_DIR.name}/celery.log)"))
    elif name == "large-order":
        for key, run_key, label in (("t1", "materials_ready_s", "T1 1,000-line order "
                                     "scheduled→materials_ready (BOM kitting guard + reserve)"),
                                    ("t3", "production_locked_s", "T3 1,000-line order "
                                     "contract_signed→production_locked (stock/credit guards + reserve)")):
            figs.append(F(label, "s", [r[run_key] for r in data[key]["runs"]], goal="< 1 s",
                          goal_value=GOAL_LARGE_S, judged_on="p99",
                          conditions=f"{args.large_repeat} orders, one process; {contract.SHARED_MACHINE}"))
            figs.append(F(f"{label.split(' order')[0]} order: create", "s",
                          [r["create_s"] for r in data[key]["runs"]], conditions="one process"))
    elif name == "queries":
        for row in data["rows"]:
            counts = [v[0] for v in row["steady_by_lines"].values()]
            figs.append(F(f"SQL statements: {row['operation']} "
                          f"({'/'.join(row['steady_by_lines'])} lines)", "queries", counts,
                          goal="same count for every line count",
                          verdict="PASS" if row["fixed"] else "MISS",
                          conditions="CaptureQueriesContext, amortised statements left out",
                          by_lines=row["steady_by_lines"]))
    return figs


def scenario_notes(name: str, data: dict) -> list[str]:
    notes = []
    prof = data.get("profile") if name == "intake-services" else None
    if prof:
        for s in prof["unprofiled_split"]:
            notes.append(f"Where the time goes, {s['path']} path (one process, no profiler): "
                         f"{s['ms_per_order']} ms/order = {s['statements_per_order']} statements "
                         f"({s['sql_ms_per_order']} ms) + {s['commits_per_order']} commit "
                         f"({s['commit_ms_per_order']} ms) + Python {s['python_ms_per_order']} ms.")
        notes.append("Profiles: " + ", ".join(prof["files"].values()))
    return notes


# --------------------------------------------------------------------------- reports


def verdict(g: dict) -> str:
    if g["pass"] is None:
        return "info"
    if g["pass"]:
        return "PASS"
    return f"MISS (-{g['shortfall_pct']}%)" if g.get("shortfall_pct") is not None else "MISS"


def write_summary_text(date_str: str, rows: list[dict], machine: dict, settings: dict,
                       elapsed: float, extra: list[str]) -> str:
    pg = machine["postgresql"]
    lines = [
        f"# OrderHub benchmark summary ({date_str})",
        "",
        f"Machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['mem_gb']} GB; "
        f"Python {machine['python']}, Django {machine['django']}, PostgreSQL {pg['server_version']} "
        f"(synchronous_commit={pg['synchronous_commit']}, fsync={pg['fsync']}); "
        f"commit {machine['git_commit']} ({machine['git_tracked_files_modified']} tracked files "
        "modified in the working tree). CPU calibration loop "
        f"{machine.get('cpu_calibration_ms_start')} ms at the start, "
        f"{machine.get('cpu_calibration_ms_end')} ms at the end (lower is faster).",
        f"Run: `{settings['command']}`, {elapsed:.0f} s in total; orders of {settings['lines']} "
        f"lines (workflow T1) unless stated; {settings['orders']} orders per worker per repeat, "
        f"{settings['repeat']} repeats (full path: {settings['full_repeat']}).",
        "",
        "| figure | goal | measured | verdict |",
        "|---|---|---|---|",
    ]
    for g in rows:
        measured = g["measured"]
        if g.get("unit") and g["unit"] not in ("queries",) and measured is not None:
            measured = f"{measured} {g['unit']}"
        if g.get("bare_commits_per_order") is not None:
            measured = f"{measured} (= {g['bare_commits_per_order']} bare commits/order)"
        lines.append(f"| {g['figure']} | {g['goal']} | {measured} | {verdict(g)} |")
    lines += ["", *extra, ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default="all",
                   help="all, or comma-separated: " + ", ".join(SCENARIOS))
    p.add_argument("--orders", type=int, default=300, help="orders per worker per repeat (services)")
    p.add_argument("--workers", type=ints, default=[1, 4, 16],
                   help="service worker processes (clients), e.g. 1,4,16")
    p.add_argument("--repeat", type=int, default=3, help="repeats (services create, HTTP, pgbench)")
    p.add_argument("--full-repeat", type=int, default=1, help="repeats of the full-path runs")
    p.add_argument("--full-workers", type=ints, default=[1, 2],
                   help="worker process counts for the full-path runs")
    p.add_argument("--batch-workers", type=ints, default=[1, 2],
                   help="worker counts for order_create_batch runs (empty to skip)")
    p.add_argument("--batch-size", type=int, default=100, help="orders per order_create_batch call")
    p.add_argument("--batch-orders", type=int, default=3000,
                   help="orders per worker per repeat in the order_create_batch runs")
    p.add_argument("--wait-idle", type=float, default=30.0,
                   help="before each timed repeat, wait up to this many seconds for the machine "
                        "to be < 25%% busy (0: do not wait); what was seen is recorded")
    p.add_argument("--lines", type=int, default=3, help="lines per order in the throughput runs")
    p.add_argument("--warmup", type=int, default=30, help="warm-up orders per process")
    p.add_argument("--http-workers", type=ints, default=[4], help="gunicorn --workers values")
    p.add_argument("--clients", type=ints, default=[1, 4, 16], help="concurrent HTTP load clients")
    p.add_argument("--http-requests", type=int, default=480, help="requests per HTTP run (all clients)")
    p.add_argument("--http-warmup", type=int, default=10, help="warm-up requests per client")
    p.add_argument("--large-repeat", type=int, default=5, help="repeats of the 1,000-line orders")
    p.add_argument("--query-attempts", type=int, default=2, help="orders per line count (queries)")
    p.add_argument("--pgbench-seconds", type=int, default=10)
    p.add_argument("--profile-orders", type=int, default=500)
    p.add_argument("--profile-top", type=int, default=45)
    p.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument("--no-vacuum", dest="vacuum", action="store_false",
                   help="do not VACUUM (ANALYZE) before each timed repeat and scenario "
                        "(the server runs with autovacuum off)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--db", default=common.DB_NAME,
                   help="benchmark database (dropped and recreated; its name must start with orderhub_bench_b)")
    p.add_argument("--date", default=date.today().isoformat(), help="date in result file names")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    if not args.db.startswith("orderhub_bench_b"):
        raise SystemExit("--db must start with orderhub_bench_b (the bench drops and recreates it)")
    common.DB_NAME = args.db
    common.DATABASE_URL = f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{args.db}"
    selected = SCENARIOS if args.scenario == "all" else args.scenario.split(",")
    unknown = [x for x in selected if x not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; choose from {SCENARIOS}")
    common.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    common.TMP_DIR.mkdir(parents=True, exist_ok=True)

    log(f"recreating database {common.DB_NAME}")
    common.recreate_database()
    common.bootstrap(common.DATABASE_URL)
    t = time.perf_counter()
    common.migrate()
    seeded = common.seed()
    setup_s = time.perf_counter() - t
    log(f"migrated and seeded in {setup_s:.1f} s: {seeded}")
    machine = common.machine_info()
    machine["cpu_calibration_ms_start"] = common.cpu_calibration_ms()
    from django.conf import settings as dj

    settings = {
        "command": "bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        **{k: v for k, v in vars(args).items()},
        "database_url": common.DATABASE_URL, "conn_max_age": dj.DATABASES["default"]["CONN_MAX_AGE"],
        "default_workflow": dj.ORDERHUB_DEFAULT_WORKFLOW, "debug": dj.DEBUG,
        "password_hashers": dj.PASSWORD_HASHERS[:1], "seed_data": seeded,
        "setup_s": rnd(setup_s, 2), "start_method": "spawn",
    }
    out: dict[str, dict] = {}
    timings: dict[str, float] = {}
    pg = None
    if "pgbench" in selected or "intake-services" in selected:
        t = time.perf_counter()
        pg = run_pgbench(args)
        timings["pgbench"] = time.perf_counter() - t
        tps = pg["single_client_tps"]["median"]
        out["pgbench"] = {"pgbench": pg, "goals": [], "info": [
            info("pgbench single-client commit rate (1-row INSERT, -c 1 -T "
                 f"{args.pgbench_seconds}), median of {args.repeat}", tps, "tps"),
            info("pgbench 2 clients (context)", pg["two_clients_tps"], "tps"),
            info("Python/psycopg: SELECT 1 round trip; INSERT+commit (autocommit)",
                 f"{pg['python_psycopg']['select1_roundtrip_ms']} ms; "
                 f"{pg['python_psycopg']['insert_commit_ms']} ms", "")]}
    steps = [("intake-services", lambda: scenario_intake_services(args, pg, args.date)),
             ("intake-http", lambda: scenario_intake_http(args)),
             ("large-order", lambda: scenario_large_order(args)),
             ("queries", lambda: scenario_queries(args))]
    for name, fn in steps:
        if name in selected:
            if args.vacuum:
                common.vacuum_analyze()
            t = time.perf_counter()
            out[name] = fn()
            timings[name] = time.perf_counter() - t
            log(f"{name} done in {timings[name]:.0f} s")

    machine["cpu_calibration_ms_end"] = common.cpu_calibration_ms()
    elapsed = time.perf_counter() - started
    rows: list[dict] = []
    if "intake-http" in out:
        out["memory"] = {"configs": out["intake-http"]["configs"], "goals": [], "info": []}
    cmachine = {**machine, "cpus": machine["cpu_count"]}
    for name in [*SCENARIOS, "memory"]:
        if name not in out:
            continue
        path = contract.write_result(
            name, contract_figures(name, out[name], args), notes=scenario_notes(name, out[name]),
            day=args.date, machine=cmachine,
            detail={"generated_at": datetime.now().isoformat(),
                    "elapsed_s": rnd(timings.get(name), 1), "run_elapsed_s": rnd(elapsed, 1),
                    "settings": settings, **out[name]})
        log(f"wrote {path.relative_to(common.ROOT)}")
    for name in ("intake-services", "intake-http", "large-order", "queries", "pgbench"):
        if name in out:
            rows += out[name]["goals"]
    for name in ("intake-services", "intake-http", "large-order", "queries", "pgbench"):
        if name in out:
            rows += out[name]["info"]
    extra = []
    prof = out.get("intake-services", {}).get("profile")
    if prof:
        for s in prof["unprofiled_split"]:
            extra.append(f"- {s['path']} path, one process, no profiler: {s['ms_per_order']} ms/order "
                         f"= {s['statements_per_order']} statements ({s['sql_ms_per_order']} ms) + "
                         f"{s['commits_per_order']} commit ({s['commit_ms_per_order']} ms) + Python "
                         f"{s['python_ms_per_order']} ms (process CPU {s['process_cpu_ms_per_order']} ms).")
        extra.append("Profiles: " + ", ".join(f"`{f}`" for f in prof["files"].values()) + ".")
    loads = [rep for name in ("intake-services",) if name in out
             for mode in out[name]["runs"].values() for run in mode for rep in run["repeats"]]
    loads += [rep for c in out.get("intake-http", {}).get("configs", []) for ld in c["loads"]
              for rep in ld["repeats"]]
    if loads:
        others = [r["other_busy_pct"] for r in loads if r.get("other_busy_pct") is not None]
        steals = [r["steal_pct"] for r in loads if r.get("steal_pct") is not None]
        extra.append(f"Machine load during the timed throughput repeats: CPU used by anything "
                     f"but the benchmark's processes and PostgreSQL {min(others)}–{max(others)}% "
                     f"(median {statistics.median(others)}%), hypervisor steal "
                     f"{min(steals)}–{max(steals)}%. "
                     + ("VACUUM (ANALYZE) ran before each timed repeat (the server has autovacuum "
                        f"{machine['postgresql'].get('autovacuum')})." if args.vacuum else
                        "No VACUUM/ANALYZE between repeats (--no-vacuum)."))
    extra.append("Scenario times: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
                 + f"; setup {setup_s:.0f} s.")
    (common.TMP_DIR / f"{args.date}-run-summary.md").write_text(
        write_summary_text(args.date, rows, machine, settings, elapsed, extra))
    path = report.write_summary(common.RESULTS_DIR, args.date)
    log(f"wrote {path.relative_to(common.ROOT)} (every scenario's newest result); this run's "
        f"own table: {common.TMP_DIR.name}/{args.date}-run-summary.md; total {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

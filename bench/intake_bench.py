"""Intake gateway speed (issue 6): a 100,000-row marketplace CSV import, and webhooks
acknowledged at a steady 200 requests/s in queue mode through gunicorn.

    .venv/bin/python bench/intake_bench.py                       # both scenarios
    .venv/bin/python bench/intake_bench.py --scenario import --rows 100000 --import-repeat 2
    .venv/bin/python bench/intake_bench.py --scenario import --import-workers 2 --db orderhub_bench_intake_wt --out /tmp/b
    .venv/bin/python bench/intake_bench.py --scenario webhook --rate 200 --seconds 20

Database ``orderhub_bench_intake`` (``--db``; dropped and recreated at the start). Seed: the common
bench master data (200 customers, 500 products, T1–T4), the shipped intake templates, and one
Taobao member-name alias per customer. Results (JSON, import profile) go to ``bench/results``
unless ``--out`` names another folder.

import: a generated Taobao-shaped order report (GBK, CRLF, 19-digit ids guarded as ``="…"``,
remarks with commas and line breaks, two date formats, ~0.5 % bad rows: unknown SKU, negative
quantity, 31 February; ~0.5 % repeated rows, which must come out as duplicates) is imported
through ``upload_import`` (accept valid rows), the same path as the page, API and CLI: the
file stored raw, read, mapped (validation, lookups, tag and triage rules), written in chunks
through ``order_create_batch``, per-row report, progress. Once with one process and once with
``--import-workers`` processes (default 2: chunks claimed by forked workers, as
``orderhub intake import --workers N``), each on a fresh file. Figures: rows/s per worker count
for the first import (goal ≥ 5,000 rows/s, with ``--import-workers``) and for the same file again
(every row a duplicate: the dedupe path), then a fresh file as the upload page starts it
(``upload_start``: received, then a process of its own with ``--import-workers`` workers), how much of the time is ``order_create_batch`` and how
much the intake's own side (per row), plus a cProfile of a one-process import.

webhook: gunicorn (sync workers) with ``ORDERHUB_INTAKE_WEBHOOK_MODE=queue``; an open-loop
client sends signed mini-program bodies at a fixed rate (each request at its scheduled time,
latency measured from that time, so a stall is not hidden by the client waiting), while
``orderhub intake process-pending --loop`` parses them alongside. Figure: p99 of the
acknowledgement (goal < 50 ms at 200 requests/s); then how long the processor needs to drain.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import hmac
import http.client
import io
import json
import multiprocessing
import os
import pstats
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DB = "orderhub_bench_intake"
URL = f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{DB}"
SECRET = "bench-webhook-secret"
GOAL_ROWS_S = 5000.0
GOAL_ACK_P99_MS = 50.0
HEADER = ("订单编号,买家会员名,买家应付货款,买家应付邮费,总金额,买家实际支付金额,订单状态,买家留言,收货人姓名,收货地址 ,"
          "运送方式,联系手机,订单创建时间,订单付款时间 ,宝贝标题 ,宝贝种类,宝贝总数量,商家编码,订单备注")
REMARKS = ["", "", "", "周一不收货，谢谢", "请避开周一送货，需附出厂检验报告", '急用！\n请顺丰发，到付也可以，需要开专票',
           "加装防震泡沫, 轻放", ""]


def log(msg: str) -> None:
    print(f"[intake] {msg}", flush=True)


def seed_intake() -> None:
    from orderhub.core.actors import Actor
    from orderhub.intake import services
    from orderhub.intake.models import Alias

    actor = Actor.system("bench")
    services.config_install_templates(actor=actor)
    Alias.objects.bulk_create([Alias(kind="customer", channel="taobao", value=f"tb_buyer_{i:03d}",
                                     code=f"C{i:04d}") for i in range(common.N_CUSTOMERS)])
    services.channel_save(code="miniprogram", secret=SECRET, window_seconds=300, actor=actor)


# --------------------------------------------------------------------------- import


def taobao_csv(rows: int, seed: int, tag: int) -> tuple[bytes, dict]:
    """A Taobao-shaped report of ``rows`` rows (GBK, CRLF). Returns the bytes and what a correct
    import makes of it (orders, duplicates, refused rows)."""
    from orderhub.catalog.models import Product

    rng = random.Random(seed)
    prices = dict(Product.objects.filter(sku__startswith="FG").values_list("sku", "list_price"))
    skus = sorted(prices)
    out = [HEADER]
    made, bad, repeats = [], 0, 0
    for i in range(rows):
        if made and rng.random() < 0.005:  # the same row again: a duplicate, never a second order
            out.append(rng.choice(made))
            repeats += 1
            continue
        sku, qty = rng.choice(skus), rng.randint(1, 9)
        amount = f"{qty * prices[sku]:.2f}"
        day = 1 + i % 28
        created = f"2026-02-{day:02d} 09:{i % 60:02d}:03"
        paid = f"2026/2/{day} 9:{i % 60:02d}" if i % 3 == 0 else f"2026-02-{day:02d} 09:{i % 60:02d}:40"
        roll = rng.random()
        if roll < 0.0017:
            sku = "NO-SUCH-SKU"
        elif roll < 0.0034:
            qty, amount = -1, "-86.00"
        elif roll < 0.005:
            created = paid = "2026-02-31 08:00:00"
        if roll < 0.005:
            bad += 1
        remark = rng.choice(REMARKS)
        remark = f'"{remark}"' if ("," in remark or "\n" in remark) else remark
        line = (f'"=""{tag}{i:018d}""",tb_buyer_{rng.randrange(common.N_CUSTOMERS):03d},{amount},0.00,{amount},'
                f'{amount},买家已付款，等待卖家发货,{remark},李强,浙江省 杭州市 拱墅区 莫干山路 1200号,快递,13858012345,'
                f'{created},{paid},机油滤清器,1,{qty},{sku},')
        out.append(line)
        if roll >= 0.005:
            made.append(line)
    body = ("\r\n".join(out) + "\r\n").encode("gbk")
    return body, {"rows": rows, "orders": len(made), "duplicates": repeats, "refused": bad}


class PgSampler(threading.Thread):
    """PostgreSQL CPU of the benchmark database's backends over a span, sampled: the backends of
    forked import workers are gone by the end of the span, so one reading at the end misses them."""

    def __init__(self, every: float = 0.25):
        super().__init__(daemon=True)
        self.every, self.stop = every, threading.Event()
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def sample(self, start: bool = False) -> None:
        ours, cpu = common.bench_postgres_pids(), common.postgres_cpu()
        for pid in ours & cpu.keys():
            self.first.setdefault(pid, cpu[pid] if start else 0.0)  # a backend born meanwhile starts at 0
            self.last[pid] = cpu[pid]

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.sample()

    def __enter__(self):
        self.sample(start=True)
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join()
        self.sample()
        self.pg_s = sum(self.last[p] - self.first[p] for p in self.last)
        return False


def import_once(content: bytes, *, workers: int = 1, profile: bool = False) -> dict:
    from django.db import connection

    from orderhub.core.actors import Actor
    from orderhub.intake import services
    from orderhub.orders import services as order_services

    actor = Actor.system("bench-import")
    # shared with forked workers: time inside order_create_batch, summed over the processes
    shared = multiprocessing.Array("d", 3)  # wall s, CPU s, calls
    real = order_services.order_create_batch

    def timed(*args, **kwargs):
        t, c = time.perf_counter(), time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            with shared.get_lock():
                shared[0] += time.perf_counter() - t
                shared[1] += time.process_time() - c
                shared[2] += 1

    from orderhub.intake.services import inbox

    inbox.order_create_batch = timed
    prof = cProfile.Profile() if profile else None
    connection.queries_log.clear()
    load0 = os.getloadavg()[0]
    cpu0, kids0, t0 = time.process_time(), os.times(), time.perf_counter()
    try:
        with common.CpuMeter() as cpu, PgSampler() as pg:
            if prof:
                prof.enable()
            job = services.upload_import(channel="taobao", filename="ExportOrderList.csv", content=content,
                                         actor=actor, mode="accept_valid", content_type="text/csv",
                                         source="bench", workers=workers)
            if prof:
                prof.disable()
    finally:
        inbox.order_create_batch = real
    wall = time.perf_counter() - t0
    kids1 = os.times()
    kids_cpu = (kids1.children_user - kids0.children_user) + (kids1.children_system - kids0.children_system)
    chunks = list(job.chunks.values_list("seconds", flat=True))
    out = {"workers": workers, "wall_s": wall, "cpu_s": time.process_time() - cpu0 + kids_cpu,
           "pg_cpu_s": pg.pg_s, "machine_busy_pct": cpu.busy_pct, "job": {k: getattr(job, k) for k in (
               "rows_total", "rows_done", "orders_created", "duplicates", "rows_failed", "status")},
           "message_status": job.message.status, "order_create_batch_s": shared[0],
           "order_create_batch_cpu_s": shared[1], "calls": int(shared[2]),
           "chunks": len(chunks), "chunk_s_median": common.percentile(chunks, 50) if chunks else None,
           "load_1min": [round(load0, 2), round(os.getloadavg()[0], 2)]}
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(45)
        out["profile"] = s.getvalue()
    return out


def page_import(rows: int, *, workers: int, tag: int = 70) -> dict:
    """A file imported as the upload page does: received, then ``upload_start`` (a large file:
    a process of its own, ``orderhub intake run``, with ``workers`` forked workers), polled until
    the job ends."""
    from django.conf import settings

    from orderhub.core.actors import Actor
    from orderhub.intake import services
    from orderhub.intake.models import ImportJob

    content, expect = taobao_csv(rows, seed=10 * tag, tag=tag)
    common.vacuum_analyze_url(URL)
    settings.ORDERHUB_IMPORT_WORKERS = workers
    actor = Actor.system("bench-page")
    log(f"import as the upload page starts it, ORDERHUB_IMPORT_WORKERS={workers}: expecting {expect}")
    t0 = time.perf_counter()
    job = services.upload_receive(channel="taobao", filename="ExportOrderList.csv", content=content, actor=actor,
                                  content_type="text/csv", source="bench")
    how = services.upload_start(job=job, actor=actor)
    while job.status == ImportJob.Status.RUNNING:
        time.sleep(0.1)
        job.refresh_from_db()
    wall = time.perf_counter() - t0
    got = {k: getattr(job, k) for k in ("status", "orders_created", "duplicates", "rows_failed")}
    log(f"  {how}: {wall:.1f} s = {rows / wall:.0f} rows/s; job {got}")
    if (job.orders_created, job.duplicates, job.rows_failed) != (expect["orders"], expect["duplicates"],
                                                                  expect["refused"]):
        raise SystemExit(f"page import result differs from what the file holds: {got} vs {expect}")
    return {"wall_s": wall, "how": how, "job": got}


def scenario_import(args) -> list[dict]:
    figures, notes = [], []
    counts = sorted({1, max(1, args.import_workers)})
    first: dict[int, list[dict]] = {w: [] for w in counts}
    again: dict[int, list[dict]] = {w: [] for w in counts}
    detail = {}
    for r in range(args.import_repeat):
        for k, workers in enumerate(counts):
            content, expect = taobao_csv(args.rows, seed=100 + 10 * r + k, tag=31 + 10 * r + k)
            common.vacuum_analyze_url(URL)
            common.wait_for_quiet(args.wait_idle)
            log(f"import {r + 1}/{args.import_repeat}, {workers} worker(s): {len(content) / 1e6:.1f} MB, "
                f"expecting {expect}")
            res = import_once(content, workers=workers)
            job = res["job"]
            ok = (job["orders_created"], job["duplicates"], job["rows_failed"]) == (
                expect["orders"], expect["duplicates"], expect["refused"])
            log(f"  {res['wall_s']:.1f} s = {args.rows / res['wall_s']:.0f} rows/s; order_create_batch "
                f"{res['order_create_batch_s']:.1f} s ({res['calls']} calls, all workers); intake side "
                f"{_intake_us(res, args.rows):.0f} µs/row; CPU {res['cpu_s'] * 1000 / args.rows:.3f} ms/row "
                f"(import processes) + {res['pg_cpu_s'] * 1000 / args.rows:.3f} ms/row (PostgreSQL); load average "
                f"{res['load_1min'][0]} → {res['load_1min'][1]}; job {job}; as expected: {ok}")
            if not ok:
                raise SystemExit(f"import result differs from what the file holds: {job} vs {expect}")
            first[workers].append(res)
            common.vacuum_analyze_url(URL)
            res2 = import_once(content, workers=workers)
            log(f"  again (all duplicates): {res2['wall_s']:.1f} s = {args.rows / res2['wall_s']:.0f} rows/s; "
                f"job {res2['job']}")
            if res2["job"]["orders_created"] != 0:
                raise SystemExit("the same file again created orders")
            again[workers].append(res2)
            detail = {"expect": expect, "bytes": len(content)}
    top = counts[-1]
    cond = (f"{args.rows:,} rows Taobao CSV ({detail['bytes'] / 1e6:.1f} MB GBK), accept_valid, chunks of 500, "
            f"1 line per order, into a database holding the previous imports' orders; PostgreSQL on the same "
            f"2 shared cores")
    for workers in counts:
        runs = first[workers]
        tail = "" if workers == top else f"_{workers}_worker"
        how = (f"{workers} processes (`--workers {workers}`: forked workers claiming chunks)" if workers > 1
               else "one process")
        figures.append(_figure(f"import_rows_per_s{tail}", "rows/s", [args.rows / r["wall_s"] for r in runs],
                               goal="≥ 5,000 rows/s" if workers == top else None,
                               goal_value=GOAL_ROWS_S if workers == top else None, better="higher",
                               conditions=f"{cond}; {how}; machine busy {runs[-1]['machine_busy_pct']:.0f} % "
                                          f"during the last run, load average (1 min) "
                                          f"{runs[-1]['load_1min'][0]} before, {runs[-1]['load_1min'][1]} after"))
        figures.append(_figure(f"import_duplicates_rows_per_s{tail}", "rows/s",
                               [args.rows / r["wall_s"] for r in again[workers]], better="higher",
                               conditions=f"the same file imported again, {how}: every row found as a "
                                          f"duplicate of its order (dedupe path)"))
        figures.append(_figure(f"import_order_create_batch_share{tail}", "count",
                               [round(_share(r) * 100, 1) for r in runs], better="lower",
                               conditions=f"{how}: percent of the workers' wall time spent inside "
                                          f"order_create_batch (helper S's part); the rest is the intake side"))
        figures.append(_figure(f"import_intake_us_per_row{tail}", "count", [_intake_us(r, args.rows) for r in runs],
                               better="lower",
                               conditions=f"{how}: the intake side per row in µs of worker wall time (reading, "
                                          f"mapping, report, links, progress, commits), outside order_create_batch"))
        figures.append(_figure(f"import_intake_cpu_us_per_row{tail}", "count",
                               [(r["cpu_s"] - r["order_create_batch_cpu_s"]) * 1e6 / args.rows for r in runs],
                               better="lower", conditions=f"{how}: Python CPU of the intake side per row (µs), "
                                                          f"outside order_create_batch"))
        figures.append(_figure(f"import_cpu_ms_per_row{tail}", "ms", [r["cpu_s"] * 1000 / args.rows for r in runs],
                               better="lower", conditions=f"{how}: CPU of the importing processes per row"))
        figures.append(_figure(f"import_pg_cpu_ms_per_row{tail}", "ms",
                               [r["pg_cpu_s"] * 1000 / args.rows for r in runs], better="lower",
                               conditions=f"{how}: PostgreSQL CPU per row (backends of this database, sampled)"))
        med = sorted(args.rows / r["wall_s"] for r in runs)[len(runs) // 2]
        notes.append(f"{workers} worker(s): median {med:.0f} rows/s; order_create_batch "
                     f"{sorted(_share(r) for r in runs)[len(runs) // 2] * 100:.0f} % of the workers' wall time")
    notes.append(f"import expectations per file: {detail['expect']}; every run matched them exactly")
    if args.page:
        page = page_import(args.rows, workers=top)
        figures.append(_figure("import_page_rows_per_s", "rows/s", [args.rows / page["wall_s"]], better="higher",
                               conditions=f"{cond}; as the upload page starts it (upload_start, "
                                          f"ORDERHUB_IMPORT_WORKERS={top}: {page['how']}), from the file received "
                                          f"until the job reads done"))
        notes.append(f"upload page path: {page['how']}, {page['wall_s']:.1f} s, job {page['job']}")
        for k, rows in enumerate(r for r in args.page_rows if r != args.rows):
            page = page_import(rows, workers=top, tag=71 + k)
            figures.append(_figure(f"import_page_rows_per_s_{rows}_rows", "rows/s", [rows / page["wall_s"]],
                                   better="higher", conditions=f"{cond}; a {rows}-row file as the upload page "
                                                               f"starts it ({page['how']})"))
            notes.append(f"upload page path, {rows} rows: {page['wall_s']:.2f} s")
    if args.profile:  # a separate, smaller import under cProfile: the timed runs are not profiled
        content, _ = taobao_csv(args.profile_rows, seed=900, tag=90)
        prof = import_once(content, profile=True)
        path = args.out / f"{args.date}-intake-import-profile.txt"
        path.write_text(f"# {args.profile_rows} rows, one process, cProfile on (about 2x slower than unprofiled)\n"
                        f"# wall {prof['wall_s']:.1f} s, order_create_batch {prof['order_create_batch_s']:.1f} s, "
                        f"intake side {_intake_us(prof, args.profile_rows):.0f} µs/row\n" + prof["profile"])
        notes.append(f"profile of a separate {args.profile_rows}-row import: {path.name}")
    return figures, notes


def _share(r: dict) -> float:
    """Share of the workers' wall time inside order_create_batch."""
    return r["order_create_batch_s"] / (r["wall_s"] * r["workers"])


def _intake_us(r: dict, rows: int) -> float:
    """Worker wall time outside order_create_batch, per row (µs)."""
    return (r["wall_s"] * r["workers"] - r["order_create_batch_s"]) * 1e6 / rows


# --------------------------------------------------------------------------- webhook


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    # one loopback sender at 200 requests/s for minutes: the per-address webhook limit is off
    # here (the refusal check still runs), this measures acknowledging, not the limiter
    return {**os.environ, **common.environ(URL), "ORDERHUB_INTAKE_WEBHOOK_MODE": "queue",
            "ORDERHUB_RATE_INTAKE_WEBHOOK": "0"}


def start_gunicorn(workers: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    logfile = common.TMP_DIR / f"intake-gunicorn-w{workers}.log"
    cmd = [sys.executable, "-m", "gunicorn", "orderhub.wsgi:application", "--bind", f"127.0.0.1:{port}",
           "--workers", str(workers), "--threads", "1", "--timeout", "60", "--log-level", "warning",
           "--error-logfile", str(logfile)]
    proc = subprocess.Popen(cmd, cwd=common.ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {logfile}")
        try:
            status, _ = _post(port, "miniprogram", b"{}", sign=False)
            if status == 401:
                return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"gunicorn did not start; see {logfile}")


def _post(port: int, channel: str, body: bytes, sign: bool = True) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if sign:
        ts = str(int(time.time()))
        mac = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        headers.update({"X-OrderHub-Timestamp": ts, "X-OrderHub-Signature": "sha256=" + mac})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", f"/api/intake/{channel}", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def mini_body(i: int, rng: random.Random) -> bytes:
    items = [{"sku_id": f"FG{rng.randrange(common.N_RAW, common.N_PRODUCTS):04d}", "num": rng.randint(1, 20),
              "price": rng.randint(100, 50000)} for _ in range(rng.randint(1, 3))]
    return json.dumps({"order_id": f"WXB{i:010d}", "openid": "", "pay_time": "20260302100000",
                       "total_fee": sum(x["num"] * x["price"] for x in items), "remark": rng.choice(REMARKS),
                       "items": items}, ensure_ascii=False).encode()


def _open_loop(port: int, bodies: list[bytes], rate: float, threads: int, server_pid: int):
    """Send ``bodies`` at ``rate`` per second, each at its scheduled time; latency from that time."""
    n = len(bodies)
    lat: list[float] = [0.0] * n
    codes: list[int] = [0] * n
    interval = 1.0 / rate
    start = time.perf_counter() + 0.2

    def fire(i: int) -> None:
        due = start + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        status, _ = _post(port, "miniprogram", bodies[i])
        lat[i] = (time.perf_counter() - due) * 1000
        codes[i] = status

    with common.CpuMeter(tree_root=server_pid) as cpu, ThreadPoolExecutor(threads) as pool:
        futures = []
        for i in range(n):  # submit in schedule order, at most half a second ahead
            while time.perf_counter() < start + i * interval - 0.5:
                time.sleep(0.05)
            futures.append(pool.submit(fire, i))
        for f in futures:
            f.result()
    return lat, codes, cpu, time.perf_counter() - start


def _processor() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "orderhub.cli", "intake", "process-pending", "--loop",
                             "--batch", "20"], cwd=common.ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def _phase(args, port: int, server_pid: int, rng: random.Random, base: int, label: str) -> list[dict]:
    runs = []
    for rep in range(args.repeat):
        common.wait_for_quiet(args.wait_idle)
        n = int(args.rate * args.seconds)
        bodies = [mini_body(base + rep * 1_000_000 + i, rng) for i in range(n)]
        lat, codes, cpu, took = _open_loop(port, bodies, args.rate, args.client_threads, server_pid)
        bad = [c for c in codes if c != 202]
        p50, p99 = common.percentile(lat, 50), common.percentile(lat, 99)
        runs.append({"p50": p50, "p99": p99, "max": max(lat), "sent": n, "rate": n / took, "bad": len(bad),
                     "gunicorn_cpu_ms": cpu.tree_s * 1000 / n if cpu.tree_s else None,
                     "pg_cpu_ms": cpu.pg_s * 1000 / n, "busy": cpu.busy_pct})
        log(f"webhook {label} {rep + 1}/{args.repeat}: {n} at {n / took:.0f}/s: p50 {p50:.1f} ms p99 {p99:.1f} ms "
            f"max {max(lat):.1f} ms; non-202: {len(bad)}; gunicorn {runs[-1]['gunicorn_cpu_ms']:.2f} ms CPU/req, "
            f"PostgreSQL {runs[-1]['pg_cpu_ms']:.2f} ms/req; machine busy {cpu.busy_pct:.0f} %")
        if bad:
            raise SystemExit(f"{len(bad)} requests not acknowledged with 202: {sorted(set(bad))}")
    return runs


def scenario_webhook(args) -> tuple[list[dict], list[str]]:
    from django.db.models import Count

    from orderhub.core.actors import Actor
    from orderhub.intake.models import InboundMessage
    from orderhub.intake.services import config_save, current_config

    # mini-program orders from a retail account (openid empty in the generated bodies)
    spec = dict(current_config("mapping", "miniprogram").spec)
    spec["defaults"] = {**spec.get("defaults", {}), "customer": "C0001"}
    config_save(data=spec, actor=Actor.system("bench"), note="bench: retail default customer")
    figures, notes = [], []
    server, port = start_gunicorn(args.http_workers)
    rng = random.Random(5)
    processor = None
    try:
        for i in range(20):  # warm-up: every worker imports, connects, caches
            _post(port, "miniprogram", mini_body(10_000_000 + i, rng))
        ack = _phase(args, port, server.pid, rng, 0, "ack only")
        queued = InboundMessage.objects.filter(queued=True).count()
        processor = _processor()
        drain_t = time.perf_counter()
        while InboundMessage.objects.filter(queued=True).exists() and time.perf_counter() - drain_t < 900:
            time.sleep(0.2)
        drain_s = time.perf_counter() - drain_t
        log(f"processor drained {queued} queued webhooks in {drain_s:.1f} s ({queued / drain_s:.0f}/s)")
        both = [] if args.no_processor else _phase(args, port, server.pid, rng, 500_000_000, "with processor")
        while InboundMessage.objects.filter(queued=True).exists() and time.perf_counter() - drain_t < 1800:
            time.sleep(0.2)
        statuses = dict(InboundMessage.objects.filter(kind="webhook").values_list("status")
                        .annotate(n=Count("id")).order_by())
    finally:
        _stop(processor)
        _stop(server)
    base = (f"{args.rate:.0f} requests/s open loop for {args.seconds:.0f} s × {args.repeat}, gunicorn "
            f"{args.http_workers} sync workers, queue mode; client, server and PostgreSQL on the same 2 shared "
            f"cores as 4 other working sessions")
    figures.append(_figure("webhook_ack_p99", "ms", [r["p99"] for r in ack], goal="< 50 ms at 200 requests/s",
                           goal_value=GOAL_ACK_P99_MS, better="lower",
                           conditions=base + "; the processor not running meanwhile (it drains afterwards)"))
    figures.append(_figure("webhook_ack_p50", "ms", [r["p50"] for r in ack], better="lower", conditions=base))
    figures.append(_figure("webhook_achieved_rate", "count", [r["rate"] for r in ack], better="higher",
                           conditions="requests/s the open-loop client achieved (should be the target rate)"))
    figures.append(_figure("webhook_gunicorn_cpu_ms_per_request", "ms", [r["gunicorn_cpu_ms"] for r in ack],
                           better="lower", conditions="CPU of gunicorn master + workers per acknowledged request"))
    figures.append(_figure("webhook_pg_cpu_ms_per_request", "ms", [r["pg_cpu_ms"] for r in ack],
                           better="lower", conditions="PostgreSQL CPU per acknowledged request"))
    figures.append(_figure("processor_drain_rate", "orders/s", [queued / drain_s], better="higher",
                           conditions=f"`orderhub intake process-pending --loop --batch 20`, one process, "
                                      f"{queued} queued mini-program webhooks (1–3 lines), nothing else sent"))
    if both:
        figures.append(_figure("webhook_ack_p99_with_processor", "ms", [r["p99"] for r in both], better="lower",
                               conditions=base + "; the processor parsing alongside on the same cores"))
    notes.append(f"webhook messages by status at the end: {statuses}")
    notes.append("latency is measured from each request's scheduled send time (open loop), so a slow "
                 "response delays no later request's clock")
    return figures, notes


# --------------------------------------------------------------------------- result


def _figure(name, unit, runs, *, goal=None, goal_value=None, better="lower", conditions="") -> dict:
    runs = [round(x, 3) for x in runs if x is not None]
    med = common.percentile(runs, 50) if runs else None
    p99 = common.percentile(runs, 99) if len(runs) > 1 else None
    verdict, miss = "info", None
    if goal_value is not None and med is not None:
        if better == "higher":
            verdict = "PASS" if med >= goal_value else "MISS"
            miss = None if verdict == "PASS" else round((goal_value - med) / goal_value * 100, 1)
        else:
            verdict = "PASS" if med < goal_value else "MISS"
            miss = None if verdict == "PASS" else round((med - goal_value) / goal_value * 100, 1)
    return {"name": name, "unit": unit, "goal": goal, "goal_value": goal_value, "better": better, "runs": runs,
            "median": round(med, 3) if med is not None else None, "p99": round(p99, 3) if p99 is not None else None,
            "verdict": verdict, "miss_by_pct": miss, "conditions": conditions}


def main(argv=None) -> int:
    global DB, URL
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", choices=["all", "import", "webhook"], default="all")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2, help="webhook runs per phase")
    ap.add_argument("--import-repeat", type=int, default=1, help="imports of a fresh 100k file")
    ap.add_argument("--import-workers", type=int, default=2,
                    help="also import with this many processes (the goal figure); 1: one process only")
    ap.add_argument("--db", default=DB, help="benchmark database (dropped and recreated)")
    ap.add_argument("--out", type=Path, default=common.RESULTS_DIR, help="folder for the result files")
    ap.add_argument("--no-profile", dest="profile", action="store_false")
    ap.add_argument("--no-page", dest="page", action="store_false",
                    help="skip the import as the upload page starts it (upload_start)")
    ap.add_argument("--page-rows", type=lambda v: [int(x) for x in v.split(",") if x], default=[],
                    help="also import files of these row counts (comma-separated) as the upload page does: "
                         "a small file's time is mostly how the page starts it")
    ap.add_argument("--profile-rows", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--http-workers", type=int, default=4)
    ap.add_argument("--client-threads", type=int, default=32)
    ap.add_argument("--no-processor", action="store_true", help="acknowledge only; nothing parses meanwhile")
    ap.add_argument("--wait-idle", type=float, default=20.0)
    ap.add_argument("--date", default=date.today().isoformat())
    args = ap.parse_args(argv)
    DB, URL = args.db, f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{args.db}"
    args.out.mkdir(parents=True, exist_ok=True)
    common.recreate_database(DB)
    common.DB_NAME = DB  # CpuMeter counts the PostgreSQL backends of this database
    common.bootstrap(URL)
    common.migrate()
    common.seed()
    seed_intake()
    result = {"scenario": "intake-gateway", "date": args.date, "commit": common._run(["git", "rev-parse", "HEAD"]),
              "machine": {"cpus": os.cpu_count(), **common.machine_info(),
                          "cpu_calibration_ms": common.cpu_calibration_ms()},
              "figures": [], "notes": []}
    if args.scenario in ("all", "import"):
        f, n = scenario_import(args)
        result["figures"] += f
        result["notes"] += n
    if args.scenario in ("all", "webhook"):
        f, n = scenario_webhook(args)
        result["figures"] += f
        result["notes"] += n
    name = "intake-gateway" if args.scenario == "all" else f"intake-gateway-{args.scenario}"
    result["scenario"] = name
    out = args.out / f"{args.date}-{name}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    log(f"wrote {out}")
    for fig in result["figures"]:
        log(f"{fig['name']}: median {fig['median']} {fig['unit']} ({fig['verdict']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

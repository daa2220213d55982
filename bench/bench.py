"""The benchmark runner: every scenario (``all``) or one, then the summary of the newest results.

    .venv/bin/python bench/bench.py list
    .venv/bin/python bench/bench.py all                    # make bench: about 35 min on 2 cores
    .venv/bin/python bench/bench.py all --quick            # scaled down: about 12 min
    .venv/bin/python bench/bench.py contention --clients 64   # one scenario, its own options
    .venv/bin/python bench/bench.py datagen --orders 1000000
    .venv/bin/python bench/bench.py summary                # rebuild the report only

Each scenario runs as its own process (``python bench/<module>.py``), against its own database
(names start with ``orderhub_bench_b``), and writes bench/results/<date>-<scenario>.json; after
every scenario the runner rebuilds bench/results/<date>-summary.md from the newest result of
every scenario (bench/report.py). Scenarios whose module does not exist
are reported as "not built", never as a number.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import report  # noqa: E402

RUN_PY = {"pgbench", "intake-services", "intake-http", "large-order", "queries"}
# scenario → the command line after ``python`` (options are appended)
COMMANDS = {
    **{name: ["run.py", "--scenario", name] for name in RUN_PY},
    "intake": ["run.py", "--scenario", "intake-services,intake-http"],
    "memory": ["run.py", "--scenario", "intake-http"],
    "peak-day": ["peak_day.py"],
    "contention": ["contention.py"],
    "history": ["history.py"],
    "pages": ["pages.py"],
    "board-live": ["board_live.py"],
    "datagen": ["datagen.py"],
    "sweep": ["sweep_bench.py"],
    "first-touch": ["notify_bench.py"],
    "intake-gateway": ["intake_bench.py"],
    "delivery-note": ["delivery_note.py"],
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(name: str, extra: list[str], day: str) -> dict:
    argv = COMMANDS[name]
    module = BENCH_DIR / argv[0]
    if not module.exists():
        log(f"{name}: {argv[0]} does not exist → not built")
        return {"scenario": name, "status": "not built", "seconds": 0.0}
    cmd = [sys.executable, str(module), *argv[1:], *extra]
    if "--date" not in extra and argv[0] in ("run.py", "peak_day.py", "contention.py", "sweep_bench.py",
                                             "notify_bench.py", "intake_bench.py",
                                             "history.py", "pages.py", "datagen.py", "board_live.py",
                                             "delivery_note.py"):
        cmd += ["--date", day]
    log(f"{name}: {' '.join(cmd[1:])}")
    t = time.perf_counter()
    rc = subprocess.call(cmd, cwd=BENCH_DIR.parent)
    secs = time.perf_counter() - t
    log(f"{name}: exit {rc} after {secs:.0f} s")
    path = report.write_summary(report.contract.RESULTS_DIR, day)
    log(f"summary: {path.relative_to(BENCH_DIR.parent)}")
    return {"scenario": name, "status": "ok" if rc == 0 else f"failed ({rc})", "seconds": secs}


def plan_all(args) -> list[tuple[str, list[str]]]:
    quick = args.quick
    core = ["--scenario", "all"]
    if quick:
        core += ["--repeat", "2", "--orders", "200", "--pgbench-seconds", "5",
                 "--http-requests", "240", "--large-repeat", "3", "--profile-orders", "200",
                 "--wait-idle", "10"]
    history = ["--orders-history", str(args.orders_history or (100_000 if quick else 1_000_000))]
    if args.reuse_history:
        history.append("--reuse")
    peak = ["--orders", str(args.peak_orders or (5_800 if quick else 58_000)),
            "--max-seconds", str(args.peak_max_seconds)]
    contention = ["--repeat", "2" if quick else "3"]
    return [("core", core), ("contention", contention), ("peak-day", peak), ("history", history),
            ("sweep", []), ("first-touch", []), ("delivery-note", ["--runs", "3" if quick else "5"]),
            ("intake-gateway", ["--rows", "10000", "--seconds", "10"] if quick else [])]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = ["list", "all", "summary", *COMMANDS]
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in names:
        print(__doc__)
        print("scenarios: " + ", ".join(names))
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    cmd, rest = argv[0], argv[1:]
    day = date.today().isoformat()
    if cmd in ("all", "summary") and "--date" in rest:  # results (and report) under another date
        i = rest.index("--date")
        day = rest[i + 1]
        rest = rest[:i] + rest[i + 2:]
    if cmd == "list":
        for sc in report.SCENARIOS:
            state = "built" if sc.built(BENCH_DIR) else "not built"
            print(f"{sc.name:16s} {state:10s} bench/{sc.module:16s} {sc.what}")
        return 0
    if cmd == "summary":
        path = report.write_summary(report.contract.RESULTS_DIR, day)
        print(path.read_text())
        return 0
    if cmd != "all":
        res = run(cmd, rest, day)
        return 0 if res["status"] in ("ok", "not built") else 1
    ap = argparse.ArgumentParser(prog="bench all")
    ap.add_argument("--quick", action="store_true", help="scaled-down run (about 12 minutes)")
    ap.add_argument("--orders-history", type=int, help="orders in the history scenario")
    ap.add_argument("--reuse-history", action="store_true",
                    help="keep an already loaded history database")
    ap.add_argument("--peak-orders", type=int, help="orders in the peak-day scenario")
    ap.add_argument("--peak-max-seconds", type=float, default=480.0)
    args = ap.parse_args(rest)
    started = time.perf_counter()
    done = []
    for name, extra in plan_all(args):
        if name == "core":
            t = time.perf_counter()
            rc = subprocess.call([sys.executable, str(BENCH_DIR / "run.py"), *extra, "--date", day],
                                 cwd=BENCH_DIR.parent)
            done.append({"scenario": "run.py (pgbench, intake, memory, large-order, queries)",
                         "status": "ok" if rc == 0 else f"failed ({rc})",
                         "seconds": time.perf_counter() - t})
        else:
            done.append(run(name, extra, day))
    path = report.write_summary(report.contract.RESULTS_DIR, day)
    total = time.perf_counter() - started
    log(f"finished in {total:.0f} s: "
        + "; ".join(f"{d['scenario']} {d['status']} {d['seconds']:.0f} s" for d in done))
    print(path.read_text())
    return 0 if all(d["status"] in ("ok", "not built") for d in done) else 1


if __name__ == "__main__":
    raise SystemExit(main())

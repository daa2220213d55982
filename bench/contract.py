"""The benchmark result contract: one JSON file per scenario run.

    bench/results/<YYYY-MM-DD>-<scenario>.json =
      {"scenario", "date", "commit", "machine": {"cpus": n, ...},
       "figures": [{"name", "unit", "goal", "goal_value", "better", "runs", "median", "p99",
                    "verdict", "miss_by_pct", "conditions", ...}],
       "notes": [...], ...scenario-specific detail...}

Nothing here imports Django: the summary builder and the tests use it without a database.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from datetime import date as date_cls
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

UNITS = {"ms", "s", "orders/s", "rows/s", "count", "MB", "tps", "queries", "%"}
VERDICTS = {"PASS", "MISS", "info", "not built"}

# Said in every figure's conditions unless the run says otherwise: the figures of this branch
# were measured on a 2-core VM shared with other sessions' builds and tests.
SHARED_MACHINE = "shared 2-core VM (other work running; compare only runs taken together)"


def percentile(values, q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return float(xs[0])
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _round(x, digits: int = 4):
    if x is None:
        return None
    if isinstance(x, float):
        return round(x, digits)
    return x


def figure(name: str, unit: str, runs, *, goal: str | None = None,
           goal_value: float | None = None, better: str = "lower", conditions: str = "",
           judged_on: str = "median", verdict: str | None = None, p99: bool = True,
           **extra) -> dict:
    """One figure of the contract. ``runs`` are the measured values (repeats, or every
    request's latency); the verdict compares ``judged_on`` (median, p95, p99 or max of the
    runs) with ``goal_value`` in the direction ``better``. Without a goal the verdict is
    ``info``; with no runs (the part was not measured) it is ``not built`` or the one given."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    values = [float(v) for v in runs if v is not None]
    med = statistics.median(values) if values else None
    stats = {"median": med, "p95": percentile(values, 95), "p99": percentile(values, 99),
             "max": max(values) if values else None}
    if judged_on not in stats:
        raise ValueError(f"judged_on must be one of {sorted(stats)}")
    judged = stats[judged_on]
    miss = None
    if verdict is None:
        if not values:
            verdict = "not built"
        elif goal_value is None:
            verdict = "info"
        else:
            ok = judged < goal_value if better == "lower" else judged >= goal_value
            verdict = "PASS" if ok else "MISS"
            if not ok:
                gap = (judged - goal_value) if better == "lower" else (goal_value - judged)
                miss = round(gap / goal_value * 100, 1) if goal_value else None
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {sorted(VERDICTS)}, not {verdict!r}")
    out = {"name": name, "unit": unit, "goal": goal, "goal_value": goal_value, "better": better,
           "runs": [_round(v) for v in values], "median": _round(med),
           "p99": _round(stats["p99"]) if p99 and len(values) > 1 else None,
           "verdict": verdict, "miss_by_pct": miss, "conditions": conditions,
           "judged_on": judged_on}
    if judged_on not in ("median", "p99"):
        out[judged_on] = _round(judged)
    out.update(extra)
    return out


def not_built(name: str, unit: str, reason: str, *, goal: str | None = None,
              goal_value: float | None = None, better: str = "lower") -> dict:
    """A figure whose part does not exist: never a number."""
    return figure(name, unit, [], goal=goal, goal_value=goal_value, better=better,
                  conditions=reason, verdict="not built")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def basic_machine() -> dict:
    """CPU count/model, RAM, Python; the scenario adds Django and PostgreSQL versions."""
    model = ""
    mem_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem_gb": mem_gb,
            "python": platform.python_version(), "platform": platform.platform(),
            # how busy the machine was (1/5/15-minute load averages) when the result was written
            "loadavg_at_write": [round(x, 2) for x in os.getloadavg()]}


def result_path(scenario: str, day: str, results_dir: Path = RESULTS_DIR) -> Path:
    return results_dir / f"{day}-{scenario}.json"


def write_result(scenario: str, figures: list[dict], *, notes: list[str] | None = None,
                 day: str | None = None, machine: dict | None = None, detail: dict | None = None,
                 results_dir: Path = RESULTS_DIR) -> Path:
    """Write ``<day>-<scenario>.json`` in the contract; ``detail`` keys go alongside."""
    day = day or date_cls.today().isoformat()
    m = basic_machine()
    m.update(machine or {})
    m.setdefault("cpus", os.cpu_count())
    payload = {"scenario": scenario, "date": day, "commit": git_commit(), "machine": m,
               "figures": figures, "notes": list(notes or [])}
    for k, v in (detail or {}).items():
        payload.setdefault(k, v)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = result_path(scenario, day, results_dir)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    return path

"""The one report: ``bench/results/<date>-summary.md`` from the newest result of every scenario.

    .venv/bin/python bench/report.py            # rebuild today's summary from what is there

Every scenario of :data:`SCENARIOS` gets its rows: the figures of its newest result JSON (by
the date in the file name, then modification time), or one ``not built`` row when the module
that measures it does not exist, or one ``not run`` row when it exists but has no result yet.
Results of scenarios this registry does not know (written by other modules) are listed too.
No Django, no database: the builder only reads JSON files.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from datetime import date as date_cls
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contract  # noqa: E402

NAME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})-(.+)\.json$")


@dataclass(frozen=True)
class Scenario:
    name: str
    module: str          # file under bench/ that produces it
    what: str
    part: str = ""       # a source file under src/ the scenario measures ("" = always there)

    def built(self, bench_dir: Path) -> bool:
        if not (bench_dir / self.module).exists():
            return False
        return not self.part or (bench_dir.parent / self.part).exists()


SCENARIOS: list[Scenario] = [
    Scenario("pgbench", "run.py", "PostgreSQL single-row INSERT commit rate (the ceiling)"),
    Scenario("intake-services", "run.py", "orders/s through order_create at 1/4/16 processes"),
    Scenario("intake-http", "run.py", "orders/s through POST /api/orders at 1/4/16 clients"),
    Scenario("memory", "run.py", "peak RSS of a gunicorn web worker (and a Celery worker)"),
    Scenario("large-order", "run.py", "1,000-line order through guards and reservation"),
    Scenario("queries", "run.py", "SQL statements per order for 1–1,000 lines"),
    Scenario("peak-day", "peak_day.py", "58,000 T3 orders: intake, guards, reservation"),
    Scenario("contention", "contention.py", "32 clients reserving the last 100 units"),
    Scenario("datagen", "datagen.py", "history loader: 1,000,000 orders by COPY"),
    Scenario("history", "history.py", "pages and KPI queries at 1,000,000 orders"),
    Scenario("pages", "pages.py", "pages at 100,000 orders (issue 3)"),
    Scenario("board-live", "board_live.py", "20 open boards polling under 25 orders/s intake (issue 20)"),
    Scenario("sweep", "sweep_bench.py", "overdue detection over 1,000,000 open stages"),
    Scenario("first-touch", "notify_bench.py", "order created → notification received"),
    Scenario("intake-gateway", "intake_bench.py",
             "100,000-row marketplace CSV import; signed webhooks acknowledged at 200/s"),
    Scenario("delivery-note", "delivery_note.py", "1,000-line delivery note as PDF (made anew, printed again)"),
]


def find_results(results_dir: Path) -> dict[str, Path]:
    """Newest result file per scenario name (date in the name, then mtime)."""
    best: dict[str, tuple[str, float, Path]] = {}
    for path in results_dir.glob("*.json"):
        m = NAME_RE.match(path.name)
        if not m:
            continue
        day, scenario = m.groups()
        key = (day, path.stat().st_mtime)
        if scenario not in best or key > best[scenario][:2]:
            best[scenario] = (day, path.stat().st_mtime, path)
    return {k: v[2] for k, v in best.items()}


def _fmt(x, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        x = f"{x:.4g}" if abs(x) < 1000 else f"{x:,.0f}"
    return f"{x} {unit}".strip()


def _rows_for(scenario: str, payload: dict, source: str) -> list[list[str]]:
    figures = payload.get("figures")
    if not isinstance(figures, list):
        return [[scenario, "(result in the old format, no figures)", "–", "–", "–", "not run",
                 "–", source]]
    rows = []
    for f in figures:
        verdict = f.get("verdict", "info")
        if verdict == "not built":
            med = p99 = "not built"
        else:
            med, p99 = _fmt(f.get("median"), f.get("unit", "")), _fmt(f.get("p99"), f.get("unit", ""))
            if f.get("judged_on") not in (None, "median", "p99") and f.get(f["judged_on"]) is not None:
                med += f" ({f['judged_on']} {_fmt(f[f['judged_on']], f.get('unit', ''))})"
        miss = f.get("miss_by_pct")
        rows.append([scenario, f.get("name", "?"), f.get("goal") or "–", med, p99, verdict,
                     f"{miss}%" if miss is not None else "–", source])
    if not rows:
        rows.append([scenario, "(no figures)", "–", "–", "–", "info", "–", source])
    return rows


def machine_line(payloads: list[dict]) -> list[str]:
    """Machine and versions from the newest result that records them."""
    ms = [p.get("machine") or {} for p in sorted(payloads, key=lambda p: p.get("date", ""))]
    m: dict = {}
    for x in ms:  # newer values win, older fill gaps
        m.update({k: v for k, v in x.items() if v not in (None, "", {})})
    pg = m.get("postgresql")
    if isinstance(pg, dict):
        pg = pg.get("server_version")
    cpus = m.get("cpus", m.get("cpu_count"))
    return ["| CPUs | CPU model | RAM | Python | Django | PostgreSQL |",
            "|---|---|---|---|---|---|",
            f"| {cpus} | {m.get('cpu_model', '?')} | {m.get('mem_gb', '?')} GB | "
            f"{m.get('python', '?')} | {m.get('django', '?')} | {pg or '?'} |", ""]


def build_summary(results_dir: Path = contract.RESULTS_DIR, *, day: str | None = None,
                  scenarios: list[Scenario] | None = None,
                  bench_dir: Path = contract.BENCH_DIR) -> str:
    """The Markdown report text (see the module docstring)."""
    day = day or date_cls.today().isoformat()
    scenarios = SCENARIOS if scenarios is None else scenarios
    found = find_results(results_dir)
    known = {s.name for s in scenarios}
    rows: list[list[str]] = []
    payloads: list[dict] = []
    commits: dict[str, str] = {}
    notes: list[str] = []
    order = [(s.name, s) for s in scenarios] + [(n, None) for n in sorted(found) if n not in known]
    for name, sc in order:
        if sc is not None and not sc.built(bench_dir):
            missing = sc.module if not (bench_dir / sc.module).exists() else sc.part
            rows.append([name, sc.what, "–", "not built", "not built", "not built", "–",
                         f"{missing} does not exist"])
            continue
        path = found.get(name)
        if path is None:
            rows.append([name, sc.what if sc else name, "–", "–", "–", "not run", "–",
                         "no result file"])
            continue
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            rows.append([name, f"(unreadable result: {exc})", "–", "–", "–", "not run", "–",
                         path.name])
            continue
        payloads.append(payload)
        commit = str(payload.get("commit") or (payload.get("machine") or {}).get("git_commit") or "")
        load = (payload.get("machine") or {}).get("loadavg_at_write") or \
            (payload.get("machine") or {}).get("loadavg_at_start")
        commits[name] = commit[:10] + (f"` (load avg {load[0]:.1f})" if load else "`")
        rows += _rows_for(name, payload, f"{path.name} @ {commit[:10] or '?'}")
        for n in payload.get("notes") or []:
            notes.append(f"- **{name}**: {n}")
    ceiling = _ceiling_line(found)
    lines = [f"# OrderHub benchmark summary ({day})", "",
             *machine_line(payloads),
             "Commit measured per scenario: "
             + (", ".join(f"{k} `{v}" for k, v in commits.items()) or "none")
             + ". The load average is the machine's (2 CPUs: above 2 means other work competed).",
             "Each row is the newest result of its scenario; medians and p99 over the runs "
             "listed in the JSON. `not built` = the part or its benchmark does not exist yet "
             "(no number is given for it).", ""]
    if ceiling:
        lines += [ceiling, ""]
    lines += ["| scenario | figure | goal | median | p99 | verdict | miss by | source |",
              "|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def _figures(path: Path | None) -> list[dict]:
    if path is None:
        return []
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [f for f in payload.get("figures") or [] if f.get("median") is not None]


def _figure(path: Path | None, prefix: str) -> dict | None:
    return next((f for f in _figures(path) if f.get("name", "").startswith(prefix)), None)


def _ceiling_line(found: dict[str, Path]) -> str:
    """Intake as a fraction of PostgreSQL's own single-client commit rate."""
    pg = _figure(found.get("pgbench"), "pgbench single-client")
    one = _figure(found.get("intake-services"), "order_create, 1 process")
    batch = next((f for f in _figures(found.get("intake-services"))
                  if f["name"].startswith("order_create_batch") and f["name"].endswith(", 1 process(es): orders/s")),
                 None)
    http = _figure(found.get("intake-http"), "POST /api/orders, best")
    if not pg:
        return ""
    parts = [f"Ceiling: PostgreSQL commits {pg['median']:.0f} single-row INSERTs/s from one client "
             "(pgbench)."]
    if one:
        parts.append(f"One intake process reaches {one['median']:.1f} orders/s with one transaction "
                     f"per order = {one['median'] / pg['median'] * 100:.1f}% of it")
    if batch:
        parts.append(f"{'and' if one else 'One intake process reaches'} {batch['median']:.1f} "
                     f"orders/s through order_create_batch = {batch['median'] / pg['median'] * 100:.1f}%")
    if one or batch:
        parts[-1] += " (goal ≥ 33.3%, i.e. ≤ 3 bare commits per order)."
    if http:
        parts.append(f"Best HTTP intake: {http['median']:.1f} orders/s = "
                     f"{http['median'] / pg['median'] * 100:.1f}%.")
    return " ".join(parts)


def write_summary(results_dir: Path = contract.RESULTS_DIR, day: str | None = None) -> Path:
    day = day or date_cls.today().isoformat()
    path = results_dir / f"{day}-summary.md"
    path.write_text(build_summary(results_dir, day=day))
    return path


if __name__ == "__main__":
    p = write_summary()
    print(p.read_text())

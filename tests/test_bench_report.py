"""The benchmark result contract and the summary builder (bench/contract.py, bench/report.py).

Pure file work: no database, no Django models.
"""

import json
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import contract  # noqa: E402
import report  # noqa: E402

pytestmark = pytest.mark.smoke


def test_figure_verdicts_and_miss_by():
    lower = contract.figure("wall", "s", [100, 130, 140], goal="< 120 s", goal_value=120)
    assert lower["median"] == 130 and lower["verdict"] == "MISS"
    assert lower["miss_by_pct"] == pytest.approx(8.3)
    higher = contract.figure("rate", "orders/s", [450, 400, 500], goal=">= 500 orders/s",
                             goal_value=500, better="higher")
    assert higher["verdict"] == "MISS" and higher["miss_by_pct"] == pytest.approx(10.0)
    ok = contract.figure("rate", "orders/s", [600, 700], goal_value=500, better="higher")
    assert ok["verdict"] == "PASS" and ok["miss_by_pct"] is None
    info = contract.figure("ctx", "tps", [4000, 4400])
    assert info["verdict"] == "info"


def test_figure_judged_on_p95_uses_the_tail():
    runs = [10.0] * 90 + [500.0] * 10   # median fine, tail not
    f = contract.figure("board", "ms", runs, goal="p95 < 300 ms", goal_value=300, judged_on="p95")
    assert f["median"] == 10.0
    assert f["verdict"] == "MISS" and f["p95"] == pytest.approx(500.0)


def test_no_runs_is_not_built_never_a_number():
    f = contract.not_built("celery worker peak RSS", "MB", "orderhub.celery does not exist")
    assert f["verdict"] == "not built" and f["median"] is None and f["runs"] == []
    assert contract.figure("x", "ms", [], goal_value=1)["verdict"] == "not built"


def _write(results: Path, name: str, payload: dict, mtime: float | None = None) -> None:
    p = results / name
    p.write_text(json.dumps(payload))
    if mtime is not None:
        os.utime(p, (mtime, mtime))


def test_summary_takes_the_newest_result_of_every_scenario_and_lists_missing_ones(tmp_path):
    bench = tmp_path / "bench"
    results = bench / "results"
    results.mkdir(parents=True)
    (bench / "run.py").write_text("")
    (bench / "peak_day.py").write_text("")
    scenarios = [report.Scenario("intake-services", "run.py", "intake"),
                 report.Scenario("peak-day", "peak_day.py", "peak"),
                 report.Scenario("sweep", "sweep_bench.py", "sweep"),
                 report.Scenario("celery", "run.py", "celery", part="src/orderhub/celery.py")]
    old = {"scenario": "intake-services", "date": "2026-11-01", "commit": "a" * 40,
           "machine": {"cpus": 2}, "figures": [contract.figure(
               "order_create, 1 process", "orders/s", [99.0], goal_value=500, better="higher")]}
    new = {"scenario": "intake-services", "date": "2026-11-30", "commit": "b" * 40,
           "machine": {"cpus": 2, "cpu_model": "TestCPU", "django": "5.2", "python": "3.11",
                       "postgresql": {"server_version": "15.2"}, "mem_gb": 8},
           "figures": [contract.figure("order_create, 1 process", "orders/s", [210.0, 230.0, 250.0],
                                       goal=">= 500", goal_value=500, better="higher")],
           "notes": ["where the time goes: Python 60 %"]}
    _write(results, "2026-11-01-intake-services.json", old, mtime=2_000_000_000)
    _write(results, "2026-11-30-intake-services.json", new, mtime=1_000_000_000)
    # written by another module this registry does not know: listed as well
    _write(results, "2026-11-30-extra.json", {"scenario": "extra", "figures": [
        contract.figure("thing", "count", [0], goal="= 0", goal_value=1)]})

    text = report.build_summary(results, day="2026-11-30", scenarios=scenarios, bench_dir=bench)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()
            if line.startswith("| ") and not line.startswith(("| scenario", "| CPUs", "| 2 "))}
    assert "230 orders/s" in rows["intake-services"] and "MISS" in rows["intake-services"]
    assert "54.0%" in rows["intake-services"]            # (500 - 230) / 500
    assert "99" not in rows["intake-services"]           # the older file lost despite its mtime
    assert "b" * 10 in rows["intake-services"]
    assert "not run" in rows["peak-day"]                 # module there, no result yet
    sweep = rows["sweep"]
    assert "not built" in sweep and "sweep_bench.py does not exist" in sweep
    assert not any(ch.isdigit() for ch in sweep.split("|")[4])   # median cell: no number
    assert "not built" in rows["celery"] and "src/orderhub/celery.py" in rows["celery"]
    assert "thing" in rows["extra"]
    assert "| 2 | TestCPU | 8 GB | 3.11 | 5.2 | 15.2 |" in text   # the machine table
    assert "where the time goes" in text


def test_not_built_figure_inside_a_result_is_shown_as_not_built(tmp_path):
    bench = tmp_path / "bench"
    results = bench / "results"
    results.mkdir(parents=True)
    (bench / "run.py").write_text("")
    _write(results, "2026-11-30-memory.json", {"scenario": "memory", "figures": [
        contract.figure("gunicorn worker peak RSS", "MB", [80.5, 82.0]),
        contract.not_built("Celery worker peak RSS", "MB", "no orderhub.celery")]})
    text = report.build_summary(results, day="2026-11-30", bench_dir=bench,
                                scenarios=[report.Scenario("memory", "run.py", "memory")])
    celery = next(line for line in text.splitlines() if "Celery worker" in line)
    cells = [c.strip() for c in celery.split("|")]
    assert cells[4] == "not built" and cells[5] == "not built" and cells[6] == "not built"


def test_ceiling_line_shows_intake_as_a_fraction_of_pgbench(tmp_path):
    results = tmp_path
    _write(results, "2026-11-30-pgbench.json", {"scenario": "pgbench", "figures": [
        contract.figure("pgbench single-client commit rate", "tps", [4000.0])]})
    _write(results, "2026-11-30-intake-services.json", {"scenario": "intake-services", "figures": [
        contract.figure("order_create, 1 process", "orders/s", [200.0])]})
    text = report.build_summary(results, day="2026-11-30", scenarios=[], bench_dir=tmp_path)
    assert "4000 single-row INSERTs/s" in text and "= 5.0% of it" in text
    _write(results, "2026-11-30-intake-services.json", {"scenario": "intake-services", "figures": [
        contract.figure("order_create, 1 process", "orders/s", [200.0]),
        contract.figure("order_create_batch (100/transaction), 1 process(es): orders/s", "orders/s",
                        [1400.0]),
        contract.figure("order_create_batch (100/transaction), 2 process(es): orders/s", "orders/s",
                        [2000.0])]})
    text = report.build_summary(results, day="2026-11-30", scenarios=[], bench_dir=tmp_path)
    assert "= 5.0% of it and 1400.0 orders/s through order_create_batch = 35.0% (goal" in text


def test_write_result_follows_the_contract(tmp_path):
    path = contract.write_result("contention", [contract.figure("oversold", "count", [0, 0],
                                                                goal="= 0", goal_value=1)],
                                 notes=["n"], day="2026-11-30", results_dir=tmp_path,
                                 machine={"django": "5.2"})
    data = json.loads(path.read_text())
    assert path.name == "2026-11-30-contention.json"
    assert set(data) >= {"scenario", "date", "commit", "machine", "figures", "notes"}
    assert data["machine"]["cpus"] >= 1 and data["machine"]["django"] == "5.2"
    f = data["figures"][0]
    assert set(f) >= {"name", "unit", "goal", "goal_value", "better", "runs", "median", "p99",
                      "verdict", "miss_by_pct", "conditions"}
    assert f["verdict"] == "PASS"


def test_orderhub_bench_list_reports_each_scenario_built_or_not():
    import subprocess

    out = subprocess.run([sys.executable, "-m", "orderhub.cli", "bench", "list"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    for sc in report.SCENARIOS:
        line = next(ln for ln in out.splitlines() if ln.split()[0] == sc.name)
        assert ("not built" in line) == (not (BENCH / sc.module).exists()), line

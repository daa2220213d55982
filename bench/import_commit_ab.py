"""A/B of the parallel import's chunk commits: synchronous (A) against ``synchronous_commit =
off`` (B, what ships), alternating on fresh files, 2 workers, in a benchmark database that
``intake_bench.py`` set up (seeded)::

    .venv/bin/python bench/import_commit_ab.py --rows 10000 --rounds 2 --db orderhub_bench_intake

One JSON line per import: rows/s, CPU ms per row (import processes, PostgreSQL), how busy the
machine was, and whether the import made what the file holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import intake_bench as ib  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--db", default=ib.DB)
    args = ap.parse_args(argv)
    ib.DB, ib.URL = args.db, f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{args.db}"
    common.DB_NAME = args.db
    common.bootstrap(ib.URL)
    from orderhub.intake.services import parallel

    shipped = parallel._commit_without_flush
    for r in range(args.rounds):
        for k, mode in enumerate(("sync", "no_flush")):
            parallel._commit_without_flush = shipped if mode == "no_flush" else (lambda: None)
            content, expect = ib.taobao_csv(args.rows, seed=500 + 2 * r + k, tag=60 + 2 * r + k)
            common.vacuum_analyze_url(ib.URL)
            res = ib.import_once(content, workers=2)
            job = res["job"]
            ok = (job["orders_created"], job["duplicates"], job["rows_failed"]) == (
                expect["orders"], expect["duplicates"], expect["refused"])
            print(json.dumps({"mode": mode, "rows_s": round(args.rows / res["wall_s"]),
                              "cpu_ms_row": round(1000 * res["cpu_s"] / args.rows, 3),
                              "pg_cpu_ms_row": round(1000 * (res["pg_cpu_s"] or 0) / args.rows, 3),
                              "machine_busy_pct": round(res["machine_busy_pct"] or 0, 1), "as_expected": ok}),
                  flush=True)
    parallel._commit_without_flush = shipped
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

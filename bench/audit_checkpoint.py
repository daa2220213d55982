"""The audit checkpoint job (``orderhub.core.checkpoints``) at a million orders: wall time,
statements, file size and peak memory of (1) the first checkpoint, (2) one with nothing changed,
(3) one after 1 % of the heads moved on (each confirmed against its chain).

Standalone (not a scenario of bench.py; issue 12 asked for the job to be cheap at 1M orders).
Synthetic data in a database of its own: N order rows carrying a head, and events only where the
job reads them (the previous head of the orders that move). Needs a PostgreSQL superuser::

    .venv/bin/python bench/audit_checkpoint.py --orders 1000000 \\
        --admin-url postgres://postgres@127.0.0.1:5432/postgres --db orderhub_cpbench
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import psycopg


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--moved-pct", type=float, default=1.0)
    ap.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--db", default="orderhub_cpbench")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = ap.parse_args()
    base = args.admin_url.rsplit("/", 1)[0]
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    os.environ["DATABASE_URL"] = f"{base}/{args.db}"
    os.environ.setdefault("ORDERHUB_DATA_DIR", tempfile.mkdtemp(prefix="cpbench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "orderhub.settings"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orderhub.catalog.models import Customer
    from orderhub.core.actors import Actor
    from orderhub.core.checkpoints import checkpoint_write
    from orderhub.workflow.services import workflow_install_templates

    try:
        t = time.monotonic()
        call_command("migrate", verbosity=0)
        workflow_install_templates(actor=Actor.system("bench"))
        n, moved = args.orders, int(args.orders * args.moved_pct / 100)
        cust = Customer.objects.create(code="C1", name="bench", tier="A", credit_limit=0).pk
        with connection.cursor() as cur:
            cur.execute("SELECT id FROM workflow_workflowdefinition ORDER BY id LIMIT 1")
            wf = cur.fetchone()[0]
            cur.execute(f"""
                INSERT INTO orders_order (id, number, channel, customer_id, workflow_id, stage, stage_entered_at,
                  status, on_hold, hold_reason, required_date, urgency, currency, total_amount, remarks, tags,
                  version, blocked_reasons, forced, intake_hash, intake, audit_seq, audit_head, created_at,
                  created_by, updated_at)
                SELECT i, 'SO-261201-' || lpad(i::text, 7, '0'), 'api', {cust}, {wf}, 'pending', now(), 'open',
                  false, '', current_date, 'green', 'CNY', 0, '', '[]', 1, '[]', false, '', '{{}}', 1,
                  md5(i::text) || md5('x' || i), now(), 'bench', now()
                FROM generate_series(1, {n}) i""")
            cur.execute(f"""
                INSERT INTO core_auditevent (subject_type, subject_id, seq, at, action, actor_kind, actor_id,
                  actor_label, user_agent, request_id, changes, data, reason, forced, prev_hash, hash, key_id)
                SELECT 'order', i, 1, now(), 'order.created', 'system', 'b', 'b', '', '', '{{}}', '{{}}', '',
                  false, '', md5(i::text) || md5('x' || i), 'bench'
                FROM generate_series(1, {moved}) i""")
        connection.close()
        with psycopg.connect(f"{base}/{args.db}", autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
        print(f"loaded {n} orders in {time.monotonic() - t:.0f} s", flush=True)
        out = {"orders": n, "moved": moved}
        for step in ("first", "unchanged", "moved"):
            if step == "moved":
                with connection.cursor() as cur:
                    cur.execute(f"UPDATE orders_order SET audit_seq = 2, audit_head = md5('y' || id) || md5('z' || id) "
                                f"WHERE id <= {moved}")
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            cpu0 = time.process_time()
            with CaptureQueriesContext(connection) as ctx:
                result = checkpoint_write()
            assert not result.refused, result.refused[:3]
            out[step] = {"wall_s": round(result.seconds, 2), "python_cpu_s": round(time.process_time() - cpu0, 2),
                         "statements": len(ctx.captured_queries), "subjects": result.subjects,
                         "written": result.path is not None,
                         "file_mb": round(result.path.stat().st_size / 1e6, 1) if result.path else None,
                         "peak_rss_mb": round(max(rss0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024)}
            print(step, out[step], flush=True)
        print(json.dumps(out))
    finally:
        connection.close()
        if not args.keep:
            with psycopg.connect(args.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())

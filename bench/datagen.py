"""Order history at scale: a million orders with lines, stage histories and audit chains.

    .venv/bin/python bench/datagen.py --orders 1000000            # into orderhub_bench_b_history
    .venv/bin/python bench/datagen.py --orders 100000 --db orderhub_bench_b_small

Drops and recreates the database, migrates and seeds it (roles, users, T1–T4, 200 customers,
500 products with BOMs, stock: bench/common.py), then writes orders through bulk paths:

- every order, line, stage instance and audit event is built in Python and streamed with
  psycopg ``cursor.copy`` (COPY ... FROM STDIN) by ``--jobs`` processes in chunks;
- before the load the secondary indexes and foreign keys of the four tables are dropped and
  after it re-created from their saved definitions (one sort per index, one validation pass per
  foreign key instead of a lookup per row), then sequences are moved past the loaded ids and
  the database is VACUUM ANALYZEd.

Shape (../shared/workflows.md): T1 35 %, T2 30 %, T3 25 %, T4 10 % of orders, created evenly
over ``--days`` days up to now; channels per workflow (T2 from the mini-program webhook, T3 from
marketplace imports, ...); urgency red 10 % / yellow 25 % / green 65 %; T1 1–5 lines (≈ 2.3),
T2 1–8, T3 1–30 (wholesale), T4 1–3. Each order walks its workflow's stages from its creation
time, staying a log-normal time around the stage deadline (about a quarter overrun it); where
"now" falls it stays open, so recent orders are open and spread over the stages, some overdue.
0.5 % are stalled "zombies" (open for months), 1.5 % cancelled, 3 % of open orders on hold and
a fifth of the open orders waiting before a guarded stage are blocked (a refused move).

Bench-only simplifications (documented, not hidden): stage deadlines use wall-clock hours with a
business hour counted as 3 wall hours (the real calendar is too slow for 5 million stays); no
snapshots and no reservations are written for history orders; stock is not consumed. Audit
events are real: each order's events form a valid chain of MACs under the audit key, computed
with the project's own canonical JSON, and the order row records its head (``orderhub audit verify`` accepts them; the
loader checks a sample after the load).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import multiprocessing as mp
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import contract  # noqa: E402

DEFAULT_DB = "orderhub_bench_b_history"
TABLES = ("orders_order", "orders_orderline", "orders_stageinstance", "core_auditevent")
WF_SHARE = (("T1", 0.35), ("T2", 0.30), ("T3", 0.25), ("T4", 0.10))
CHANNELS = {"T1": (("email", 0.4), ("api", 0.3), ("manual", 0.3)),
            "T2": (("webhook", 0.9), ("manual", 0.1)),
            "T3": (("import", 0.5), ("api", 0.3), ("portal", 0.2)),
            "T4": (("manual", 0.6), ("portal", 0.4))}
LINES = {"T1": (1, 5, 2.3), "T2": (1, 8, 2.5), "T3": (1, 30, 5.0), "T4": (1, 3, 1.5)}
URGENCY = (("red", 0.10), ("yellow", 0.25), ("green", 0.65))
BUSINESS_HOUR_WALL = 3.0   # bench-only: one business hour ≈ 3 wall-clock hours
ZOMBIE, CANCELLED, HELD, BLOCKED = 0.005, 0.015, 0.03, 0.2
MAX_LINES, MAX_STAGES, MAX_EVENTS = 32, 8, 12   # id strides per order (sparse ids are fine)
BLOCK_MESSAGES = {"T1": ("bom_kitted", "物料未齐套: 304不锈钢棒 Φ25 缺 152 kg"),
                  "T3": ("stock_cover", "库存不足: M8X30 需 10500 × 1.05, 可用 8200"),
                  "T4": ("bom_kitted", "物料未齐套: 胡桃木板 缺 12 张")}

ORDER_COLS = ("id", "number", "channel", "external_ref", "customer_id", "workflow_id", "stage",
              "stage_entered_at", "stage_due_at", "status", "on_hold", "hold_reason",
              "required_date", "promised_date", "urgency", "currency", "total_amount", "remarks",
              "tags", "owner_id", "version", "blocked_reasons", "forced", "intake_hash", "intake",
              "audit_seq", "audit_head", "created_at", "created_by", "updated_at",
              "ship_to_contact", "ship_to_phone", "ship_to_address")   # the last three: empty
LINE_COLS = ("id", "order_id", "line_no", "product_id", "qty", "unit", "base_qty", "unit_price",
             "amount", "remarks", "waiting")   # waiting: open (history orders hold no reservations)
STAGE_COLS = ("id", "order_id", "stage", "owner_role", "entered_at", "due_at", "exited_at",
              "entered_by", "forced", "workflow_id")
EVENT_COLS = ("id", "subject_type", "subject_id", "seq", "at", "action", "actor_kind", "actor_id",
              "actor_label", "ip", "user_agent", "request_id", "changes", "data", "reason",
              "forced", "prev_hash", "hash", "key_id")


def log(msg: str) -> None:
    print(f"[datagen] {msg}", flush=True)


def url_for(db: str) -> str:
    return f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{db}"


def _pick(rng: random.Random, table) -> str:
    x = rng.random()
    for value, share in table:
        x -= share
        if x < 0:
            return value
    return table[-1][0]


# --------------------------------------------------------------------------- reference data


def reference(now: datetime) -> dict:
    """What the workers need, as plain data (they do not set Django up)."""
    from django.contrib.auth import get_user_model

    from orderhub.catalog.models import Customer, Product
    from orderhub.workflow.models import WorkflowDefinition
    from orderhub.workflow.services import compiled

    wfs = {}
    for wf in WorkflowDefinition.objects.filter(is_current=True, code__in=[c for c, _ in WF_SHARE]):
        spec = compiled(wf.pk).spec
        stages = []
        for s in spec.stages:
            d = s.deadline
            hours = None
            if d is not None:
                hours = float(d.business_hours) * BUSINESS_HOUR_WALL if d.business_hours else float(d.hours)
            stages.append({"code": s.code, "owner": s.owner_role, "hours": hours, "final": s.final,
                           "guarded": bool(s.guards),
                           "reserves": any(a.action == "reserve_stock" for a in s.on_enter)})
        # walk order: initial first, then each stage's first "next" (the templates are linear)
        by_code = {s["code"]: s for s in stages}
        path, code = [], spec.initial
        while code and code not in [p["code"] for p in path]:
            path.append(by_code[code])
            nxt = next((s.next for s in spec.stages if s.code == code), [])
            code = nxt[0] if nxt else None
        wfs[wf.code] = {"id": wf.pk, "stages": path}
    users = list(get_user_model().objects.filter(username__startswith="bench_")
                 .values_list("pk", "username"))
    return {
        "now": now.isoformat(),
        "workflows": wfs,
        "customers": list(Customer.objects.values_list("pk", "code")),
        "products": [(pk, sku, unit, str(price)) for pk, sku, unit, price in
                     Product.objects.values_list("pk", "sku", "unit", "list_price")],
        "users": users,
    }


# --------------------------------------------------------------------------- one order


def _hash_event(ev: dict) -> str:
    """The event's MAC under the audit key, as ``core.audit.build_event`` seals it."""
    from orderhub.core.audit import current_key, mac_hex
    from orderhub.core.canonical import canonical_json

    kid, key = current_key()
    ev["key_id"] = kid
    fields = {k: ev[k] for k in ("subject_type", "subject_id", "seq", "action", "actor_kind",
                                 "actor_id", "actor_label", "ip", "user_agent", "request_id",
                                 "changes", "data", "reason", "forced", "prev_hash", "key_id")}
    fields["at"] = ev["at"].astimezone(UTC).isoformat()
    return mac_hex(key, canonical_json(fields))


class OrderMaker:
    """Builds the rows of one order at a time (deterministic from the seed)."""

    def __init__(self, ref: dict, ids: dict, seed: int):
        self.rng = random.Random(seed)
        self.ref = ref
        self.ids = ids
        self.now = datetime.fromisoformat(ref["now"])
        self.days = ref["days"]
        self.wfs = ref["workflows"]
        self.customers = ref["customers"]
        self.products = ref["products"]
        self.users = ref["users"]

    def _lines(self, wf: str) -> int:
        lo, hi, mean = LINES[wf]
        # geometric-ish count with the given mean, clipped
        p = 1 / max(1.0, mean - lo + 1)
        n = lo + int(math.log(1 - self.rng.random()) / math.log(1 - p)) if p < 1 else lo
        return max(lo, min(hi, n))

    def make(self, idx: int):
        rng = self.rng
        from orderhub.core.canonical import canonical_json, sha256_hex

        wf = _pick(rng, WF_SHARE)
        spec = self.wfs[wf]
        stages = spec["stages"]
        order_id = self.ids["order"] + idx
        created = self.now - timedelta(seconds=rng.random() * self.days * 86400)
        cust_id, cust_code = self.customers[rng.randrange(len(self.customers))]
        user_id, username = self.users[rng.randrange(len(self.users))]
        channel = _pick(rng, CHANNELS[wf])
        ext = f"{channel}-{idx}" if channel in ("api", "webhook", "import") else None
        urgency = _pick(rng, URGENCY)
        local = created + timedelta(hours=8)   # Asia/Shanghai, for the number's date
        number = f"SO-{local:%y%m%d}-{idx + 1:06d}"
        required = (created + timedelta(days=rng.randint(3, 30))).date()
        promised = required - timedelta(days=rng.randint(0, 2)) if rng.random() < 0.3 else None

        # lines
        lines, intake_lines, total = [], [], 0
        for n in range(1, self._lines(wf) + 1):
            pid, sku, unit, price = self.products[rng.randrange(len(self.products))]
            qty = rng.randint(1, 10) * (100 if wf == "T3" else 1)
            cents = round(float(price) * 100) * qty
            total += cents
            lines.append((self.ids["line"] + idx * MAX_LINES + n, order_id, n, pid, qty, unit, qty,
                          price, f"{cents / 100:.2f}", ""))
            intake_lines.append({"sku": sku, "qty": str(qty)})
        intake = {"customer": cust_code, "lines": intake_lines, "required_date": required.isoformat(),
                  "channel": channel, "external_ref": ext, "workflow": wf}
        intake_hash = sha256_hex(canonical_json(intake))

        # the walk through the stages
        fate = rng.random()
        zombie = fate < ZOMBIE
        cancelled = ZOMBIE <= fate < ZOMBIE + CANCELLED
        stop_at = rng.randrange(len(stages) - 1) if (zombie or cancelled) else None
        visits = []   # (stage dict, entered, exited or None)
        t = created
        status = "open"
        for i, st in enumerate(stages):
            if st["final"]:
                visits.append((st, t, None))
                status = "completed"
                break
            hours = st["hours"] or 24.0
            stay = timedelta(hours=hours * math.exp(rng.gauss(math.log(0.6), 0.8)))
            if stop_at == i:
                if cancelled:
                    end = min(t + stay, self.now)
                    visits.append((st, t, end))
                    status = "cancelled"
                    t = end
                else:
                    visits.append((st, t, None))
                break
            if t + stay > self.now:
                visits.append((st, t, None))
                break
            visits.append((st, t, t + stay))
            t = t + stay
        current, entered, _ = visits[-1]
        on_hold = status == "open" and not zombie and rng.random() < HELD
        blocked = []
        nxt = stages[len(visits)] if len(visits) < len(stages) else None
        if status == "open" and nxt and nxt["guarded"] and wf in BLOCK_MESSAGES and rng.random() < BLOCKED:
            code, msg = BLOCK_MESSAGES[wf]
            blocked = [{"code": code, "message": msg}]

        # stage instances
        stage_rows = []
        for k, (st, ent, ext_at) in enumerate(visits):
            due = ent + timedelta(hours=st["hours"]) if st["hours"] and not st["final"] else None
            if status == "cancelled" and k == len(visits) - 1:
                pass  # the cancel closed it (exited set above)
            stage_rows.append((self.ids["stage"] + idx * MAX_STAGES + k, order_id, st["code"],
                               st["owner"], ent, due, ext_at, username, False, spec["id"]))
        stage_due = stage_rows[-1][5] if status == "open" else None

        # audit events: created, one per move, then hold / block / cancel
        events = []
        version = 1
        head = ("", 0)

        def add(action, at, changes, data, reason=""):
            nonlocal head
            seq = head[1] + 1
            ev = {"subject_type": "order", "subject_id": order_id, "seq": seq, "at": at,
                  "action": action, "actor_kind": "user", "actor_id": str(user_id),
                  "actor_label": username, "ip": None, "user_agent": "", "request_id": "",
                  "changes": changes, "data": data, "reason": reason, "forced": False,
                  "prev_hash": head[0]}
            ev["hash"] = _hash_event(ev)
            events.append(ev)
            head = (ev["hash"], seq)

        add("order.created", created, {"stage": [None, stages[0]["code"]], "status": [None, "open"]},
            {"intake": intake, "actions": {}})
        for k in range(1, len(visits)):
            st, ent, _ = visits[k]
            prev = visits[k - 1][0]["code"]
            changes = {"stage": [prev, st["code"]], "version": [version, version + 1]}
            if st["final"]:
                changes["status"] = ["open", "completed"]
            actions = {"reserved": len(lines)} if st["reserves"] else {}
            add("order.transitioned", ent, changes, {"from": prev, "to": st["code"], "actions": actions})
            version += 1
        last_at = visits[-1][1]
        if blocked:
            last_at = min(self.now, entered + timedelta(minutes=rng.randint(5, 600)))
            add("order.blocked", last_at, {}, {"to": nxt["code"], "reasons": blocked})
        if on_hold:
            last_at = min(self.now, entered + timedelta(minutes=rng.randint(5, 600)))
            add("order.held", last_at, {"on_hold": [False, True]}, {}, reason="税号有误，待财务确认")
            version += 1
        if status == "cancelled":
            last_at = visits[-1][2]
            add("order.cancelled", last_at, {"status": ["open", "cancelled"]}, {},
                reason="客户取消订单")
            version += 1
        event_rows = [(self.ids["event"] + idx * MAX_EVENTS + i, ev["subject_type"], ev["subject_id"],
                       ev["seq"], ev["at"], ev["action"], ev["actor_kind"], ev["actor_id"],
                       ev["actor_label"], None, "", "", json.dumps(ev["changes"], ensure_ascii=False),
                       json.dumps(ev["data"], ensure_ascii=False), ev["reason"], False,
                       ev["prev_hash"], ev["hash"], ev["key_id"])
                      for i, ev in enumerate(events)]

        order_row = (order_id, number, channel, ext, cust_id, spec["id"], current["code"], entered,
                     stage_due, status, on_hold, "税号有误，待财务确认" if on_hold else "",
                     required, promised, urgency, "CNY", f"{total / 100:.2f}", "",
                     "[]", None, version, json.dumps(blocked, ensure_ascii=False), False, intake_hash,
                     json.dumps(intake, ensure_ascii=False), head[1], head[0], created, username,
                     max(last_at, entered))
        # OrderLine.waiting as the triggers of migration orders 0022 keep it: history orders hold
        # no reservations, so a line may wait exactly when its order is open
        lines = [(*ln, status == "open") for ln in lines]
        return order_row, lines, stage_rows, event_rows


def _copy(cur, table: str, cols: tuple, rows: list) -> None:
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)


def load_chunk(args: tuple) -> dict:
    """Worker: build orders [start, start+count) and COPY them in (own connection)."""
    url, ref, ids, start, count, seed = args
    import psycopg

    src = str(common.ROOT / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    from django.apps import apps

    if not apps.ready:  # a spawned worker: the audit MAC (core.audit) reads the settings' keys
        common.bootstrap(url)
    maker = OrderMaker(ref, ids, seed)
    t0 = time.process_time()
    orders, lines, stages, events = [], [], [], []
    for idx in range(start, start + count):
        o, ls, ss, es = maker.make(idx)
        orders.append((*o, "", "", ""))
        lines += ls
        stages += ss
        events += es
    build_cpu = time.process_time() - t0
    t = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        _copy(cur, "orders_order", ORDER_COLS, orders)
        _copy(cur, "orders_orderline", LINE_COLS, lines)
        _copy(cur, "orders_stageinstance", STAGE_COLS, stages)
        _copy(cur, "core_auditevent", EVENT_COLS, events)
    return {"orders": len(orders), "lines": len(lines), "stages": len(stages),
            "events": len(events), "build_cpu_s": build_cpu, "copy_s": time.perf_counter() - t,
            "open": sum(1 for o in orders if o[9] == "open")}


# --------------------------------------------------------------------------- indexes


NEED_BOUND_TRIGGER = "orderhub_line_need_bound_ins"


def need_bounds_backfill() -> str:
    """What that trigger leaves after inserting every loaded line: the statement migration
    orders 0023 filled the table with (per product, the largest need of it one order's lines
    have)."""
    return importlib.import_module("orderhub.orders.migrations.0023_peak_line_need_bound").BACKFILL


def drop_secondary(conn) -> list[str]:
    """Drop foreign keys, unique constraints and non-primary indexes of the four tables;
    return the DDL that re-creates them (constraints after indexes)."""
    cons = conn.execute(
        """SELECT c.conname, t.relname, pg_get_constraintdef(c.oid)
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
            WHERE t.relname = ANY(%s) AND c.contype IN ('f', 'u')""", [list(TABLES)]).fetchall()
    # foreign keys *into* these tables from elsewhere stay (they reference primary keys)
    for name, table, _ in cons:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    idx = conn.execute(
        """SELECT i.relname, pg_get_indexdef(i.oid)
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relname = ANY(%s) AND NOT x.indisprimary""", [list(TABLES)]).fetchall()
    for name, _ in idx:
        conn.execute(f'DROP INDEX "{name}"')
    return [d for _, d in idx] + [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for n, t, d in cons]


def restore_secondary(conn, ddl: list[str]) -> float:
    t = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '512MB'")
    for stmt in ddl:
        conn.execute(stmt)
    return time.perf_counter() - t


def move_sequences(conn) -> None:
    for table in TABLES:
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                     f"(SELECT coalesce(max(id), 0) + 1000 FROM {table}))")
    n = conn.execute("SELECT count(*) FROM orders_order").fetchone()[0]
    conn.execute("SELECT setval('orderhub_order_number', %s)", [n + 1000])


# --------------------------------------------------------------------------- main


def generate(orders: int, *, db: str = DEFAULT_DB, days: int = 365, jobs: int = 2,
             chunk: int = 10_000, seed: int = 11, recreate: bool = True) -> dict:
    """Recreate ``db`` (unless told not to), seed it and load ``orders`` orders. Returns
    counts and the time of each phase."""
    import psycopg

    url = url_for(db)
    phases: dict[str, float] = {}
    t_all = time.perf_counter()
    if recreate:
        common.recreate_database(db)
    common.bootstrap(url)
    t = time.perf_counter()
    common.migrate()
    seeded = common.seed()
    phases["migrate_and_seed_s"] = time.perf_counter() - t
    now = datetime.now(UTC)
    ref = reference(now)
    ref["days"] = days
    with psycopg.connect(url, autocommit=True) as conn:
        ids = {k: conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {t}").fetchone()[0]
               for k, t in (("order", "orders_order"), ("line", "orders_orderline"),
                            ("stage", "orders_stageinstance"), ("event", "core_auditevent"))}
        t = time.perf_counter()
        ddl = drop_secondary(conn)
        # the line need bounds' insert trigger reads the new lines' orders by the index just
        # dropped: each chunk would read every line loaded before it (27 min for 1,000,000
        # orders instead of under 3). Off for the load; the bounds are computed once after it.
        conn.execute(f"ALTER TABLE orders_orderline DISABLE TRIGGER {NEED_BOUND_TRIGGER}")
        phases["drop_indexes_s"] = time.perf_counter() - t
    log(f"loading {orders:,} orders with {jobs} process(es), chunks of {chunk:,}")
    tasks = [(url, ref, ids, s, min(chunk, orders - s), seed * 1_000_003 + s)
             for s in range(0, orders, chunk)]
    totals = {"orders": 0, "lines": 0, "stages": 0, "events": 0, "build_cpu_s": 0.0,
              "copy_s": 0.0, "open": 0}
    t = time.perf_counter()
    ctx = mp.get_context("spawn")
    with ctx.Pool(jobs) as pool:
        for res in pool.imap_unordered(load_chunk, tasks):
            for k in totals:
                totals[k] += res[k]
            el = time.perf_counter() - t
            log(f"  {totals['orders']:,}/{orders:,} orders ({totals['orders'] / el:,.0f}/s)")
    phases["copy_s"] = time.perf_counter() - t
    with psycopg.connect(url, autocommit=True) as conn:
        log("re-creating indexes and constraints")
        phases["indexes_s"] = restore_secondary(conn, ddl)
        t = time.perf_counter()
        conn.execute(f"ALTER TABLE orders_orderline ENABLE TRIGGER {NEED_BOUND_TRIGGER}")
        conn.execute(need_bounds_backfill())
        phases["need_bounds_s"] = time.perf_counter() - t
        move_sequences(conn)
        t = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")
        phases["vacuum_analyze_s"] = time.perf_counter() - t
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    phases["total_s"] = time.perf_counter() - t_all
    t = time.perf_counter()
    checked, breaks = verify_sample(200)
    phases["verify_sample_s"] = time.perf_counter() - t
    out = {"orders": totals["orders"], "lines": totals["lines"], "stage_instances": totals["stages"],
           "audit_events": totals["events"], "open_orders": totals["open"],
           "build_cpu_s": round(totals["build_cpu_s"], 1), "copy_worker_s": round(totals["copy_s"], 1),
           "db_size_mb": round(size / 1024 / 1024), "seed_data": seeded, "days": days,
           "jobs": jobs, "chunk": chunk, "database": db,
           "audit_sample": {"events_checked": checked, "breaks": [str(b) for b in breaks[:5]]},
           **{k: round(v, 1) for k, v in phases.items()}}
    log(f"done: {out}")
    if breaks:
        raise SystemExit(f"audit chains of the loaded orders do not verify: {breaks[:3]}")
    return out


def verify_sample(n: int) -> tuple[int, list]:
    """Walk the audit chains of ``n`` random loaded orders with the project's verifier code
    and compare with the heads the orders record."""
    from orderhub.core.audit import event_seal_matches, keyring
    from orderhub.core.models import AuditEvent
    from orderhub.orders.models import Order

    picks = list(Order.objects.order_by("?").values_list("pk", "audit_seq", "audit_head")[:n]) \
        if Order.objects.count() <= 200_000 else _sample_orders(n)
    breaks, checked, keys = [], 0, keyring()
    for pk, seq, head in picks:
        prev, last = "", 0
        for ev in AuditEvent.objects.filter(subject_type="order", subject_id=pk).order_by("seq"):
            checked += 1
            if ev.prev_hash != prev or not event_seal_matches(ev, keys) or ev.seq != last + 1:
                breaks.append(f"order {pk} #{ev.seq} (event {ev.pk}): does not verify")
            prev, last = ev.hash, ev.seq
        if (last, prev) != (seq, head):
            breaks.append(f"order {pk} #{seq}: head does not match")
    return checked, breaks


def _sample_orders(n: int):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT id, audit_seq, audit_head FROM orders_order TABLESAMPLE SYSTEM (1) "
                    "LIMIT %s", [n])
        return cur.fetchall()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--db", default=DEFAULT_DB,
                    help="database to drop, recreate and fill (must start with orderhub_bench_b)")
    ap.add_argument("--days", type=int, default=365, help="history spans this many days up to now")
    ap.add_argument("--jobs", type=int, default=2, help="loader processes")
    ap.add_argument("--chunk", type=int, default=10_000, help="orders per COPY batch")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--date", default=date.today().isoformat())
    args = ap.parse_args(argv)
    if not args.db.startswith("orderhub_bench_b"):
        raise SystemExit("--db must start with orderhub_bench_b (this bench drops it)")
    res = generate(args.orders, db=args.db, days=args.days, jobs=args.jobs, chunk=args.chunk,
                   seed=args.seed)
    path = write_result(res, args.date)
    log(f"wrote {path}")
    return 0


def write_result(res: dict, day: str) -> Path:
    import django

    cond = (f"{res['orders']:,} orders over {res['days']} days, {res['jobs']} loader process(es); "
            f"{contract.SHARED_MACHINE}")
    figs = [contract.figure("datagen: load time (seed, COPY, indexes, VACUUM ANALYZE)", "s",
                            [res["total_s"]], goal="minutes for 1,000,000 orders (< 10 min)"
                            if res["orders"] >= 1_000_000 else None,
                            goal_value=600 if res["orders"] >= 1_000_000 else None,
                            conditions=cond, p99=False),
            contract.figure("datagen: orders loaded per second (whole load)", "orders/s",
                            [res["orders"] / res["total_s"]], better="higher", conditions=cond,
                            p99=False)]
    busy = res["build_cpu_s"] + res["copy_worker_s"]
    notes = [f"Loaded {res['orders']:,} orders, {res['lines']:,} lines, {res['stage_instances']:,} "
             f"stage instances, {res['audit_events']:,} audit events ({res['open_orders']:,} open); "
             f"database {res['db_size_mb']:,} MB. Phases: migrate+seed {res['migrate_and_seed_s']} s, "
             f"COPY {res['copy_s']} s (Python build CPU {res['build_cpu_s']} s over the workers), "
             f"indexes+constraints {res['indexes_s']} s, line need bounds {res['need_bounds_s']} s, "
             f"VACUUM ANALYZE {res['vacuum_analyze_s']} s.",
             f"Where the time goes: the loader processes were busy {busy:.0f} s in all (building rows "
             f"in Python {res['build_cpu_s']} s CPU, COPY {res['copy_worker_s']} s) over a COPY phase of "
             f"{res['copy_s']} s with {res['jobs']} processes, i.e. they ran "
             f"{busy / (res['copy_s'] * res['jobs']) * 100:.0f}% of the time; on a quiet machine the "
             f"COPY phase would take about {busy / res['jobs']:.0f} s.",
             f"Audit chains of a sample verified: {res['audit_sample']['events_checked']} events, "
             f"{len(res['audit_sample']['breaks'])} breaks."]
    return contract.write_result("datagen", figs, notes=notes, day=day,
                                 machine={"django": django.get_version()}, detail={"load": res})


if __name__ == "__main__":
    raise SystemExit(main())

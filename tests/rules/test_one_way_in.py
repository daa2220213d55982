"""One way in: everything rules, ladders and the overdue sweep write into orders' tables goes
through order-owned services (``orders.services.overdue``, ``orders.services.escalation``, the
order services). Checked twice: statically over ``rules/`` (no orders table named, no SQL, no
write method called on an orders model) and at run time (every write on an orders table made
while rules code runs is issued from orders' own modules)."""

import ast
import re
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection

import orderhub
from orderhub.core import clock
from orderhub.orders import services
from orderhub.orders.models import EscalationStep, StageInstance
from orderhub.rules import engine
from orderhub.rules.ladders import ladder_fire_due
from orderhub.rules.services import rule_save
from orderhub.rules.sweep import sweep_overdue
from tests.conftest import SH, order_input

SRC = Path(orderhub.__file__).parent
RULES = SRC / "rules"
WRITES = {"create", "bulk_create", "update", "bulk_update", "save", "delete", "get_or_create",
          "update_or_create", "select_for_update", "raw", "extra"}


def _orders_tables() -> set[str]:
    return {m._meta.db_table for m in apps.get_app_config("orders").get_models()}


def _static_faults(path: Path, source: str, tables: set[str]) -> list[str]:
    tree = ast.parse(source)
    rel = path.relative_to(SRC).as_posix()
    models = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
              and node.module == "orderhub.orders.models" for alias in node.names}
    faults = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            named = {t for t in tables if re.search(rf"\b{t}\b", node.value)}
            if named:
                faults.append(f"{rel}:{node.lineno}: names {sorted(named)}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("cursor", "execute", "executemany"):
                faults.append(f"{rel}:{node.lineno}: runs SQL ({node.func.attr})")
            if node.func.attr in WRITES:
                root = node.func.value
                while isinstance(root, ast.Attribute | ast.Call):
                    root = root.func if isinstance(root, ast.Call) else root.value
                if isinstance(root, ast.Name) and root.id in models:
                    faults.append(f"{rel}:{node.lineno}: {root.id}…{node.func.attr}()")
    return sorted(faults, key=lambda f: int(f.split(":")[1]))


def test_rules_name_no_orders_table_run_no_sql_and_write_no_orders_model():
    tables = _orders_tables()
    assert "orders_stageinstance" in tables and "orders_escalationstep" in tables
    faults = [f for path in sorted(RULES.rglob("*.py")) if "migrations" not in path.parts
              for f in _static_faults(path, path.read_text(encoding="utf-8"), tables)]
    assert not faults, "\n".join(faults)


def test_the_static_check_finds_what_it_is_for():
    source = '''
from orderhub.orders.models import EscalationStep, Order as O
from .models import RuleTask
SQL = "UPDATE orders_stageinstance SET overdue_at = %s"
def f(rows, cursor):
    EscalationStep.objects.bulk_create(rows)
    O.objects.filter(pk=1).update(urgency="red")
    O.objects.select_related("customer").select_for_update().get(pk=1)
    RuleTask.objects.filter(pk=1).update(state="done")
    cursor.execute(SQL)
'''
    faults = _static_faults(RULES / "x.py", source, _orders_tables())
    assert faults == ["rules/x.py:4: names ['orders_stageinstance']",
                      "rules/x.py:6: EscalationStep…bulk_create()", "rules/x.py:7: O…update()",
                      "rules/x.py:8: O…select_for_update()", "rules/x.py:10: runs SQL (execute)"]


# --------------------------------------------------------------------------- at run time

WRITE_SQL = re.compile(r'\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.I)
LOCK_SQL = re.compile(r'^\s*SELECT\b.*?\bFROM\s+"?(\w+)"?.*\bFOR\s+(NO\s+KEY\s+)?UPDATE\b', re.I | re.S)


def _writer(frame) -> str | None:
    """The innermost orderhub module (core's helpers aside) on the stack: who issued the SQL."""
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(str(SRC)) and not name.startswith(str(SRC / "core")):
            return Path(name).relative_to(SRC).as_posix()
        frame = frame.f_back
    return None


def _rules_on_stack(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith(str(RULES)):
            return True
        frame = frame.f_back
    return False


@contextmanager
def watching_orders_writes(tables: set[str]):
    """Yield a list that collects (table, issuing module, rules code on the stack) of every
    statement that writes or locks an orders table."""
    seen: list[tuple[str, str, bool]] = []

    def wrapper(execute, sql, params, many, context):
        hit = {t for _verb, t in WRITE_SQL.findall(sql) if t in tables}
        lock = LOCK_SQL.match(sql)
        if lock and lock.group(1) in tables:
            hit.add(lock.group(1))
        if hit:
            frame = sys._getframe(1)
            for table in sorted(hit):
                seen.append((table, _writer(frame), _rules_on_stack(frame)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.mark.django_db
def test_what_rules_cause_in_orders_tables_is_written_by_orders(company):
    a = company["actors"]
    rule_save(data={"name": "tag_new", "trigger": "order_created",
                    "actions": [{"type": "add_tag", "tag": "新单"}]}, actor=a["admin"])
    with watching_orders_writes(_orders_tables()) as seen:
        with clock.frozen(at(2026, 11, 23, 9, 0)):
            t1 = services.order_create(data=order_input(), actor=a["sales"]).order
            t2 = services.order_create(data=order_input(workflow="T2"), actor=a["service"]).order   # a rung
            ticket = services.ticket_open(order=t1.number, kind="change_request", title="改数量", actor=a["sales"])
            services.ticket_resolve(ticket=ticket, resolution="可以", actor=a["planner"])      # rung cancelled
            assert engine.rules_apply_pending() == 2                                          # tags added
        with clock.frozen(at(2026, 11, 23, 12, 0, 1)):
            assert ladder_fire_due() == 1                                   # T2: fired, urgency red
        with clock.frozen(at(2026, 11, 23, 14, 0)):
            assert sweep_overdue().marked >= 1                              # T1 pending is overdue
        with clock.frozen(at(2026, 11, 23, 15, 0)):
            services.order_cancel(order=t2.number, actor=a["manager"], reason="客户取消")
    by_rules = [(table, writer) for table, writer, rules in seen if rules]
    # the rules paths did write orders' tables (rungs, marks, the fired rung's order) ...
    assert {"orders_escalationstep", "orders_stageinstance", "orders_order"} <= {t for t, _ in by_rules}
    # ... and every such statement was issued from orders' own modules
    assert all(writer.startswith("orders/") for _table, writer in by_rules), sorted(set(by_rules))
    assert EscalationStep.objects.get(order=t2).fired_at is not None
    assert StageInstance.objects.filter(order=t1, overdue_at__isnull=False).exists()


@pytest.mark.django_db
def test_the_run_time_check_sees_a_write_from_rules(company):
    with clock.frozen(at(2026, 11, 23, 9, 0)):
        order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    # the sweep's old direct UPDATE, as if it still sat in rules/sweep.py
    direct = compile("StageInstance.objects.filter(order_id=oid).update(overdue_at=now)",
                     str(RULES / "sweep.py"), "exec")
    with watching_orders_writes(_orders_tables()) as seen:
        exec(direct, {"StageInstance": StageInstance, "oid": order.pk, "now": clock.now()})
    assert seen == [("orders_stageinstance", "rules/sweep.py", True)]

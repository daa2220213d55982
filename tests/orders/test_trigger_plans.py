"""The line triggers keep plans that read by key, whenever the session first fired them
(migration ``orders 0026``): PL/pgSQL keeps a statement's plan for the session, so a plan made
while ``orders_orderline`` was small must still be the right one once it is large."""

from __future__ import annotations

import pytest

from tests import pgroles

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

LINE = ("INSERT INTO orders_orderline (line_no, qty, unit, base_qty, unit_price, amount, remarks, order_id, "
        "product_id, waiting) SELECT {line}, 1, 'pcs', 1, 1, 1, '', -{base} - g, 1 + g % 40, true "
        "FROM generate_series(1, {n}) g")


def _need_bound_plan(notices: list[str]) -> str:
    plans = [n for n in notices if "INSERT INTO orders_lineneedbound" in n]
    assert len(plans) == 1, notices
    return plans[0]


def test_lines_taken_in_a_young_table_are_bounded_through_the_orders_index_later():
    """One session: one line while the table is small (the need-bound trigger's plan is made and
    kept), 5,000 more, then 200 lines of new orders. The kept plan finds the new orders' lines by
    the order's index: before, it went by the product's index and read every line of the
    statement's products (or the whole table), more with each order taken."""
    notices: list[str] = []
    with pgroles.connect("superuser") as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute("BEGIN")  # rolled back: the orders and products need not exist (deferred keys)
        try:
            for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                            "auto_explain.log_analyze = on",
                            "auto_explain.log_level = notice", "client_min_messages = notice"):
                conn.execute(f"SET LOCAL {setting}")
            conn.execute("LOAD 'auto_explain'")
            conn.execute(LINE.format(line=1, base=10, n=1))
            first = _need_bound_plan(notices)
            conn.execute("SET LOCAL client_min_messages = warning")
            conn.execute(LINE.format(line=1, base=100, n=5000))
            conn.execute("SET LOCAL client_min_messages = notice")
            notices.clear()
            conn.execute(LINE.format(line=2, base=100, n=200))
            later = _need_bound_plan(notices)
        finally:
            conn.execute("ROLLBACK")
    for plan in (first, later):
        assert "order_line_unique" in plan, plan
        assert "Seq Scan on orders_orderline" not in plan, plan
        assert "orders_orderline_product_id" not in plan, plan
    scan = next(ln for ln in later.splitlines() if "Heap Scan on orders_orderline" in ln)
    assert "rows=400 loops=1" in scan, later  # the 200 orders' two lines each, no more

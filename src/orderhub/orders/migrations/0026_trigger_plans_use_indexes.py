"""The line triggers' cached plans read by key (issue 20).

PL/pgSQL plans each statement of a function once per session and keeps the plan; a statement
without parameters (the statement triggers' queries over their transition tables) is planned
again only when the table's statistics change. ``orderhub_line_need_bound_ins`` looked the new
lines' orders up by order *and* product (``order_id = ANY(…) AND product_id = ANY(…)``); planned
in a session that first inserted lines while ``orders_orderline`` was small (a new company, a
fresh database, a first big import), the kept plan read the lines through the product's index:
every line of the statement's products, more with every order taken. The lines COPY of a
40,000-row import into a fresh database cost 94.5 µs a row instead of 13 (``bench/HISTORY.md``).
With autovacuum on, an ANALYZE ends it after a while; with it off, never.

Now it reads the lines of the statement's orders only (the order's index; an order's other
products' needs are computed too, and add nothing: their bounds were added with their lines),
and the four line triggers plan with ``enable_seqscan = off`` (local to the call), so the plan a
session keeps is the key lookup at every table size (a transition table, which has no index, is
still read in full).
"""

from django.db import migrations

FUNCTIONS = (
    "orderhub_line_need_bound_ins()",
    "orderhub_line_need_bound_upd()",
    "orderhub_line_waiting_reservation()",
    "orderhub_line_waiting_order()",
)

NEED_BOUND_INS = """
CREATE OR REPLACE FUNCTION orderhub_line_need_bound_ins() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO orders_lineneedbound (product_id, need)
    SELECT q.product_id, q.need FROM (
        SELECT s.product_id, max(s.need) AS need FROM (
            SELECT l.order_id, l.product_id, sum(l.base_qty) AS need FROM orders_orderline l
             WHERE l.order_id = ANY(ARRAY(SELECT DISTINCT n.order_id FROM new_rows n))
             GROUP BY l.order_id, l.product_id) s
         GROUP BY s.product_id) q
     WHERE q.need > COALESCE((SELECT max(b.need) FROM orders_lineneedbound b WHERE b.product_id = q.product_id), -1)
     ORDER BY q.product_id;
    RETURN NULL;
END $$;
"""

NEED_BOUND_INS_BEFORE = NEED_BOUND_INS.replace(
    "FROM new_rows n))\n",
    "FROM new_rows n))\n               AND l.product_id = ANY(ARRAY(SELECT DISTINCT n.product_id FROM new_rows n))\n")
if NEED_BOUND_INS_BEFORE == NEED_BOUND_INS:  # pragma: no cover - the reverse would silently be the forward
    raise RuntimeError("orders 0026: the function before this migration was not derived")


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NEED_BOUND_INS)
        for fn in FUNCTIONS:
            schema_editor.execute(f"ALTER FUNCTION {fn} SET enable_seqscan = off")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NEED_BOUND_INS_BEFORE)
        for fn in FUNCTIONS:
            schema_editor.execute(f"ALTER FUNCTION {fn} RESET enable_seqscan")


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0025_covering_created'),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]

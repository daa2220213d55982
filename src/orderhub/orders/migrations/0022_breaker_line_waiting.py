"""OrderLine.waiting and its partial index (the stock breaker reads the lines of a product whose
orders may be waiting for stock), kept by PostgreSQL triggers:

- a reservation becoming active (inserted or updated) clears ``waiting`` on its order's lines
  (statement triggers with transition tables on inventory_reservation: one UPDATE per statement);
- an active reservation released, consumed, expired or deleted sets it again on the lines of its
  order when the order is open and holds no other active reservation;
- an order leaving ``open`` clears it, an order back to ``open`` holding nothing sets it.

So ``waiting = false`` always means "closed or holding stock"; ``true`` may be stale (a line added
to an order holding stock), which costs the breaker a read, never a wrong answer (it checks every
order it reads). SQLite has no triggers: every line stays ``true`` there.

The triggers find an order's lines through ``order_line_unique`` (order, line): they test
``waiting IS NOT FALSE`` (the column is NOT NULL, so the same rows as ``waiting``), which does not
imply the partial index's predicate, so a cached generic plan can never walk
``order_line_waiting`` (ordered by product) for one order's lines.
"""

from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION orderhub_line_waiting_reservation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- once per statement: the orders of the rows that became active hold stock now
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE orders_orderline SET waiting = false
         WHERE order_id = ANY(ARRAY(SELECT DISTINCT n.order_id FROM new_rows n WHERE n.status = 'active'))
           AND waiting IS NOT FALSE;
    END IF;
    -- the orders of rows that were active wait again if open and holding nothing any more
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE orders_orderline l SET waiting = true
         WHERE l.order_id = ANY(ARRAY(SELECT DISTINCT o.order_id FROM old_rows o WHERE o.status = 'active'))
           AND NOT l.waiting
           AND EXISTS (SELECT 1 FROM orders_order o WHERE o.id = l.order_id AND o.status = 'open')
           AND NOT EXISTS (SELECT 1 FROM inventory_reservation r
                            WHERE r.order_id = l.order_id AND r.status = 'active');
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION orderhub_line_waiting_order() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'open' AND NEW.status <> 'open' THEN
        UPDATE orders_orderline SET waiting = false WHERE order_id = NEW.id AND waiting IS NOT FALSE;
    ELSIF OLD.status <> 'open' AND NEW.status = 'open' THEN
        UPDATE orders_orderline SET waiting = true
         WHERE order_id = NEW.id AND NOT waiting
           AND NOT EXISTS (SELECT 1 FROM inventory_reservation r
                            WHERE r.order_id = NEW.id AND r.status = 'active');
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS orderhub_line_waiting ON inventory_reservation;
DROP TRIGGER IF EXISTS orderhub_line_waiting_ins ON inventory_reservation;
DROP TRIGGER IF EXISTS orderhub_line_waiting_upd ON inventory_reservation;
DROP TRIGGER IF EXISTS orderhub_line_waiting_del ON inventory_reservation;
CREATE TRIGGER orderhub_line_waiting_ins AFTER INSERT ON inventory_reservation
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderhub_line_waiting_reservation();
CREATE TRIGGER orderhub_line_waiting_upd AFTER UPDATE ON inventory_reservation
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderhub_line_waiting_reservation();
CREATE TRIGGER orderhub_line_waiting_del AFTER DELETE ON inventory_reservation
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderhub_line_waiting_reservation();
DROP TRIGGER IF EXISTS orderhub_line_waiting ON orders_order;
CREATE TRIGGER orderhub_line_waiting AFTER UPDATE OF status ON orders_order
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION orderhub_line_waiting_order();
"""

BACKFILL = """
UPDATE orders_orderline l SET waiting = false
 WHERE waiting AND (NOT EXISTS (SELECT 1 FROM orders_order o WHERE o.id = l.order_id AND o.status = 'open')
                    OR EXISTS (SELECT 1 FROM inventory_reservation r
                                WHERE r.order_id = l.order_id AND r.status = 'active'));
"""

DROP = """
DROP TRIGGER IF EXISTS orderhub_line_waiting_ins ON inventory_reservation;
DROP TRIGGER IF EXISTS orderhub_line_waiting_upd ON inventory_reservation;
DROP TRIGGER IF EXISTS orderhub_line_waiting_del ON inventory_reservation;
DROP TRIGGER IF EXISTS orderhub_line_waiting ON orders_order;
DROP FUNCTION IF EXISTS orderhub_line_waiting_reservation();
DROP FUNCTION IF EXISTS orderhub_line_waiting_order();
"""


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKFILL)


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0006_i18n_english_msgids'),
        ('inventory', '0002_purch2_safety_breach'),
        ('orders', '0021_i18n_english_msgids'),
    ]

    operations = [
        migrations.AddField(
            model_name='orderline',
            name='waiting',
            field=models.BooleanField(db_default=True, default=True, editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='orderline',
            index=models.Index(condition=models.Q(('waiting', True)), fields=['product', 'order'],
                               include=('base_qty',), name='order_line_waiting'),
        ),
        migrations.RunPython(install, uninstall),
    ]

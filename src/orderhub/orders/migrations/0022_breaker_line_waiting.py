"""OrderLine.waiting and its partial index (the stock breaker reads the lines of a product whose
orders may be waiting for stock), kept by PostgreSQL triggers:

- a reservation becoming active (inserted or updated) clears ``waiting`` on its order's lines;
- an active reservation released, consumed, expired or deleted sets it again on the lines of its
  order when the order is open and holds no other active reservation;
- an order leaving ``open`` clears it, an order back to ``open`` holding nothing sets it.

So ``waiting = false`` always means "closed or holding stock"; ``true`` may be stale (a line added
to an order holding stock), which costs the breaker a read, never a wrong answer (it checks every
order it reads). SQLite has no triggers: every line stays ``true`` there.
"""

from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION orderhub_line_waiting_reservation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'active' THEN
        UPDATE orders_orderline SET waiting = false WHERE order_id = NEW.order_id AND waiting;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'active'
       AND (TG_OP = 'DELETE' OR NEW.status <> 'active' OR NEW.order_id <> OLD.order_id) THEN
        UPDATE orders_orderline SET waiting = true
         WHERE order_id = OLD.order_id AND NOT waiting
           AND EXISTS (SELECT 1 FROM orders_order o WHERE o.id = OLD.order_id AND o.status = 'open')
           AND NOT EXISTS (SELECT 1 FROM inventory_reservation r
                            WHERE r.order_id = OLD.order_id AND r.status = 'active');
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION orderhub_line_waiting_order() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'open' AND NEW.status <> 'open' THEN
        UPDATE orders_orderline SET waiting = false WHERE order_id = NEW.id AND waiting;
    ELSIF OLD.status <> 'open' AND NEW.status = 'open' THEN
        UPDATE orders_orderline SET waiting = true
         WHERE order_id = NEW.id AND NOT waiting
           AND NOT EXISTS (SELECT 1 FROM inventory_reservation r
                            WHERE r.order_id = NEW.id AND r.status = 'active');
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS orderhub_line_waiting ON inventory_reservation;
CREATE TRIGGER orderhub_line_waiting AFTER INSERT OR UPDATE OF status, order_id OR DELETE
    ON inventory_reservation FOR EACH ROW EXECUTE FUNCTION orderhub_line_waiting_reservation();
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
DROP TRIGGER IF EXISTS orderhub_line_waiting ON inventory_reservation;
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

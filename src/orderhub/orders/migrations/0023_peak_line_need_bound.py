"""LineNeedBound: an upper bound, per line product, of what one order may need of it (the sum of
the order's lines of that product, base units), kept by PostgreSQL triggers on orders_orderline:

- lines inserted (a statement trigger with a transition table: one INSERT per statement): the
  needs of their orders' lines of their products, per product the largest, added where above the
  product's highest bound;
- a line whose order, product or base quantity changes (a row trigger, only when one of them
  changed): its order's need of its product, added where above the highest bound.

Rows are only added, never lowered or deleted (a bound too high costs the stock breaker a read,
never a wrong answer), so a bound another transaction committed stays valid, and a concurrent
writer that did not see it adds its own. SQLite has no triggers: the table stays empty there and
the ORM twin of the breaker does not read it.
"""

from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION orderhub_line_need_bound_ins() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO orders_lineneedbound (product_id, need)
    SELECT q.product_id, q.need FROM (
        SELECT s.product_id, max(s.need) AS need FROM (
            SELECT l.order_id, l.product_id, sum(l.base_qty) AS need FROM orders_orderline l
             WHERE l.order_id = ANY(ARRAY(SELECT DISTINCT n.order_id FROM new_rows n))
               AND l.product_id = ANY(ARRAY(SELECT DISTINCT n.product_id FROM new_rows n))
             GROUP BY l.order_id, l.product_id) s
         GROUP BY s.product_id) q
     WHERE q.need > COALESCE((SELECT max(b.need) FROM orders_lineneedbound b WHERE b.product_id = q.product_id), -1)
     ORDER BY q.product_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION orderhub_line_need_bound_upd() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n numeric;
BEGIN
    SELECT sum(l.base_qty) INTO n FROM orders_orderline l
     WHERE l.order_id = NEW.order_id AND l.product_id = NEW.product_id;
    IF n > COALESCE((SELECT max(b.need) FROM orders_lineneedbound b WHERE b.product_id = NEW.product_id), -1) THEN
        INSERT INTO orders_lineneedbound (product_id, need) VALUES (NEW.product_id, n);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS orderhub_line_need_bound_ins ON orders_orderline;
DROP TRIGGER IF EXISTS orderhub_line_need_bound_upd ON orders_orderline;
CREATE TRIGGER orderhub_line_need_bound_ins AFTER INSERT ON orders_orderline
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderhub_line_need_bound_ins();
CREATE TRIGGER orderhub_line_need_bound_upd AFTER UPDATE OF order_id, product_id, base_qty ON orders_orderline
    FOR EACH ROW WHEN (OLD.order_id IS DISTINCT FROM NEW.order_id OR OLD.product_id IS DISTINCT FROM NEW.product_id
                       OR OLD.base_qty IS DISTINCT FROM NEW.base_qty)
    EXECUTE FUNCTION orderhub_line_need_bound_upd();

"""

# the bounds of every line there is (also what bench/datagen runs after a load made with the
# insert trigger off)
BACKFILL = """
INSERT INTO orders_lineneedbound (product_id, need)
SELECT s.product_id, max(s.need) FROM (
    SELECT l.order_id, l.product_id, sum(l.base_qty) AS need FROM orders_orderline l GROUP BY l.order_id, l.product_id) s
 GROUP BY s.product_id ORDER BY s.product_id;
"""

DROP = """
DROP TRIGGER IF EXISTS orderhub_line_need_bound_ins ON orders_orderline;
DROP TRIGGER IF EXISTS orderhub_line_need_bound_upd ON orders_orderline;
DROP FUNCTION IF EXISTS orderhub_line_need_bound_ins();
DROP FUNCTION IF EXISTS orderhub_line_need_bound_upd();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS + BACKFILL)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0006_i18n_english_msgids'),
        ('orders', '0022_breaker_line_waiting'),
    ]

    operations = [
        migrations.CreateModel(
            name='LineNeedBound',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('need', models.DecimalField(decimal_places=4, max_digits=38)),
                ('product', models.ForeignKey(db_constraint=False, db_index=False, on_delete=models.DO_NOTHING,
                                              related_name='+', to='catalog.product')),
            ],
            options={
                'indexes': [models.Index(fields=['product', 'need'], name='line_need_bound')],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]

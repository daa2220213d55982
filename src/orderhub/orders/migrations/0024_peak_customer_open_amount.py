"""CustomerOpenAmount: rows whose sum per customer is the total of the customer's open orders,
kept by PostgreSQL statement triggers on orders_order (transition tables, one INSERT per
statement whatever the number of rows):

- INSERT: per customer, the total of the inserted open orders;
- UPDATE (any column: a status, a total or a customer changed): per customer, the open totals
  after less those before, where not zero;
- DELETE: per customer, minus the deleted open orders' total;
- TRUNCATE: every row deleted (no order left).

Writers only add rows (no row of it is updated or locked by a writer, so two intakes never wait
on each other for it); the reading move folds a customer's rows into one (``locks``). The sum
per customer equals the orders' in every snapshot: the rows commit with the order writes that
made them, and a fold deletes rows and adds their sum in one statement. Backfilled from the
open orders here. SQLite has no triggers: the table stays empty there (the ORM twin does not
read it).
"""

from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION orderhub_open_amount() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO orders_customeropenamount (customer_id, amount)
        SELECT n.customer_id, sum(n.total_amount) FROM new_rows n WHERE n.status = 'open'
         GROUP BY n.customer_id HAVING sum(n.total_amount) <> 0 ORDER BY n.customer_id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO orders_customeropenamount (customer_id, amount)
        SELECT d.customer_id, sum(d.a) FROM (
            SELECT n.customer_id, n.total_amount AS a FROM new_rows n WHERE n.status = 'open'
            UNION ALL
            SELECT o.customer_id, -o.total_amount FROM old_rows o WHERE o.status = 'open') d
         GROUP BY d.customer_id HAVING sum(d.a) <> 0 ORDER BY d.customer_id;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO orders_customeropenamount (customer_id, amount)
        SELECT o.customer_id, -sum(o.total_amount) FROM old_rows o WHERE o.status = 'open'
         GROUP BY o.customer_id HAVING sum(o.total_amount) <> 0 ORDER BY o.customer_id;
    ELSE  -- TRUNCATE
        DELETE FROM orders_customeropenamount;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS orderhub_open_amount_ins ON orders_order;
DROP TRIGGER IF EXISTS orderhub_open_amount_upd ON orders_order;
DROP TRIGGER IF EXISTS orderhub_open_amount_del ON orders_order;
DROP TRIGGER IF EXISTS orderhub_open_amount_trunc ON orders_order;
CREATE TRIGGER orderhub_open_amount_ins AFTER INSERT ON orders_order
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderhub_open_amount();
CREATE TRIGGER orderhub_open_amount_upd AFTER UPDATE ON orders_order
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderhub_open_amount();
CREATE TRIGGER orderhub_open_amount_del AFTER DELETE ON orders_order
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderhub_open_amount();
CREATE TRIGGER orderhub_open_amount_trunc AFTER TRUNCATE ON orders_order
    FOR EACH STATEMENT EXECUTE FUNCTION orderhub_open_amount();

INSERT INTO orders_customeropenamount (customer_id, amount)
SELECT o.customer_id, sum(o.total_amount) FROM orders_order o WHERE o.status = 'open'
 GROUP BY o.customer_id HAVING sum(o.total_amount) <> 0 ORDER BY o.customer_id;
"""

DROP = """
DROP TRIGGER IF EXISTS orderhub_open_amount_ins ON orders_order;
DROP TRIGGER IF EXISTS orderhub_open_amount_upd ON orders_order;
DROP TRIGGER IF EXISTS orderhub_open_amount_del ON orders_order;
DROP TRIGGER IF EXISTS orderhub_open_amount_trunc ON orders_order;
DROP FUNCTION IF EXISTS orderhub_open_amount();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0006_i18n_english_msgids'),
        ('orders', '0023_peak_line_need_bound'),
    ]

    operations = [
        migrations.CreateModel(
            name='CustomerOpenAmount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('amount', models.DecimalField(decimal_places=2, max_digits=38)),
                ('customer', models.ForeignKey(db_constraint=False, on_delete=models.DO_NOTHING,
                                               related_name='+', to='catalog.customer')),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]

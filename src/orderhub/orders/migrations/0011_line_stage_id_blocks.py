"""On PostgreSQL the order line and stage instance id sequences advance in blocks of 50, as the
order ids do (0003): a batch gives every new row its id before sending it (core.numbering), so
nothing has to come back from the INSERT before the next step."""

from django.db import migrations

from orderhub.core.numbering import BLOCK

TABLES = ("orders_orderline", "orders_stageinstance")


def _increment(schema_editor, by: int) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        for table in TABLES:
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            seq = cur.fetchone()[0]
            cur.execute(f"ALTER SEQUENCE {seq} INCREMENT BY {by}")


def forward(apps, schema_editor):
    _increment(schema_editor, BLOCK)


def backward(apps, schema_editor):
    _increment(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("orders", "0010_order_fk_indexes_covered")]
    operations = [migrations.RunPython(forward, backward)]

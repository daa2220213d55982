"""On PostgreSQL the order id sequence advances in blocks of 50 (see core.numbering)."""

from django.db import migrations

from orderhub.core.numbering import BLOCK


def _increment(schema_editor, by: int) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT pg_get_serial_sequence('orders_order', 'id')")
        seq = cur.fetchone()[0]
        cur.execute(f"ALTER SEQUENCE {seq} INCREMENT BY {by}")


def forward(apps, schema_editor):
    _increment(schema_editor, BLOCK)


def backward(apps, schema_editor):
    _increment(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_snapshot_append_only_and_numbers")]
    operations = [migrations.RunPython(forward, backward)]

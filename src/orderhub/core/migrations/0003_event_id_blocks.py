"""On PostgreSQL the audit event id sequence advances in blocks of 50, as the order ids do
(orders 0003): a new order's first event gets its id before it is sent (core.numbering), so
nothing has to come back from the INSERT before the next step."""

from django.db import migrations

from orderhub.core.numbering import BLOCK

TABLES = ("core_auditevent",)


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
    dependencies = [("core", "0002_append_only_audit")]
    operations = [migrations.RunPython(forward, backward)]

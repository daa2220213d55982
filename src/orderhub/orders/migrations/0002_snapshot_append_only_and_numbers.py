"""On PostgreSQL: snapshots are append-only too, and order numbers come from a sequence."""

from django.db import migrations

from orderhub.core.audit import append_only_trigger_sql
from orderhub.core.numbering import sequence_sql

SEQUENCE = "orderhub_order_number"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(append_only_trigger_sql("orders_snapshot")[0])
        schema_editor.execute(sequence_sql(SEQUENCE)[0])


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(append_only_trigger_sql("orders_snapshot")[1])
        schema_editor.execute(sequence_sql(SEQUENCE)[1])


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]

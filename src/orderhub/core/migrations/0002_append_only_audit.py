"""On PostgreSQL, refuse UPDATE/DELETE/TRUNCATE of audit events at the database itself."""

from django.db import migrations

from orderhub.core.audit import append_only_trigger_sql


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(append_only_trigger_sql("core_auditevent")[0])


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(append_only_trigger_sql("core_auditevent")[1])


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]

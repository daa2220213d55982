"""Snapshots are sealed with the audit key (key id + MAC) as events are; the snapshots that exist
now are recorded as legacy (SHA-256 only); and no session setting lifts the append-only guard
any more (the TRUNCATE trigger used to let ``orderhub.allow_truncate=on`` through)."""

from django.db import migrations, models

from orderhub.core.audit import record_legacy_boundary, truncate_guard_sql


def guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(truncate_guard_sql("orders_snapshot_append_only_truncate",
                                                 "orders_snapshot is append-only: TRUNCATE refused"))


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0005_keyed_audit"),
        ("orders", "0012_price_scope_forensics_permissions"),
    ]

    operations = [
        migrations.AddField(
            model_name="snapshot",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16, verbose_name="key id"),
        ),
        migrations.AddField(
            model_name="snapshot",
            name="mac",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="MAC"),
        ),
        record_legacy_boundary("orders_snapshot"),
        migrations.RunPython(guards, migrations.RunPython.noop),
    ]

"""Keyed audit chains: each event records the id of the key its MAC was made with; the events
that exist now are recorded as the legacy segment (plain SHA-256); the legacy boundary table is
append-only; and no session setting lifts the append-only guard any more (the TRUNCATE trigger
used to let connections with ``orderhub.allow_truncate=on`` through)."""

from django.db import migrations, models

from orderhub.core.audit import append_only_trigger_sql, record_legacy_boundary, truncate_guard_sql


def guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(truncate_guard_sql("core_auditevent_append_only_truncate",
                                                 "core_auditevent is append-only: TRUNCATE refused"))
        schema_editor.execute(append_only_trigger_sql("core_auditlegacyboundary")[0])


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(append_only_trigger_sql("core_auditlegacyboundary")[1])


class Migration(migrations.Migration):

    dependencies = [("core", "0004_role_settings")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16, verbose_name="key id"),
        ),
        migrations.CreateModel(
            name="AuditLegacyBoundary",
            fields=[
                ("table", models.CharField(max_length=63, primary_key=True, serialize=False)),
                ("max_id", models.BigIntegerField()),
                ("recorded_at", models.DateTimeField()),
            ],
        ),
        record_legacy_boundary("core_auditevent"),
        migrations.RunPython(guards, unguard),
    ]

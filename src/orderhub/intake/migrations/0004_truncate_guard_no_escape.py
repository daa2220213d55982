"""No session setting lifts the raw-payload guard any more: the TRUNCATE trigger used to let
connections with ``orderhub.allow_truncate=on`` through. (The app's database role has no
TRUNCATE, DELETE or UPDATE of the verbatim columns either: ``orderhub.core.dbroles``.)"""

from django.db import migrations

from orderhub.core.audit import truncate_guard_sql


def guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(truncate_guard_sql("intake_inboundmessage_raw_guard_truncate",
                                                 "intake_inboundmessage: TRUNCATE refused"))


class Migration(migrations.Migration):

    dependencies = [("intake", "0003_parallel_import")]

    operations = [migrations.RunPython(guards, migrations.RunPython.noop)]

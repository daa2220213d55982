"""Links (message → order): the index on the message alone goes. The unique (message, order)
index starts with the message, so every read by message uses it; the other was written once
per imported order and never read. Only the index is dropped (the foreign key stays as it
is: no table rewrite, no re-validation)."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "intake_inboundorder_message_id_af154ad7"


class Migration(migrations.Migration):

    dependencies = [
        ("intake", "0006_secrets_at_rest"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="inboundorder",
                    name="message",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name="links", to="intake.inboundmessage"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{INDEX}"',
                                  reverse_sql=f'CREATE INDEX "{INDEX}" ON "intake_inboundorder" ("message_id")'),
            ],
        ),
    ]

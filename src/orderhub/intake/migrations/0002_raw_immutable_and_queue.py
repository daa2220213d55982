"""Raw payloads are immutable once stored: on PostgreSQL a trigger refuses any UPDATE that
changes a verbatim column (bytes, content type, headers, channel, kind, source, file name, size,
hash, received time/by, parent) and any DELETE or TRUNCATE (TRUNCATE only on connections that set
``orderhub.allow_truncate=on``, as the test settings do). Status columns stay updatable.

Also: ``route`` (the channel whose mapping reads a message, so an e-mail attachment keeps the
channel it arrived by) and ``queued`` (webhooks acknowledged before processing).
"""

from django.db import migrations, models

TABLE = "intake_inboundmessage"
FN = "intake_inboundmessage_raw_guard"
RAW = ("channel", "kind", "payload", "content_type", "headers", "source", "filename", "size",
       "sha256", "received_at", "received_by", "parent_id")

FORWARD = f"""
CREATE OR REPLACE FUNCTION {FN}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION '{TABLE}: a received payload is kept for ever, DELETE refused'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in RAW)} THEN
    RAISE EXCEPTION '{TABLE}: the received payload is immutable, UPDATE of its verbatim columns refused'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER {FN}_update BEFORE UPDATE OF {", ".join(RAW)} ON {TABLE}
  FOR EACH ROW EXECUTE FUNCTION {FN}();
CREATE TRIGGER {FN}_delete BEFORE DELETE ON {TABLE}
  FOR EACH ROW EXECUTE FUNCTION {FN}();
CREATE OR REPLACE FUNCTION {FN}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('orderhub.allow_truncate', true) = 'on' THEN RETURN NULL; END IF;
  RAISE EXCEPTION '{TABLE}: TRUNCATE refused' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER {FN}_truncate BEFORE TRUNCATE ON {TABLE}
  FOR EACH STATEMENT EXECUTE FUNCTION {FN}_truncate();
"""

REVERSE = f"""
DROP TRIGGER IF EXISTS {FN}_update ON {TABLE};
DROP TRIGGER IF EXISTS {FN}_delete ON {TABLE};
DROP TRIGGER IF EXISTS {FN}_truncate ON {TABLE};
DROP FUNCTION IF EXISTS {FN}();
DROP FUNCTION IF EXISTS {FN}_truncate();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE)


class Migration(migrations.Migration):

    dependencies = [
        ('intake', '0001_initial'),
        ('orders', '0004_board_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='inboundmessage',
            name='queued',
            field=models.BooleanField(default=False, verbose_name='queued'),
        ),
        migrations.AddField(
            model_name='inboundmessage',
            name='route',
            field=models.CharField(blank=True, max_length=32, verbose_name='read as channel'),
        ),
        migrations.AddIndex(
            model_name='inboundmessage',
            index=models.Index(condition=models.Q(('queued', True)), fields=['received_at', 'id'], name='inbound_queued'),
        ),
        migrations.RunPython(forward, backward),
    ]

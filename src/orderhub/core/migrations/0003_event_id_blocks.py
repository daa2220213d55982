"""On PostgreSQL the audit event id sequence advances in blocks of 50, as the order ids do
(orders 0003): a new order's first event gets its id before it is sent (core.numbering), so
nothing has to come back from the INSERT before the next step."""

from django.db import migrations

from orderhub.core.numbering import block_sequences


class Migration(migrations.Migration):
    dependencies = [("core", "0002_append_only_audit")]
    operations = [block_sequences("core_auditevent")]

"""On PostgreSQL the order id sequence advances in blocks of 50 (see core.numbering)."""

from django.db import migrations

from orderhub.core.numbering import block_sequences


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_snapshot_append_only_and_numbers")]
    operations = [block_sequences("orders_order")]

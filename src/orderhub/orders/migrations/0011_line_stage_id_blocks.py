"""On PostgreSQL the order line and stage instance id sequences advance in blocks of 50, as the
order ids do (0003): a batch gives every new row its id before sending it (core.numbering), so
nothing has to come back from the INSERT before the next step."""

from django.db import migrations

from orderhub.core.numbering import block_sequences


class Migration(migrations.Migration):
    dependencies = [("orders", "0010_order_fk_indexes_covered")]
    operations = [block_sequences("orders_orderline", "orders_stageinstance")]

"""Permissions for prices (change_price), object scope (view_all_orders) and who sees the IP
address and browser in histories (view_forensics); see orderhub.core.permissions."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0011_line_stage_id_blocks'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='order',
            options={'ordering': ['-created_at'], 'permissions': [('override_guard', 'Can force an order past a guard'), ('hold_order', 'Can hold and resume orders'), ('cancel_order', 'Can cancel orders'), ('change_price', 'Can set a price other than the standard price'), ('view_all_orders', "Can see every customer's orders"), ('view_forensics', 'Can see the IP address and browser of each change')], 'verbose_name': 'order', 'verbose_name_plural': 'orders'},
        ),
    ]

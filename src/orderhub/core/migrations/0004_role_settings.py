"""Per-role settings an administrator edits: orders visible (all / own customers') and prices."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('core', '0003_event_id_blocks'),
    ]

    operations = [
        migrations.CreateModel(
            name='RoleSetting',
            fields=[
                ('role', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='setting', serialize=False, to='auth.group', verbose_name='role')),
                ('order_scope', models.CharField(choices=[('all', 'All orders'), ('own_customers', "Own customers' orders")], default='all', max_length=20, verbose_name='orders visible')),
                ('change_price', models.BooleanField(default=False, verbose_name='may set prices')),
            ],
            options={
                'verbose_name': 'role setting',
                'verbose_name_plural': 'role settings',
            },
        ),
    ]

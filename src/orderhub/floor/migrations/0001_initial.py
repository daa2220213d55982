"""Shop-floor tickets. On PostgreSQL also the pg_trgm extension (trusted since PostgreSQL 13:
the database owner, who runs migrations, may create it) and a trigram index on
UPPER(search_text), the expression Django's icontains compares, so substring search serves
Chinese without a word segmenter. The problem types seeded here are only a start: the
administrator edits the list (settings page or PUT /api/tickets/problem-types)."""

import django.db.models.deletion
from django.db import migrations, models



from orderhub.floor.defaults import PROBLEM_TYPES as SEED  # a plain list of tuples


def seed(apps, schema_editor):
    ProblemType = apps.get_model("floor", "ProblemType")
    for i, (code, name, role) in enumerate(SEED):
        ProblemType.objects.get_or_create(code=code, defaults={"name": name, "default_role": role, "position": i})


def trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite: icontains scans, which is fine at its scale
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute("CREATE INDEX IF NOT EXISTS floor_search_trgm ON floor_floorticket "
                          "USING gin (UPPER(search_text) gin_trgm_ops)")


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS floor_search_trgm")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('catalog', '0001_initial'),
        ('orders', '0014_order_ship_to'),
    ]

    operations = [
        migrations.CreateModel(
            name='ProblemType',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(max_length=32, unique=True, verbose_name='code')),
                ('name', models.CharField(max_length=40, verbose_name='name')),
                ('default_role', models.CharField(max_length=32, verbose_name='responsible role')),
                ('active', models.BooleanField(default=True, verbose_name='active')),
                ('position', models.PositiveSmallIntegerField(default=0, verbose_name='position')),
            ],
            options={
                'verbose_name': 'problem type',
                'verbose_name_plural': 'problem types',
                'ordering': ['position', 'code'],
            },
        ),
        migrations.CreateModel(
            name='FloorTicket',
            fields=[
                ('ticket', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='floor', serialize=False, to='orders.ticket')),
                ('severity', models.CharField(choices=[('normal', 'Normal'), ('serious', 'Serious'), ('urgent', 'Urgent')], default='normal', max_length=16, verbose_name='severity')),
                ('cause', models.TextField(blank=True, verbose_name='cause')),
                ('fix', models.TextField(blank=True, verbose_name='fix')),
                ('search_text', models.TextField(blank=True)),
                ('product', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.product', verbose_name='product')),
                ('problem_type', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='floor.problemtype', verbose_name='problem type')),
            ],
            options={
                'verbose_name': 'shop-floor ticket',
                'verbose_name_plural': 'shop-floor tickets',
            },
        ),
        migrations.CreateModel(
            name='FloorPhoto',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('width', models.PositiveIntegerField()),
                ('height', models.PositiveIntegerField()),
                ('thumbnail', models.BinaryField()),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('attachment', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orders.attachment')),
                ('ticket', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='photos', to='floor.floorticket')),
            ],
            options={
                'verbose_name': 'photo',
                'verbose_name_plural': 'photos',
                'ordering': ['position', 'pk'],
            },
        ),
        migrations.RunPython(trigram_index, drop_trigram_index),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]

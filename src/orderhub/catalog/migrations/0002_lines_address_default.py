"""Ship-to addresses (issue 15.4): one default address per customer at most. Customers that
had several keep the oldest default; customers with addresses and no default get their oldest
address as the default (what new orders already took: ``MasterData.default_ship_to`` orders by
``-is_default, pk``)."""

from django.db import migrations, models


def one_default(apps, schema_editor):
    Address = apps.get_model("catalog", "CustomerAddress")
    first: dict[int, int] = {}
    defaults: dict[int, int] = {}
    for pk, customer_id, is_default in Address.objects.order_by("pk").values_list("pk", "customer_id", "is_default"):
        first.setdefault(customer_id, pk)
        if is_default:
            defaults.setdefault(customer_id, pk)
    keep = {cid: defaults.get(cid, pk) for cid, pk in first.items()}
    Address.objects.filter(is_default=True).exclude(pk__in=keep.values()).update(is_default=False)
    Address.objects.filter(pk__in=keep.values()).update(is_default=True)


class Migration(migrations.Migration):

    dependencies = [("catalog", "0001_initial")]

    operations = [
        migrations.RunPython(one_default, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="customeraddress",
            constraint=models.UniqueConstraint(condition=models.Q(("is_default", True)), fields=("customer",),
                                               name="customer_address_one_default"),
        ),
    ]

"""What each customer owed outside OrderHub until now: the unpaid amount less the open balances
of the invoices OrderHub issued (before this, a finance write replaced a typed or imported unpaid
amount with those balances; a customer without OrderHub invoices keeps their amount whole)."""

from decimal import Decimal

from django.db import migrations
from django.db.models import F, Sum


def split_unpaid(apps, schema_editor):
    Customer = apps.get_model("catalog", "Customer")
    Invoice = apps.get_model("finance", "Invoice")
    open_by_customer = dict(Invoice.objects.filter(settled__lt=F("amount")).values("customer_id")
                            .annotate(s=Sum(F("amount") - F("settled"))).values_list("customer_id", "s"))
    for c in Customer.objects.filter(unpaid_amount__gt=0).only("pk", "unpaid_amount"):
        external = max(c.unpaid_amount - (open_by_customer.get(c.pk) or Decimal(0)), Decimal(0))
        Customer.objects.filter(pk=c.pk).update(unpaid_external=external)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_lead_unpaid_external"),
        ("finance", "0001_fin_initial"),
    ]

    operations = [migrations.RunPython(split_unpaid, migrations.RunPython.noop)]

"""``fastsql.among``: "one of these ids" as one array parameter on PostgreSQL gives the same
rows as Django's ``__in``, for none, some and thousands of ids."""

import pytest

from orderhub.catalog.models import Product
from orderhub.core import fastsql

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("pick", ["none", "some", "many"])
def test_among_selects_what_in_selects(company, pick):
    pks = sorted(Product.objects.values_list("pk", flat=True))
    assert len(pks) >= 2
    ids = {"none": [], "some": pks[::2] + [10**12], "many": list(range(1, 30000)) + pks}[pick]
    got = sorted(Product.objects.filter(fastsql.among(Product, "id", ids)).values_list("pk", flat=True))
    assert got == sorted(Product.objects.filter(pk__in=ids).values_list("pk", flat=True))
    assert got == sorted(set(pks) & set(ids))

"""Batch intake: many orders in one transaction, each validated and deduplicated on its own."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orderhub.core.errors import Conflict, ValidationFailed
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order
from orderhub.orders.selectors import verify_order_audit
from tests.conftest import order_input

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def _item(ref, qty="10", sku="HSG-100"):
    return order_input(channel="import", external_ref=ref, lines=[LineInput(sku=sku, qty=Decimal(qty))])


def test_batch_creates_valid_items_and_reports_each_bad_one(company):
    sales = company["actors"]["sales"]
    services.order_create(data=_item("OLD-1"), actor=sales)
    services.order_create(data=_item("OLD-2"), actor=sales)
    items = [_item("A"), _item("B"), _item("C", sku="NOPE"), _item("A"), _item("B", qty="11"),
             _item("OLD-1"), _item("OLD-2", qty="99"), order_input(channel="import")]
    res = services.order_create_batch(items=items, actor=sales)
    assert [r.created for r in res] == [True, True, False, False, False, False, False, True]
    assert isinstance(res[2].error, ValidationFailed) and res[2].error.problems[0].field == "lines[0].sku"
    assert res[3].order.pk == res[0].order.pk and res[3].error is None
    assert isinstance(res[4].error, Conflict)
    assert res[5].order.external_ref == "OLD-1" and res[5].error is None
    assert isinstance(res[6].error, Conflict) and res[6].error.data["differences"]
    assert Order.objects.count() == 5
    numbers = set(Order.objects.values_list("number", flat=True))
    assert len(numbers) == 5
    _, breaks, bad = verify_order_audit()
    assert breaks == [] and bad == []
    created = Order.objects.get(external_ref="A")
    assert created.stage == "pending" and created.audit_seq == 1 and created.snapshots.count() == 1


def test_all_or_nothing_writes_nothing_when_one_item_is_bad(company):
    res = services.order_create_batch(items=[_item("X1"), _item("X2", qty="-3")],
                                      actor=company["actors"]["sales"], all_or_nothing=True)
    assert res[0].order is None and res[1].error is not None
    assert Order.objects.count() == 0


def test_batch_costs_the_same_queries_at_10_or_100_orders(company):
    sales = company["actors"]["sales"]
    services.order_create_batch(items=[_item("warm")], actor=sales)
    counts = []
    for n, prefix in ((10, "a"), (100, "b")):
        with CaptureQueriesContext(connection) as ctx:
            services.order_create_batch(items=[_item(f"{prefix}{i}") for i in range(n)], actor=sales)
        # id/number blocks are refilled every 50 on PostgreSQL: one query per block
        counts.append(len([q for q in ctx.captured_queries if "nextval" not in q["sql"]]))
    if connection.vendor == "postgresql":
        assert counts[0] == counts[1], counts
    assert Order.objects.count() == 111

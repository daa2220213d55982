"""The one switch: the fast twins run on PostgreSQL unless ORDERHUB_SQL_PATH=orm; fast
statements apply the ORM's own filters (``fastsql.where``)."""

import pytest
from django.db import connection
from django.test import override_settings

from orderhub.catalog.models import Customer
from orderhub.core import fastsql, numbering

pytestmark = pytest.mark.django_db


@pytest.mark.smoke
def test_fast_path_only_on_postgresql_and_when_the_setting_says_so():
    with override_settings(ORDERHUB_SQL_PATH="orm"):
        assert fastsql.available() is False
    with override_settings(ORDERHUB_SQL_PATH="fast"):
        assert fastsql.available() is (connection.vendor == "postgresql")


def test_a_setting_other_than_fast_or_orm_stops_the_start(monkeypatch):
    import importlib

    from orderhub import settings as module

    monkeypatch.setenv("ORDERHUB_SQL_PATH", "quick")
    with pytest.raises(ValueError, match="fast or orm"):
        importlib.reload(module)
    monkeypatch.delenv("ORDERHUB_SQL_PATH")
    importlib.reload(module)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_where_gives_the_querysets_own_condition():
    assert fastsql.where(Customer.objects.filter(is_active=True)) == '"catalog_customer"."is_active"'
    assert fastsql.where(Customer.objects.all()) == "TRUE"
    with pytest.raises(ValueError):
        fastsql.where(Customer.objects.filter(code="C001"))          # a parameter
    with pytest.raises(ValueError):
        fastsql.where(Customer.objects.filter(sales_owner__is_active=True))  # a join


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.parametrize("path", ["fast", "orm"])
def test_hi_lo_ids_on_both_paths(company, path):
    """On PostgreSQL an order's rows take their ids from hi/lo blocks whichever twin writes them:
    known before the INSERT, and what the rows were stored with."""
    from decimal import Decimal

    from orderhub.orders import services
    from orderhub.orders.inputs import LineInput
    from orderhub.orders.models import Order, OrderLine, StageInstance
    from tests.conftest import order_input

    with override_settings(ORDERHUB_SQL_PATH=path):
        before = numbering.preallocated_id(Order._meta.db_table)
        res = services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal(i + 1))
                                                            for i in range(3)]), actor=company["actors"]["sales"])
        batch = services.order_create_batch(items=[order_input(external_ref=f"H{i}") for i in range(3)],
                                            actor=company["actors"]["sales"])
    ids = [res.order.pk, *(b.order.pk for b in batch)]
    assert ids == list(range(before + 1, before + 5))  # the next ids of the same block
    assert [ln.pk for ln in res.lines] == list(
        OrderLine.objects.filter(order=res.order).order_by("line_no").values_list("pk", flat=True))
    line_ids = [ln.pk for ln in res.lines]
    assert line_ids == list(range(line_ids[0], line_ids[0] + 3))  # one block, in a row
    assert res.stages[0].pk == StageInstance.objects.get(order=res.order).pk


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_execute_inside_a_pipeline_waits_for_its_rows():
    """A statement whose answer is needed, sent while a batch pipelines its INSERTs (an order
    whose first stage reserves stock), gets its rows, not an empty answer."""
    sql = "WITH p AS MATERIALIZED (SELECT %s::jsonb AS d) SELECT (d->>'n')::int + 1 FROM p"
    with fastsql.pipeline():
        assert fastsql.execute(sql, {"n": 41}) == [(42,)]
        assert fastsql.execute(sql, {"n": 1}, returning=False) == []

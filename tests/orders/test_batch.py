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


@pytest.fixture(autouse=True)
def _fast_path(settings):
    """These pin the fast path's statements: they hold whatever ORDERHUB_SQL_PATH the run has."""
    settings.ORDERHUB_SQL_PATH = "fast"


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


def test_batch_queries_grow_only_by_one_pipelined_insert_per_group(company):
    """A batch reads master data and existing keys once, and writes each group of
    PIPELINE_GROUP orders (lines, stages, events, snapshots) with one INSERT statement, sent
    without waiting (pipelined); the count does not depend on the number of lines either."""
    from orderhub.orders.services.create import PIPELINE_GROUP

    sales = company["actors"]["sales"]
    services.order_create_batch(items=[_item("warm")], actor=sales)
    counts, inserts = [], []
    for n, prefix in ((10, "a"), (60, "b")):   # below store.COPY_FROM (from there: COPY)
        with CaptureQueriesContext(connection) as ctx:
            services.order_create_batch(items=[_item(f"{prefix}{i}") for i in range(n)], actor=sales)
        # id/number blocks are refilled every 50 on PostgreSQL (one query per block), and the
        # current workflow and rules version are re-read when their 2-second caches expire
        sqls = [q["sql"] for q in ctx.captured_queries
                if not any(k in q["sql"] for k in ("nextval", "workflow_workflowdefinition",
                                                   "rules_rulesstamp"))]
        counts.append(len(sqls))
        inserts.append(sum(f'INSERT INTO "{Order._meta.db_table}"' in s for s in sqls))
    if connection.vendor == "postgresql":
        groups = [-(-10 // PIPELINE_GROUP), -(-60 // PIPELINE_GROUP)]
        assert inserts == groups, inserts
        assert counts[1] - counts[0] == groups[1] - groups[0], counts
    assert Order.objects.count() == 71


def test_a_large_batch_is_copied_with_five_statements_whatever_its_size(company):
    """From ``store.COPY_FROM`` orders the batch's rows go by COPY, one per table (order, line,
    stage instance, event, snapshot), outside pipeline mode: the same statements at 100 orders
    and at 250 (with 1 or 3 lines each)."""
    from orderhub.orders import store

    sales = company["actors"]["sales"]
    services.order_create_batch(items=[_item("warm")], actor=sales)
    counts, copies = [], []
    for n, prefix in ((store.COPY_FROM, "a"), (store.COPY_FROM * 5 // 2, "b")):
        items = [order_input(channel="import", external_ref=f"{prefix}{i}",
                             lines=[LineInput(sku="HSG-100", qty=Decimal("1"))] * (1 + 2 * (n > store.COPY_FROM)))
                 for i in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            res = services.order_create_batch(items=items, actor=sales)
        assert all(r.created for r in res)
        sqls = [q["sql"] for q in ctx.captured_queries
                if not any(k in q["sql"] for k in ("nextval", "workflow_workflowdefinition",
                                                   "rules_rulesstamp"))]
        counts.append(len(sqls))
        copies.append([s.split(" (")[0] for s in sqls if s.startswith("COPY ")])
        if connection.vendor == "postgresql":  # SQLite: the ORM twin, one INSERT per table
            assert not any(f'INSERT INTO "{Order._meta.db_table}"' in s for s in sqls)
    if connection.vendor == "postgresql":
        tables = ["orders_order", "orders_orderline", "orders_stageinstance", "core_auditevent", "orders_snapshot"]
        assert copies == [[f'COPY "{t}"' for t in tables]] * 2, copies
        assert counts[0] == counts[1], counts
    assert Order.objects.count() == 1 + store.COPY_FROM * 7 // 2
    _, breaks, bad = verify_order_audit()
    assert breaks == [] and bad == []


@pytest.mark.parametrize("copy", [False, True], ids=["pipelined", "copied"])
def test_a_key_taken_meanwhile_sends_the_batch_one_by_one(company, monkeypatch, copy):
    """Another writer inserted one of the keys after the batch looked for existing orders: the
    pipelined INSERT (or the COPY of a large batch) fails, the batch's transaction is rolled
    back and every item is created (or found) on its own; nothing is written twice."""
    from orderhub.orders import store
    from orderhub.orders.services import create

    if copy:
        monkeypatch.setattr(store, "COPY_FROM", 50)
    sales = company["actors"]["sales"]
    taken = services.order_create(data=_item("TAKEN"), actor=sales).order
    monkeypatch.setattr(create, "_existing_orders", lambda keyed: {})   # as if not seen yet
    items = [_item(f"P{i}") for i in range(30)] + [_item("TAKEN")] + [_item(f"Q{i}") for i in range(30)]
    res = services.order_create_batch(items=items, actor=sales)
    assert [r.error for r in res] == [None] * 61
    assert res[30].order.pk == taken.pk and not res[30].created
    assert sum(r.created for r in res) == 60
    assert Order.objects.count() == 61
    _, breaks, bad = verify_order_audit()
    assert breaks == [] and bad == []


def test_a_thousand_line_order_takes_its_line_ids_in_one_round_trip(company):
    """Line ids come from hi/lo blocks of 50: a 1,000-line order reserves its 20 blocks with one
    statement, not one per block."""
    sales = company["actors"]["sales"]
    lines = [LineInput(sku="HSG-100", qty=Decimal("1")) for _ in range(1000)]
    with CaptureQueriesContext(connection) as ctx:
        res = services.order_create(data=order_input(channel="import", external_ref="BIG", lines=lines),
                                    actor=sales)
    assert len({ln.pk for ln in res.lines}) == 1000
    if connection.vendor == "postgresql":
        assert sum("nextval" in q["sql"] for q in ctx.captured_queries) <= 4


def test_a_large_batch_inside_a_callers_pipeline_is_sent_as_the_statement(company, monkeypatch):
    """COPY cannot run in pipeline mode: a batch large enough to be copied, written while a
    caller holds a pipeline open, goes as the one jsonb statement instead (the same rows)."""
    from orderhub.core import fastsql
    from orderhub.orders import store

    monkeypatch.setattr(store, "COPY_FROM", 2)
    with CaptureQueriesContext(connection) as ctx, fastsql.pipeline():
        res = services.order_create_batch(items=[_item(f"PL{i}") for i in range(3)],
                                          actor=company["actors"]["sales"])
    assert all(r.created for r in res)
    assert not any(q["sql"].startswith("COPY ") for q in ctx.captured_queries)
    if connection.vendor == "postgresql":
        assert sum(f'INSERT INTO "{Order._meta.db_table}"' in q["sql"] for q in ctx.captured_queries) == 1
    assert Order.objects.filter(external_ref__startswith="PL").count() == 3
    _, breaks, bad = verify_order_audit()
    assert breaks == [] and bad == []

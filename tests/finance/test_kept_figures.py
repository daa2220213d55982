"""The figures PostgreSQL triggers keep for the move path (issue 20), checked against what they
stand for after every kind of write that changes it:

- ``CustomerOpenAmount`` (migration orders 0024): per customer, the sum of its rows equals the
  total of its open orders — after creates (one by one, a pipelined batch, a copied batch),
  moves (one, a batch, a reserving one with a credit guard), line edits, hold, cancel, a
  shipment that completes the order, an invoice, an order's customer changed and an order
  deleted; and a reading move folds a customer's many rows into one without changing the sum;
- ``LineNeedBound`` (migration orders 0023): per product, the highest bound is at least every
  order's need of it (its lines of that product, base units) after creates and line edits.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Max, Sum

from orderhub.catalog.models import Customer, Product
from orderhub.finance.services import invoice_issue
from orderhub.orders import services as orders
from orderhub.orders import store
from orderhub.orders.inputs import LineInput
from orderhub.orders.locks import FOLD_ROWS, lock_move_stock
from orderhub.orders.models import CustomerOpenAmount, LineNeedBound, Order, OrderLine
from orderhub.orders.services.lines import LineChange
from tests.conftest import order_input

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
D = Decimal


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("kept by PostgreSQL triggers")


def kept_amounts() -> dict[int, Decimal]:
    return {c: s for c, s in CustomerOpenAmount.objects.values("customer_id").annotate(s=Sum("amount"))
            .values_list("customer_id", "s") if s != 0}


def open_amounts() -> dict[int, Decimal]:
    return {c: s for c, s in Order.objects.filter(status=Order.Status.OPEN).values("customer_id")
            .annotate(s=Sum("total_amount")).values_list("customer_id", "s") if s != 0}


def assert_amounts_kept(step: str) -> None:
    assert kept_amounts() == open_amounts(), step


def assert_bounds_kept(step: str) -> None:
    bound = dict(LineNeedBound.objects.values("product_id").annotate(m=Max("need")).values_list("product_id", "m"))
    needs = (OrderLine.objects.values("order_id", "product_id").annotate(n=Sum("base_qty"))
             .values_list("product_id", "n"))
    low = [(p, n, bound.get(p)) for p, n in needs if bound.get(p) is None or bound[p] < n]
    assert low == [], step


def test_open_amounts_follow_every_write_of_an_order(fin, monday_morning, monkeypatch):
    a = fin["a"]
    other = Customer.objects.create(code="C002", name="无锡精密", tier="B", credit_limit=D("100000"))
    one = orders.order_create(data=order_input(), actor=a["sales"]).order
    assert_amounts_kept("create")
    assert one.status == "open" and kept_amounts()[one.customer_id] >= one.total_amount
    orders.order_create_batch(items=[order_input(external_ref=f"b{i}") for i in range(3)], actor=a["sales"])
    assert_amounts_kept("pipelined batch")
    monkeypatch.setattr(store, "COPY_FROM", 1)
    orders.order_create_batch(items=[order_input(external_ref=f"c{i}") for i in range(3)], actor=a["sales"])
    assert_amounts_kept("copied batch")

    assert orders.order_transition(order=one.number, to="scheduled", actor=a["service"]).ok
    assert_amounts_kept("move")
    t3 = [orders.order_create(data=order_input(external_ref=f"t{i}", workflow="T3",
                                               lines=[LineInput(sku="M8X30", qty=D(10 * (i + 1)))]),
                              actor=a["sales"]).order.number for i in range(3)]
    for to, who in (("credit_review", "sales"), ("contract_signed", "finance"), ("production_locked", "sales")):
        assert all(r.ok for r in orders.order_transition_batch(numbers=t3, to=to, actor=a[who])), to
        assert_amounts_kept(f"batch move to {to}")       # the last one reserving, with a credit guard
    numbers = list(Order.objects.filter(external_ref__startswith="b").values_list("number", flat=True))
    orders.order_lines_change(order=one.number, actor=a["sales"],
                              changes=[LineChange(op="update", line_no=1, qty=D("90"))])
    assert_amounts_kept("line edit")
    orders.order_hold(order=numbers[0], actor=a["finance"], reason="税号有误")
    orders.order_resume(order=numbers[0], actor=a["finance"])
    assert_amounts_kept("hold and resume")
    orders.order_cancel(order=numbers[1], actor=a["manager"], reason="客户取消")
    assert_amounts_kept("cancel")

    order, sh = fin["ship"]()                       # shipped in full: the order completes
    assert_amounts_kept("shipment")
    invoice_issue(shipment=sh.number, kind="normal", actor=a["finance"])
    assert_amounts_kept("invoice")

    Order.objects.filter(number=numbers[2]).update(customer=other)
    assert_amounts_kept("customer changed")
    Order.objects.filter(number=numbers[0]).update(status=Order.Status.COMPLETED)
    Order.objects.filter(number=numbers[0]).update(status=Order.Status.OPEN)
    assert_amounts_kept("closed and reopened by hand")
    assert set(kept_amounts()) == {fin["customer"].pk, other.pk}


def test_a_reading_move_folds_a_customers_rows_into_their_sum(fin, monday_morning):
    a = fin["a"]
    for i in range(FOLD_ROWS + 3):
        orders.order_create(data=order_input(external_ref=f"f{i}"), actor=a["sales"])
    cust = fin["customer"].pk
    assert CustomerOpenAmount.objects.filter(customer_id=cust).count() == FOLD_ROWS + 3
    before = kept_amounts()
    read = lock_move_stock([], set(), explode=False, customers=[cust])
    assert read.open_amounts == {cust: open_amounts()[cust]}     # the sum read before the fold
    assert CustomerOpenAmount.objects.filter(customer_id=cust).count() == 1
    assert kept_amounts() == before == open_amounts()
    # at or below FOLD_ROWS rows: read, not folded
    orders.order_create(data=order_input(external_ref="g"), actor=a["sales"])
    lock_move_stock([], set(), explode=False, customers=[cust])
    assert CustomerOpenAmount.objects.filter(customer_id=cust).count() == 2
    assert_amounts_kept("after the fold")


def test_line_need_bounds_are_never_below_an_orders_need(fin, monday_morning, monkeypatch):
    a = fin["a"]
    orders.order_create(data=order_input(lines=[LineInput(sku="M8X30", qty=D("30")),
                                                LineInput(sku="M8X30", qty=D("20"))]), actor=a["sales"])
    assert_bounds_kept("one order, two lines of a product")
    monkeypatch.setattr(store, "COPY_FROM", 1)
    orders.order_create_batch(items=[order_input(external_ref=f"c{i}", lines=[LineInput(sku="M8X30", qty=D(i + 1))])
                                     for i in range(3)], actor=a["sales"])
    assert_bounds_kept("copied batch")
    small = orders.order_create(data=order_input(external_ref="s", lines=[LineInput(sku="AL6061-BAR", qty=D("1"))]),
                                actor=a["sales"]).order
    orders.order_lines_change(order=small.number, actor=a["sales"],
                              changes=[LineChange(op="update", line_no=1, qty=D("70"))])
    assert_bounds_kept("line edited up")
    orders.order_lines_change(order=small.number, actor=a["sales"],
                              changes=[LineChange(op="add", sku="AL6061-BAR", qty=D("5"))])
    assert_bounds_kept("line of the same product added")
    OrderLine.objects.filter(order=small, line_no=1).update(product=Product.objects.get(sku="M8X30"))
    assert_bounds_kept("line's product changed")


@pytest.mark.django_db(transaction=True)
def test_open_amounts_stay_exact_with_many_connections_writing_and_folding_at_once(company):
    """8 connections at once, each: orders created one by one and in a batch, moved through T3
    to production_locked (its credit guard reads, and folds, the kept rows), one cancelled;
    FOLD_ROWS is passed many times over. No connection waits on another for the kept rows (no
    error, no deadlock) and the sums equal the open orders afterwards."""
    import threading

    a = company["actors"]
    clients = 8
    barrier = threading.Barrier(clients)
    errors: list[str] = []

    def client(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            mine = [orders.order_create(data=order_input(workflow="T3", external_ref=f"k{n}-{i}",
                                                         lines=[LineInput(sku="M8X30", qty=D(i + 1))]),
                                        actor=a["sales"]).order.number for i in range(3)]
            mine += [r.order.number for r in orders.order_create_batch(
                items=[order_input(workflow="T3", external_ref=f"kb{n}-{i}", lines=[LineInput(sku="M8X30", qty=D(2))])
                       for i in range(FOLD_ROWS)], actor=a["sales"])]
            for to, who in (("credit_review", "sales"), ("contract_signed", "finance"), ("production_locked", "sales")):
                assert all(r.ok for r in orders.order_transition_batch(numbers=mine, to=to, actor=a[who])), to
            orders.order_cancel(order=mine[0], actor=a["manager"], reason="客户取消")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert Order.objects.filter(status="open").count() == clients * (3 + FOLD_ROWS - 1)
    assert_amounts_kept("after the concurrent writers")
    lock_move_stock([], set(), explode=False, customers=[company["customer"].pk])
    assert CustomerOpenAmount.objects.filter(customer_id=company["customer"].pk).count() == 1
    assert_amounts_kept("after a last fold")


def test_the_periodic_fold_leaves_each_customer_one_row_and_the_same_sum(company):
    """A customer whose orders no credit-guarded move reads gathers a row per order; the
    periodic job folds every customer beyond FOLD_ROWS into one row, sums unchanged."""
    from orderhub.orders.locks import fold_open_amounts
    from orderhub.orders.tasks import fold_open_amounts_job

    sales = company["actors"]["sales"]
    for i in range(FOLD_ROWS + 3):
        orders.order_create(data=order_input(external_ref=f"fold-{i}"), actor=sales)
    cust = Customer.objects.get(code="C001")
    assert CustomerOpenAmount.objects.filter(customer=cust).count() > FOLD_ROWS
    before = kept_amounts()
    assert fold_open_amounts_job() > 0
    assert CustomerOpenAmount.objects.filter(customer=cust).count() == 1
    assert kept_amounts() == before
    assert_amounts_kept("after the periodic fold")
    assert fold_open_amounts() == 0   # nothing left beyond FOLD_ROWS

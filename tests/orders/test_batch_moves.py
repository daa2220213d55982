"""A batch move gives each order the outcome it would get moved on its own, in one transaction."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction

from orderhub.core import clock
from orderhub.core.audit_verify import verify
from orderhub.core.errors import DomainError
from orderhub.core.models import AuditEvent
from orderhub.inventory.models import Reservation, StockLevel
from orderhub.orders import hooks, services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order, Snapshot, StageInstance
from tests.conftest import SH, order_input
from tests.orders.test_query_counts import _count

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=SH)   # a Monday morning
T1 = datetime(2026, 11, 24, 10, 0, tzinfo=SH)


def _t1(co, qty: str, sku: str = "HSG-100", stage: str = "scheduled") -> str:
    """A T1 order at ``stage`` (pending → scheduled)."""
    a = co["actors"]
    number = services.order_create(data=order_input(lines=[LineInput(sku=sku, qty=Decimal(qty))]),
                                   actor=a["sales"]).order.number
    if stage == "scheduled":
        assert services.order_transition(order=number, to="scheduled", actor=a["service"]).ok
    return number


@pytest.fixture
def mixed(company):
    """Orders at ``scheduled`` to move to materials_ready (kitting guard on 6061 bar, 80 kg in
    stock; a housing takes 0.6 kg): two of 50 housings fit (60 kg), the third is blocked by the
    kitting guard (20 kg left), bolts fit, one order is on hold, one is still pending (refused:
    no such transition), one does not exist."""
    co = company
    with clock.frozen(T0):
        numbers = [_t1(co, "50"), _t1(co, "50"), _t1(co, "50"), _t1(co, "300", sku="M8X30"),
                   _t1(co, "1"), _t1(co, "1", stage="pending")]
        services.order_hold(order=numbers[4], actor=co["actors"]["finance"], reason="税号不对")
    return [*numbers, "SO-NOPE-000001"]


def _outcome(numbers, results_by_number):
    """Everything each order ended with: outcome, reasons (codes and messages), stage, version,
    blocked reasons, the new events' actions/changes/data, snapshots, reservations."""
    out = []
    for n in numbers:
        res = results_by_number[n]
        order = Order.objects.filter(number=n).first()
        rows = None
        if order is not None:
            rows = (order.stage, order.version, order.blocked_reasons, order.tags, order.urgency,
                    [(e.action, e.changes, e.data, e.reason, e.forced)
                     for e in AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("seq")],
                    list(Snapshot.objects.filter(order=order).order_by("version").values_list("version", "stage")),
                    list(StageInstance.objects.filter(order=order).order_by("entered_at", "id")
                         .values_list("stage", "exited_at")),
                    sorted((str(r.qty), r.stock_id, r.status) for r in Reservation.objects.filter(order=order)),
                    order.status)
        out.append((n, *res, rows))
    levels = sorted(StockLevel.objects.values_list("pk", "reserved", "on_hand"))
    return out, levels


def _both(company, numbers, to="materials_ready", who="planner"):
    """The batch and one by one, each from the same start (rolled back after reading)."""
    actor = company["actors"][who]
    runs = []
    for way in ("batch", "single"):
        with transaction.atomic(), clock.frozen(T1):
            if way == "batch":
                got = {r.number: (r.outcome, [(p.code, p.message) for p in r.reasons],
                                  r.error.code if r.error else None)
                       for r in services.order_transition_batch(numbers=numbers, to=to, actor=actor)}
            else:
                got = {}
                for n in numbers:
                    try:
                        r = services.order_transition(order=n, to=to, actor=actor)
                        got[n] = ("moved" if r.ok else "blocked", [(p.code, p.message) for p in r.reasons], None)
                    except DomainError as exc:
                        got[n] = ("refused", [], exc.code)
            runs.append(_outcome(numbers, got))
            transaction.set_rollback(True)
    return runs


def test_a_mixed_batch_ends_as_moving_them_one_by_one(mixed, company):
    batch, single = _both(company, mixed)
    assert [(o[1], [c for c, _m in o[2]], o[3]) for o in batch[0]] == [
        ("moved", [], None), ("moved", [], None), ("blocked", ["bom_kitted"], None), ("moved", [], None),
        ("blocked", ["on_hold"], None), ("refused", [], "invalid_transition"),
        ("refused", [], "order_not_found")]
    assert "10 kg" in batch[0][2][2][0][1]  # what earlier orders of the batch left: 20 kg of 30
    assert batch == single, _diff(batch, single)


def test_the_stage_owner_rule_is_checked_per_order(mixed, company):
    batch, single = _both(company, mixed[:2], who="sales")
    assert [o[3] for o in batch[0]] == ["permission_denied"] * 2
    assert batch == single, _diff(batch, single)


def test_a_forced_batch_reserves_what_is_there_as_forcing_one_by_one(mixed, company):
    numbers = mixed[:4]
    actor = company["actors"]["manager"]
    results = []
    for way in ("batch", "single"):
        with transaction.atomic(), clock.frozen(T1):
            if way == "batch":
                got = {r.number: (r.outcome, [], None) for r in services.order_transition_batch(
                    numbers=numbers, to="materials_ready", actor=actor, reason="分批", force=True)}
            else:
                got = {n: ("moved" if services.order_override(order=n, to="materials_ready", actor=actor,
                                                              reason="分批").ok else "blocked", [], None)
                       for n in numbers}
            results.append(_outcome(numbers, got))
            transaction.set_rollback(True)
    assert results[0] == results[1]
    assert [o[1] for o in results[0][0]] == ["moved"] * 4


def test_after_a_batch_every_chain_verifies_and_hooks_hear_one_list(mixed, company):
    heard = []
    with hooks.listening(heard.append):
        results = services.order_transition_batch(numbers=mixed, to="materials_ready",
                                                  actor=company["actors"]["planner"])
    assert [r.outcome for r in results].count("moved") == 3
    assert len(heard) == 1
    assert [ch.action for ch in heard[0]] == ["order.transitioned", "order.transitioned", "order.blocked",
                                              "order.transitioned", "order.blocked"]
    assert all(ch.entered is not None and ch.entered.pk for ch in heard[0] if ch.action != "order.blocked")
    report = verify(subject_types=["order"])
    assert report.ok, report.findings
    # one event and one snapshot more per moved order, one event more per blocked one
    moved = Order.objects.get(number=mixed[0])
    assert moved.stage == "materials_ready" and moved.version == 3
    assert Snapshot.objects.filter(order=moved, version=3, stage="materials_ready").count() == 1
    assert StageInstance.objects.filter(order=moved, exited_at__isnull=True).get().stage == "materials_ready"


def test_a_batch_costs_the_same_statements_for_one_order_or_twenty(company, settings):
    settings.ORDERHUB_SQL_PATH = "fast"
    a = company["actors"]
    with clock.frozen(T0):
        numbers = [_t1(company, "1", sku="M8X30") for _ in range(21)]
    counts = [_count(lambda ns=ns: services.order_transition_batch(numbers=ns, to="materials_ready",
                                                                   actor=a["planner"]), blocks=False)
              for ns in (numbers[:1], numbers[1:])]
    assert counts[0] == counts[1], counts
    if connection.vendor == "postgresql":
        # savepoint pair, lock orders + lines + their pending change requests, held + BOM items +
        # stock rows locked (with their safety stock: the safety check then needs no query) in
        # one, stock write, the stock circuit breaker's check of the reserved products (one
        # statement, whatever the batch's size: orders.breakers.stock), orders + stages +
        # events + snapshots, the outbox INSERT. Issue 20: was 16
        assert counts[0] == 8, counts


def _diff(a, b):
    import difflib
    import pprint
    return "\n".join(difflib.unified_diff(pprint.pformat(a, width=150).splitlines(),
                                          pprint.pformat(b, width=150).splitlines(), lineterm=""))


def test_a_batch_into_a_consuming_final_stage_ends_as_one_by_one(company):
    """shipped consumes the reservations and completes the order: the batch goes order by order
    (a savepoint each) and still ends as moving them one by one."""
    a = company["actors"]
    with clock.frozen(T0):
        numbers = [_t1(company, "50"), _t1(company, "300", sku="M8X30"), _t1(company, "20")]
        for to, who in (("materials_ready", "planner"), ("machining", "purchaser"), ("qc", "production"),
                        ("packed", "qc")):
            assert all(r.ok for r in services.order_transition_batch(numbers=numbers, to=to, actor=a[who]))
    services.order_hold(order=numbers[2], actor=a["finance"], reason="待付款")
    batch, single = _both(company, numbers, to="shipped", who="warehouse")
    assert [o[1] for o in batch[0]] == ["moved", "moved", "blocked"]
    assert [o[4][-1] for o in batch[0]] == ["completed", "completed", "open"]
    assert {r[2] for o in batch[0][:2] for r in o[4][-2]} == {"consumed"}
    assert batch == single, _diff(batch, single)


def test_the_stock_book_gives_back_what_a_refused_order_reserved(company):
    """A guard may refuse an order after its partial reservation (kitting by date: what open POs
    make up): the batch undoes it in its book, so nothing of it is written."""
    from orderhub.inventory.services import Requirement, StockBook

    bar = company["bar"]
    order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    with transaction.atomic():
        book = StockBook.lock([bar.pk])
        assert book.free(bar.pk) == Decimal("80")
        mark = book.mark()
        made, short = book.reserve(order_id=order.pk, requirements=[Requirement(bar.pk, Decimal("100"))],
                                   actor=company["actors"]["planner"], release_condition="测试", allow_partial=True)
        assert sum(r.qty for r in made) == Decimal("80") and short[0].missing == Decimal("20")
        assert book.free(bar.pk) == 0
        book.undo(mark)
        assert book.free(bar.pk) == Decimal("80")
        book.write()
    assert not Reservation.objects.filter(order=order).exists()
    assert set(StockLevel.objects.filter(product=bar).values_list("reserved", flat=True)) == {Decimal("0")}


def test_orders_locked_together_share_their_customer_workflow_and_products(company):
    """One lock statement builds a customer, workflow or product once for all its orders (as
    ``prefetch_related`` shares them), with the values the ORM twin loads."""
    from django.test import override_settings

    from orderhub.orders import locks

    numbers = [_t1(company, "5"), _t1(company, "7"), _t1(company, "2", sku="M8X30")]
    with transaction.atomic():
        fast, pending = locks.lock_orders_for_moves(numbers)
        assert pending == {}
        orders = [fast[n][0] for n in numbers]
        products = [fast[n][1][0].product for n in numbers]
        assert orders[0].customer is orders[1].customer is orders[2].customer
        assert orders[0].workflow is orders[2].workflow
        assert products[0] is products[1] and products[2] is not products[0]
        assert [p.sku for p in products] == ["HSG-100", "HSG-100", "M8X30"]
    with override_settings(ORDERHUB_SQL_PATH="orm"), transaction.atomic():
        orm = locks.lock_orders_with_lines(numbers)
    for n in numbers:
        (fo, fl), (oo, ol) = fast[n], orm[n]
        for a, b in [(fo.customer, oo.customer), (fo.workflow, oo.workflow), (fl[0].product, ol[0].product)]:
            assert {f.attname: getattr(a, f.attname) for f in type(a)._meta.concrete_fields
                    if f.attname not in a.get_deferred_fields()} == {
                f.attname: getattr(b, f.attname) for f in type(b)._meta.concrete_fields
                if f.attname not in a.get_deferred_fields()}


def test_locking_one_order_reads_it_through_the_numbers_index_in_a_young_company(company):
    """The moves' lock statement finds its orders through the number's index, also while the
    company has a few thousand orders: with ``IN (SELECT jsonb_array_elements_text(…))`` the
    planner guessed 100 numbers and read the whole order table below ~4,000 orders (0.6 ms a
    move at 2,200, growing with the table)."""
    from orderhub.orders import locks

    number = _t1(company, "5")
    first = Order.objects.get(number=number)
    clones = []
    for i in range(3000):
        first.pk, first.id, first.number = None, None, f"SO-LOCK-{i:06d}"
        first.external_ref = None
        clones.append(Order(**{f.attname: getattr(first, f.attname) for f in Order._meta.concrete_fields}))
    Order.objects.bulk_create(clones)
    with connection.cursor() as cur:
        cur.execute("ANALYZE orders_order")
        cur.execute("EXPLAIN " + locks._lock_moves_sql(), [f'["{number}"]'])
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert "Seq Scan on orders_order" not in plan, plan
    assert re.search(r"(Index Scan using|Bitmap Index Scan on) orders_order_number_", plan), plan

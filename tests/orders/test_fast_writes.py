"""The PostgreSQL fast path (core/fastsql.py) writes and reads what the ORM would."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from orderhub.catalog.models import Customer, Product
from orderhub.core import fastsql
from orderhub.core.models import AuditEvent
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.orders.locks import lock_order_with_lines
from orderhub.orders.models import Order, OrderLine, StageInstance
from tests.conftest import order_input

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif("connection.vendor != 'postgresql'")]


@pytest.fixture(autouse=True)
def _fast_path(settings):
    """These pin the fast path's statements: they hold whatever ORDERHUB_SQL_PATH the run has."""
    settings.ORDERHUB_SQL_PATH = "fast"


def _fields(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_batch_sets_the_pks_the_database_gave(company):
    items = [order_input(external_ref=f"PK{i}", lines=[LineInput(sku="HSG-100", qty=Decimal(i + 1))] * (1 + i % 4))
             for i in range(12)]
    results = services.order_create_batch(items=items, actor=company["actors"]["sales"])
    for r in results:
        order = r.order
        db_lines = dict(OrderLine.objects.filter(order=order).values_list("line_no", "id"))
        assert {ln.line_no: ln.pk for ln in order.lines.all()} == db_lines
        # what the hooks and callers got in memory is the stored rows
        event = AuditEvent.objects.get(subject_type="order", subject_id=order.pk, seq=1)
        inst = StageInstance.objects.get(order=order)
        assert _fields(Order.objects.get(pk=order.pk))["audit_head"] == event.hash
        assert inst.stage == order.stage and inst.exited_at is None
    single = services.order_create(data=order_input(external_ref="one", lines=[
        LineInput(sku="HSG-100", qty=Decimal("1")), LineInput(sku="HSG-100", qty=Decimal("2"))]),
        actor=company["actors"]["sales"])
    assert [ln.pk for ln in single.lines] == list(
        OrderLine.objects.filter(order=single.order).order_by("line_no").values_list("id", flat=True))
    assert single.stages[0].pk == StageInstance.objects.get(order=single.order).pk


def test_lock_with_lines_loads_what_the_orm_loads(company):
    company["customer"].credit_limit = Decimal("123456.78")
    company["customer"].save()
    order = services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("2.5"))],
                                                   promised_date=date(2026, 12, 24), tags=["x", "y"]),
                                  actor=company["actors"]["sales"]).order
    Order.objects.filter(pk=order.pk).update(blocked_reasons=[{"code": "c", "data": {"ratio": 1.25}}])
    fast, lines = lock_order_with_lines(order.number)
    orm = Order.objects.select_related("customer", "workflow").get(pk=order.pk)
    expected = {k: v for k, v in _fields(orm).items() if k != "intake"}
    got = {k: v for k, v in _fields(fast).items() if k != "intake"}
    assert got == expected
    assert isinstance(got["blocked_reasons"][0]["data"]["ratio"], float)  # JSON keeps its floats
    assert _fields(fast.customer) == _fields(orm.customer)
    assert fast.workflow.code == orm.workflow.code and fast.workflow.version == orm.workflow.version
    assert fast.intake == orm.intake  # deferred, loaded on access
    orm_lines = list(OrderLine.objects.filter(order=orm).select_related("product").order_by("line_no"))
    assert [_fields(ln) for ln in lines] == [_fields(ln) for ln in orm_lines]
    assert [_fields(ln.product) for ln in lines] == [_fields(ln.product) for ln in orm_lines]


def test_instance_converts_like_the_orm(company):
    p = Product.objects.get(sku="HSG-100")
    with connection.cursor() as cur:
        cur.execute(f"SELECT to_jsonb(p)::text FROM {Product._meta.db_table} p WHERE id = %s", [p.pk])
        loaded = fastsql.instance(Product, fastsql.loads(cur.fetchone()[0]))
        cur.execute(f"SELECT to_jsonb(c)::text FROM {Customer._meta.db_table} c WHERE id = %s",
                    [company["customer"].pk])
        customer = fastsql.instance(Customer, fastsql.loads(cur.fetchone()[0]))
    assert _fields(loaded) == _fields(Product.objects.get(pk=p.pk))
    assert _fields(customer) == _fields(Customer.objects.get(pk=company["customer"].pk))
    assert not loaded._state.adding


def _prepared_count() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements")
        return cur.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_statements_are_prepared_unless_turned_off(company):
    sales = company["actors"]["sales"]
    connection.close()  # a new connection, as a pooler would give
    with override_settings(ORDERHUB_PREPARE_STATEMENTS=False):
        services.order_create(data=order_input(external_ref="np"), actor=sales)
        assert _prepared_count() == 0
    assert Order.objects.filter(external_ref="np").exists()
    connection.close()
    services.order_create(data=order_input(), actor=sales)
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        texts = [r[0] for r in cur.fetchall()]
    assert any(f'INSERT INTO "{Order._meta.db_table}"' in t for t in texts), texts


def test_reservations_get_their_own_ids_and_levels_their_new_reserved(company):
    from orderhub.inventory.models import Reservation, StockLevel
    from orderhub.inventory.services import Requirement, stock_reserve

    order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    bar = company["bar"]
    # 70 of bar: 50 from WH1 (priority 1) and 20 from WH2; then 5 more from WH2 (same product,
    # no line: rows that only their position tells apart)
    made, short = stock_reserve(order_id=order.pk, requirements=[Requirement(bar.pk, Decimal("70")),
                                                                 Requirement(bar.pk, Decimal("5"))],
                                actor=company["actors"]["planner"], release_condition="test")
    assert short == []
    stored = {r.pk: (r.stock_id, r.qty) for r in Reservation.objects.filter(order=order)}
    assert {r.pk: (r.stock_id, r.qty) for r in made} == stored
    assert [r.qty for r in made] == [Decimal("50"), Decimal("20"), Decimal("5")]
    levels = dict(StockLevel.objects.filter(product=bar).values_list("warehouse__code", "reserved"))
    assert levels == {"WH1": Decimal("50"), "WH2": Decimal("25")}
    _more, short = stock_reserve(order_id=order.pk, requirements=[Requirement(bar.pk, Decimal("6"))],
                                 actor=company["actors"]["planner"], release_condition="test")
    assert [s.missing for s in short] == [Decimal("1")]  # never oversold


@pytest.mark.django_db(transaction=True)
def test_concurrent_same_key_creates_one_order(company):
    """Connections racing with one channel + external_ref: one order; the others get it back
    (same content) or a conflict (other content); nothing else leaks out."""
    import threading

    from orderhub.core.errors import Conflict

    sales = company["actors"]["sales"]
    services.order_create(data=order_input(external_ref="warm"), actor=sales)  # caches warm
    n = 8
    barrier = threading.Barrier(n)
    got, errors = [], []

    def client(i):
        try:
            barrier.wait(timeout=30)
            qty = Decimal("5") if i == n - 1 else Decimal("100")  # the last one differs
            res = services.order_create(data=order_input(external_ref="RACE", lines=[
                LineInput(sku="HSG-100", qty=qty)]), actor=sales)
            got.append((res.created, res.order.number))
        except Conflict as exc:
            got.append(("conflict", exc.data["order"]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    orders = list(Order.objects.filter(external_ref="RACE"))
    assert len(orders) == 1 and len(got) == n
    assert {number for _, number in got} == {orders[0].number}
    assert sum(1 for created, _ in got if created is True) == 1
    if orders[0].lines.get().qty == Decimal("5"):  # the odd one won: the others conflict
        assert sum(1 for created, _ in got if created == "conflict") == n - 1
    else:
        assert sum(1 for created, _ in got if created == "conflict") == 1
    assert AuditEvent.objects.filter(subject_type="order", subject_id=orders[0].pk).count() == 1


def test_hold_update_cancel_are_two_statements_and_keep_the_intake(company):
    from django.test.utils import CaptureQueriesContext

    a = company["actors"]
    created = services.order_create(data=order_input(remarks="原始"), actor=a["sales"]).order
    intake = Order.objects.get(pk=created.pk).intake
    steps = [
        lambda: services.order_hold(order=created.number, actor=a["finance"], reason="税号不对"),
        lambda: services.order_resume(order=created.number, actor=a["finance"]),
        lambda: services.order_update(order=created.number, changes={"remarks": "改过"}, actor=a["sales"]),
        lambda: services.order_cancel(order=created.number, actor=a["manager"], reason="客户取消"),
    ]
    counts = []
    for step in steps:
        with CaptureQueriesContext(connection) as ctx:
            step()
        counts.append(len(ctx.captured_queries))
    # lock (order + customer + workflow [+ lines]) and one write (+ savepoint pair); cancel
    # also asks for the order's active reservations (none here) and cancels its pending
    # escalation rungs (rules app, order hooks); an update first asks whether a change request
    # freezes the order
    assert counts == [4, 4, 5, 6], counts
    order = Order.objects.get(pk=created.pk)
    assert order.intake == intake and order.remarks == "改过" and order.status == "cancelled"
    assert order.version == 5 and order.audit_seq == 5
    assert StageInstance.objects.filter(order=order, exited_at__isnull=True).count() == 0


def test_a_reserving_move_writes_in_one_pipeline_with_the_ids_it_published(company):
    """A single move sends its stock write and its order write without waiting for each (libpq
    pipeline mode, issue 20), so every id is given before: what the subscribers get (the stage
    instance, the event) is what the rows hold, and the reservations get the ids the database
    gave them."""
    from psycopg import pq

    from orderhub.inventory.models import Reservation
    from orderhub.orders import hooks

    a = company["actors"]
    order = services.order_create(data=order_input(), actor=a["sales"]).order
    assert services.order_transition(order=order, to="scheduled", actor=a["service"]).ok
    seen = []

    def spy(changes):
        seen.append((connection.connection.pgconn.pipeline_status == pq.PipelineStatus.ON, list(changes)))

    with hooks.listening(spy):
        assert services.order_transition(order=order, to="materials_ready", actor=a["planner"]).ok
    (pipelined, (ch,)), = seen
    assert pipelined
    inst = StageInstance.objects.get(pk=ch.entered.pk)
    assert (inst.order_id, inst.stage, inst.exited_at) == (order.pk, "materials_ready", None)
    ev = AuditEvent.objects.get(pk=ch.event.pk)
    assert (ev.subject_id, ev.seq, ev.action) == (order.pk, ch.event.seq, ch.event.action)
    held = Reservation.objects.filter(order=order, status=Reservation.Status.ACTIVE)
    assert held.exists() and all(r.pk for r in held)

"""Stock is never oversold: real concurrent connections on PostgreSQL, and random sequences."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderhub.catalog.models import Product
from orderhub.core.actors import Actor
from orderhub.inventory.models import Reservation, StockLevel
from orderhub.inventory.services import (
    Requirement,
    stock_consume,
    stock_receive,
    stock_release,
    stock_reserve,
)
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from tests.conftest import order_input

CLIENTS = 24
LAST_UNITS = 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("way,clients,per_client", [("single", CLIENTS, 1), ("batch", CLIENTS, 2), ("batch", 32, 2)])
def test_concurrent_clients_fight_for_the_last_units_and_none_is_oversold(company, way, clients, per_client):
    """24 (or 32) connections at once move their T2 orders into picking, which reserves 1 unit
    each; only 10 units exist (split over two warehouses). ``single``: one order_transition per
    client; ``batch``: each client moves its orders with one order_transition_batch."""
    widget = Product.objects.create(sku="LAST-UNIT", name="最后几件", unit="件", list_price=Decimal("5"))
    StockLevel.objects.create(product=widget, warehouse=company["wh1"], on_hand=Decimal("6"))
    StockLevel.objects.create(product=widget, warehouse=company["wh2"], on_hand=Decimal("4"))
    a = company["actors"]
    numbers = [[services.order_create(data=order_input(workflow="T2", lines=[LineInput(sku="LAST-UNIT", qty=Decimal("1"))]),
                                      actor=a["sales"]).order.number for _ in range(per_client)] for _ in range(clients)]
    barrier = threading.Barrier(clients)
    results, errors = {}, []

    def client(mine):
        try:
            barrier.wait(timeout=30)
            if way == "single":
                res = services.order_transition(order=mine[0], to="picking", actor=a["service"])
                results[mine[0]] = (res.ok, [r.code for r in res.reasons])
            else:
                for r in services.order_transition_batch(numbers=mine, to="picking", actor=a["service"]):
                    results[r.number] = (r.ok, [p.code for p in r.reasons])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == clients * per_client
    winners = [n for n, (ok, _) in results.items() if ok]
    losers = [codes for ok, codes in results.values() if not ok]
    assert len(winners) == LAST_UNITS
    assert all(codes == ["stock_short"] for codes in losers)
    levels = StockLevel.objects.filter(product=widget)
    assert sum(lv.reserved for lv in levels) == LAST_UNITS
    assert all(0 <= lv.reserved <= lv.on_hand for lv in levels)
    assert Reservation.objects.filter(product=widget, status="active").aggregate(s=Sum("qty"))["s"] == LAST_UNITS


ops = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.integers(0, 3), st.integers(1, 40)),
        st.tuples(st.just("release"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("ship"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("receive"), st.integers(0, 1), st.integers(1, 30)),
    ),
    min_size=1, max_size=25,
)


@pytest.mark.smoke
@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_random_reserve_release_ship_keep_reserved_within_on_hand(company, sequence):
    actor = Actor.system("property")
    bar = company["bar"]
    warehouses = [company["wh1"], company["wh2"]]
    with transaction.atomic():  # each example starts from the same stock and is rolled back
        orders = [services.order_create(data=order_input(), actor=actor).order for _ in range(4)]
        for op, idx, qty in sequence:
            order_id = orders[idx].pk if op != "receive" else None
            if op == "reserve":
                stock_reserve(order_id=order_id, requirements=[Requirement(bar.pk, Decimal(qty))],
                              actor=actor, release_condition="test", allow_partial=qty % 2 == 0)
            elif op == "release":
                stock_release(order_id=order_id, actor=actor)
            elif op == "ship":
                stock_consume(order_id=order_id, actor=actor)
            else:
                stock_receive(product_id=bar.pk, warehouse_id=warehouses[idx].pk, qty=Decimal(qty), actor=actor)
            levels = list(StockLevel.objects.filter(product=bar))
            assert all(Decimal(0) <= lv.reserved <= lv.on_hand for lv in levels)
            active = Reservation.objects.filter(product=bar, status="active").aggregate(s=Sum("qty"))["s"] or 0
            assert sum(lv.reserved for lv in levels) == active
        transaction.set_rollback(True)

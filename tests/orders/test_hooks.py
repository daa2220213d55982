"""Order changes reach subscribers inside the writing transaction, batches at once."""

from decimal import Decimal

import pytest
from django.db import connection

from orderhub.orders import hooks, services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order
from tests.conftest import order_input

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


@pytest.fixture
def seen():
    calls: list[list[hooks.OrderChange]] = []
    hooks.subscribe(calls.append)
    yield calls
    hooks.unsubscribe(calls.append)


def test_every_service_publishes_what_it_did(company, seen):
    a = company["actors"]
    order = services.order_create(data=order_input(), actor=a["sales"]).order
    services.order_transition(order=order, to="scheduled", actor=a["service"])
    services.order_hold(order=order.number, actor=a["manager"], reason="等客户确认")
    services.order_resume(order=order.number, actor=a["manager"])
    services.order_update(order=order.number, changes={"urgency": "red"}, actor=a["manager"])
    services.order_cancel(order=order.number, actor=a["manager"], reason="客户取消")
    actions = [c[0].action for c in seen]
    assert actions == ["order.created", "order.transitioned", "order.held", "order.resumed",
                       "order.updated", "order.cancelled"]
    created, moved = seen[0][0], seen[1][0]
    assert created.entered.stage == "pending" and created.event.pk and created.lines
    assert moved.left_stage == "pending" and moved.entered.stage == "scheduled"
    assert moved.order.stage == "scheduled" and moved.changes["stage"] == ["pending", "scheduled"]
    assert seen[4][0].changes["urgency"][1] == "red"


def test_a_blocked_move_is_published(company, seen):
    a = company["actors"]
    big = order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("1000"))])
    order = services.order_create(data=big, actor=a["sales"]).order
    services.order_transition(order=order, to="scheduled", actor=a["service"])
    res = services.order_transition(order=order, to="materials_ready", actor=a["planner"])
    assert not res.ok
    last = seen[-1][0]
    assert last.action == "order.blocked" and last.extra == {"to": "materials_ready"}


def test_a_batch_is_published_once(company, seen):
    items = [order_input(channel="import", external_ref=f"B{i}") for i in range(5)]
    services.order_create_batch(items=items, actor=company["actors"]["sales"])
    published = [c for call in seen for c in call]
    assert {c.order.external_ref for c in published} == {f"B{i}" for i in range(5)}
    if connection.vendor == "postgresql":  # ids known before INSERT: one write, one publish
        assert len(seen) == 1 and len(seen[0]) == 5


def test_a_failing_subscriber_rolls_the_change_back(company):
    def boom(changes):
        raise RuntimeError("subscriber failed")

    hooks.subscribe(boom)
    try:
        with pytest.raises(RuntimeError):
            services.order_create(data=order_input(), actor=company["actors"]["sales"])
    finally:
        hooks.unsubscribe(boom)
    assert Order.objects.count() == 0

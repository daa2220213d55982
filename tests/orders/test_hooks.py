"""Order changes reach subscribers inside the writing transaction, batches at once."""

from decimal import Decimal

import pytest

from orderhub.orders import hooks, services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order
from tests.conftest import order_input

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


@pytest.fixture
def seen():
    calls: list[list[hooks.OrderChange]] = []
    with hooks.listening(calls.append):
        yield calls


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
    # one publish on every database: SQLite creates each order alone, its change held until the end
    assert len(seen) == 1 and len(seen[0]) == 5


def test_held_changes_reach_nobody_until_published_and_are_dropped_with_a_failed_block(company, seen):
    a = company["actors"]
    with hooks.held() as kept:
        order = services.order_create(data=order_input(), actor=a["sales"]).order
    assert seen == [] and [c.action for c in kept] == ["order.created"]
    hooks.publish(kept)
    assert [c.order.pk for call in seen for c in call] == [order.pk]
    with pytest.raises(RuntimeError), hooks.held() as dropped:
        services.order_create(data=order_input(external_ref="X1"), actor=a["sales"])
        raise RuntimeError("the block failed after the order was made")
    assert len(dropped) == 1 and len(seen) == 1    # the caller never published them


def test_a_failing_subscriber_rolls_the_change_back(company):
    def boom(changes):
        raise RuntimeError("subscriber failed")

    with hooks.listening(boom), pytest.raises(RuntimeError):
        services.order_create(data=order_input(), actor=company["actors"]["sales"])
    assert Order.objects.count() == 0


def test_the_subscribers_are_listed_in_one_place_and_called_in_that_order(company, monkeypatch):
    from orderhub.notify import subscribers as notify_subscribers
    from orderhub.orders.breakers import credit
    from orderhub.rules import engine, ladders
    from orderhub.shipping import subscribers as shipping_subscribers

    # notify, then the ladders, then the rules engine: the order INSTALLED_APPS gave when each
    # app subscribed itself in ready()
    assert hooks.SUBSCRIBERS == ("orderhub.notify.subscribers.on_order_changes",
                                 "orderhub.rules.ladders.on_order_changes",
                                 "orderhub.rules.engine.on_order_changes",
                                 "orderhub.shipping.subscribers.on_order_changes",
                                 "orderhub.orders.breakers.credit.on_order_changes")
    assert hooks.subscribers() == (notify_subscribers.on_order_changes, ladders.on_order_changes,
                                   engine.on_order_changes, shipping_subscribers.on_order_changes,
                                   credit.on_order_changes)
    assert hooks.subscribers() is hooks.subscribers()          # resolved once per process
    called: list[tuple[str, int]] = []

    def spy(fn):
        def wrapped(changes):
            called.append((fn.__module__, len(changes)))
            fn(changes)
        return wrapped

    monkeypatch.setattr(hooks, "_loaded", tuple(spy(fn) for fn in hooks.subscribers()))
    services.order_create(data=order_input(), actor=company["actors"]["sales"])
    assert called == [("orderhub.notify.subscribers", 1), ("orderhub.rules.ladders", 1),
                      ("orderhub.rules.engine", 1), ("orderhub.shipping.subscribers", 1),
                      ("orderhub.orders.breakers.credit", 1)]


def test_a_subscriber_that_calls_an_order_service_is_refused_and_rolls_back(company):
    a = company["actors"]
    order = services.order_create(data=order_input(), actor=a["sales"]).order

    def recurse(changes):
        services.order_update(order=order.number, changes={"urgency": "red"}, actor=a["manager"])

    with hooks.listening(recurse), pytest.raises(hooks.RecursivePublish):
        services.order_hold(order=order.number, actor=a["manager"], reason="等客户确认")
    order.refresh_from_db()
    assert not order.on_hold and order.urgency != "red" and order.audit_seq == 1


def test_an_event_function_refuses_an_audit_event_of_another_type(company, seen):
    from orderhub.core import clock
    from orderhub.core.models import AuditEvent
    from orderhub.orders import events

    a = company["actors"]
    order = services.order_create(data=order_input(), actor=a["sales"]).order
    created = AuditEvent.objects.get(subject_type="order", subject_id=order.pk)
    with pytest.raises(ValueError, match="order.created"):
        events.order_held(order=order, actor=a["manager"], at=clock.now(), event=created)
    with pytest.raises(ValueError, match="not a move"):
        events.order_transitioned(order=order, actor=a["manager"], at=clock.now(), event=created,
                                  entered=None, left_stage="pending")
    assert len(seen) == 1          # only the creation was published

"""core.instances.new builds the same instance as the model's constructor, core.instances.loaded
the same as ``Model.from_db``."""

from datetime import date
from decimal import Decimal

import pytest

from orderhub.catalog.models import Customer, Product
from orderhub.core.instances import loaded, new
from orderhub.core.models import AuditEvent
from orderhub.orders.models import Order, OrderLine, Snapshot, StageInstance

pytestmark = pytest.mark.smoke


def _same(a, b):
    da = {k: v for k, v in a.__dict__.items() if k != "_state"}
    db = {k: v for k, v in b.__dict__.items() if k != "_state"}
    assert da == db
    assert (a._state.adding, a._state.db) == (b._state.adding, b._state.db)
    assert a._state.fields_cache == b._state.fields_cache


def test_new_matches_the_constructor_for_the_write_path_models():
    cust = Customer(id=7, code="C7", name="七号")
    prod = Product(id=9, sku="S9", name="螺栓", unit="pcs")
    order = Order(id=5, number="SO-1", customer=cust, required_date=date(2026, 12, 1))
    cases = [
        (Order, dict(number="SO-1", channel="api", customer=cust, required_date=date(2026, 12, 1),
                     urgency="red", total_amount=Decimal("12.50"), tags=["a"])),
        (Order, {}),
        (OrderLine, dict(order=order, line_no=1, product=prod, qty=Decimal("3"), unit="pcs",
                         base_qty=Decimal("3"), unit_price=Decimal("1.2"), amount=Decimal("3.6"))),
        (StageInstance, dict(order=order, workflow_id=3, stage="pending", owner_role="sales",
                             entered_by="x", forced=False)),
        (Snapshot, dict(order=order, version=1, stage="pending", content="{}", sha256="0" * 64)),
        (AuditEvent, dict(subject_type="order", subject_id=5, seq=1, action="order.created",
                          changes={}, data={}, prev_hash="")),
        (OrderLine, dict(order=None, product_id=9)),
    ]
    for model, kw in cases:
        _same(new(model, **kw), model(**kw))


def test_mutable_defaults_are_not_shared():
    a, b = new(Order), new(Order)
    if isinstance(a.tags, list):
        a.tags.append("x")
        assert b.tags == []


def test_unknown_keyword_and_wrong_related_type_are_refused():
    with pytest.raises(TypeError):
        new(Order, no_such_field=1)
    with pytest.raises(ValueError):
        new(OrderLine, product=Customer(id=1))


def test_attach_matches_assigning_through_the_descriptor():
    order = Order(id=5, number="SO-1")
    a = [OrderLine(line_no=i) for i in range(3)]
    b = [OrderLine(line_no=i) for i in range(3)]
    for ln in a:
        ln.order = order
    from orderhub.core.instances import attach

    attach(b, "order", order)
    for x, y in zip(a, b, strict=True):
        _same(x, y)


def test_loaded_matches_from_db_deferred_fields_included():
    from orderhub.inventory.models import StockLevel

    cases = [
        (Order, ["id", "number", "customer_id", "required_date", "total_amount", "tags", "intake_hash"],
         [5, "SO-1", 7, date(2026, 12, 1), Decimal("12.50"), ["a"], "ab"]),
        (OrderLine, ["id", "order_id", "line_no", "product_id", "qty"], [3, 5, 1, 9, Decimal("3")]),
        (Product, [f.attname for f in Product._meta.concrete_fields],
         [f.get_default() for f in Product._meta.concrete_fields]),
        (StockLevel, ["id", "product_id", "warehouse_id", "on_hand", "reserved"], [1, 9, 2, Decimal(5), Decimal(0)]),
    ]
    for model, names, values in cases:
        a, b = loaded(model, names, values), model.from_db("default", names, values)
        _same(a, b)
        assert a.get_deferred_fields() == b.get_deferred_fields()
        assert not a._state.adding and a._state.db == "default"


def test_loaded_uses_the_constructor_when_something_listens(monkeypatch):
    from django.db.models import signals

    from orderhub.core import instances

    seen = []

    def listener(sender, instance, **kw):
        seen.append(instance)

    signals.post_init.connect(listener, sender=Customer)
    instances._plain_init.cache_clear()
    try:
        c = loaded(Customer, ["id", "code"], [1, "C1"])
    finally:
        signals.post_init.disconnect(listener, sender=Customer)
        instances._plain_init.cache_clear()
    assert seen == [c] and c.code == "C1" and not c._state.adding

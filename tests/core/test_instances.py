"""core.instances.new builds the same instance as the model's constructor."""

from datetime import date
from decimal import Decimal

import pytest

from orderhub.catalog.models import Customer, Product
from orderhub.core.instances import new
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

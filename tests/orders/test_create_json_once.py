"""An order's normalised input is encoded to JSON once (for its fingerprint) and that text is
reused for its created event's hash and for the JSON its copied rows hold: the hash is the one
the full encoding gives, and the rows hold the same values."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orderhub.core import audit, fastsql
from orderhub.core.actors import Actor
from orderhub.core.canonical import canonical_json
from orderhub.core.models import AuditEvent
from orderhub.orders import services, store
from orderhub.orders.inputs import LineInput, ShipTo
from orderhub.orders.models import Order
from orderhub.orders.selectors import verify_order_audit
from tests.conftest import order_input

pytestmark = [pytest.mark.django_db]


@pytest.mark.parametrize("data", [
    {"intake": {"customer": "C-1", "remarks": "周一不收货, \"急\"\n", "lines": [{"qty": "1.5", "sku": "A"}]},
     "actions": {}},
    {"actions": {}, "intake": {"data": {"data": None}, "z": [1, 2.5, True, None], "é": "ü"}},
    {},
])
def test_the_hash_made_with_data_json_is_the_hash_of_the_whole_canonical_text(data):
    actor = Actor.system("t")
    kw = {"subject_type": "order", "subject_id": 7, "head": (3, "ab" * 32), "action": "order.created",
          "actor": actor, "changes": {"data": [None, "x"], "stage": [None, "pending"]}, "data": data,
          "plain": True, "at": datetime(2026, 11, 23, 9, 0, tzinfo=UTC)}
    whole = audit.build_event(**kw)
    reused = audit.build_event(**kw, data_json=canonical_json(data))
    assert reused.hash == whole.hash == audit.mac_hex(audit.current_key()[1],
                                                      canonical_json(audit._hashed_fields(whole)))
    assert audit.hashed_text(whole, canonical_json(data)) == canonical_json(audit._hashed_fields(whole))
    with pytest.raises(ValueError):
        audit.build_event(**{**kw, "plain": False}, data_json=canonical_json(data))


def _items(n):
    return [order_input(channel="import", external_ref=f"J-{i}", remarks=f"备注 {i}, \"引号\"",
                        ship_to=ShipTo(contact="李强", phone="138", address="杭州市 莫干山路 1200号") if i % 2 else None,
                        lines=[LineInput(sku="HSG-100", qty=Decimal("2.50"), unit_price=Decimal("120.00"))])
            for i in range(n)]


@pytest.mark.postgres
@pytest.mark.parametrize("copy_from", [1, 10 ** 9], ids=["copied", "statement"])
def test_a_batch_stores_the_input_and_event_data_it_hashed(company, settings, monkeypatch, copy_from):
    settings.ORDERHUB_SQL_PATH = "fast"
    monkeypatch.setattr(store, "COPY_FROM", copy_from)
    items = _items(5)
    res = services.order_create_batch(items=items, actor=company["actors"]["sales"])
    assert [r.error for r in res] == [None] * len(res) and all(r.created for r in res)
    for item, r in zip(items, res, strict=True):
        order = Order.objects.get(pk=r.order.pk)
        assert order.intake == item.normalized()
        ev = AuditEvent.objects.get(subject_type="order", subject_id=order.pk, seq=1)
        assert ev.data == {"intake": item.normalized(), "actions": {}}
        assert audit.event_seal_matches(ev, audit.keyring()) is True
    _, breaks, bad = verify_order_audit()
    assert breaks == [] and bad == []


@pytest.mark.postgres
def test_a_copy_writes_the_current_value_when_it_changed_after_its_text_was_noted(company, settings, monkeypatch):
    settings.ORDERHUB_SQL_PATH = "fast"
    monkeypatch.setattr(store, "COPY_FROM", 1)
    real = fastsql.encoded

    def noted_then_changed(obj, attname, text):
        real(obj, attname, text)
        if isinstance(obj, Order):
            obj.intake = {**obj.intake, "changed": True}  # a new value: the noted text is not it

    monkeypatch.setattr(fastsql, "encoded", noted_then_changed)
    res = services.order_create_batch(items=_items(2), actor=company["actors"]["sales"])
    for r in res:
        assert Order.objects.get(pk=r.order.pk).intake["changed"] is True

"""The lifecycle engine end to end on T1: deadlines, guards, reservations, hold, override."""

from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from orderhub.core.errors import Conflict, PermissionDenied, ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.inventory.models import Reservation, StockLevel
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order, Snapshot, StageInstance
from tests.conftest import SH, advance, order_input

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def _stock(product):
    rows = StockLevel.objects.filter(product=product)
    return sum(r.on_hand for r in rows), sum(r.reserved for r in rows)


def _to_scheduled(company, order):
    a = company["actors"]
    assert services.order_transition(order=order, to="scheduled", actor=a["service"]).ok


def test_create_enters_initial_stage_with_business_hour_deadline(company, monday_morning):
    order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    assert order.number.startswith("SO-261123-")
    assert order.stage == "pending" and order.status == "open"
    assert order.total_amount == Decimal("12000.00")
    # 4 business hours from Monday 09:00: 09:00-12:00 (3 h) + 13:00-14:00 (1 h)
    assert order.stage_due_at == datetime(2026, 11, 23, 14, 0, tzinfo=SH)
    assert StageInstance.objects.get(order=order).owner_role == "service"
    ev = AuditEvent.objects.get(subject_type="order", subject_id=order.pk)
    assert ev.action == "order.created" and ev.seq == 1 and ev.prev_hash == ""
    snap = Snapshot.objects.get(order=order)
    assert snap.version == 1 and len(snap.sha256) == 64


def test_bad_input_names_each_field_and_writes_nothing(company):
    data = order_input(customer="NOPE", lines=[LineInput(sku="HSG-100", qty=Decimal("-1")),
                                               LineInput(sku="XX-9", qty=Decimal("1"))])
    with pytest.raises(ValidationFailed) as err:
        services.order_create(data=data, actor=company["actors"]["sales"])
    fields = {p.field for p in err.value.problems}
    assert fields == {"customer", "lines[0].qty", "lines[1].sku"}
    assert Order.objects.count() == 0


def test_unit_conversion_tons_to_pieces_rounds_half_up(company):
    data = order_input(lines=[LineInput(sku="M8X30", qty=Decimal("1.5"), unit="吨")])
    order = services.order_create(data=data, actor=company["actors"]["sales"]).order
    line = order.lines.get()
    assert line.base_qty == Decimal("85227")  # 1500 kg / 0.0176 kg = 85,227.27 -> 85,227


def test_same_key_same_content_returns_existing_and_different_content_conflicts(company):
    sales = company["actors"]["sales"]
    first = services.order_create(data=order_input(channel="wechat", external_ref="WX1"), actor=sales)
    again = services.order_create(data=order_input(channel="wechat", external_ref="WX1"), actor=sales)
    assert first.created and not again.created and again.order.pk == first.order.pk
    with pytest.raises(Conflict) as err:
        services.order_create(data=order_input(channel="wechat", external_ref="WX1",
                                               lines=[LineInput(sku="HSG-100", qty=Decimal("120"))]),
                              actor=sales)
    assert {"field": "lines[0].qty", "existing": "100", "incoming": "120"} in err.value.data["differences"]
    assert Order.objects.count() == 1


def test_only_the_owner_role_moves_an_order_on(company):
    order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    with pytest.raises(PermissionDenied):
        services.order_transition(order=order, to="scheduled", actor=company["actors"]["warehouse"])
    with pytest.raises(Exception) as err:
        services.order_transition(order=order, to="machining", actor=company["actors"]["service"])
    assert getattr(err.value, "code", "") == "invalid_transition"


def test_kitting_guard_blocks_with_shortage_and_substitute_then_reserves(company):
    a = company["actors"]
    first = services.order_create(data=order_input(), actor=a["sales"]).order
    _to_scheduled(company, first)
    ok = services.order_transition(order=first, to="materials_ready", actor=a["planner"])
    assert ok.ok, ok.reasons
    # 100 housings × 0.6 kg = 60 kg of 6061 bar: 50 from WH1 (priority 1), 10 from WH2
    res = Reservation.objects.filter(order=first).order_by("stock__warehouse__priority")
    assert [(r.stock.warehouse.code, r.qty) for r in res] == [("WH1", Decimal("50")), ("WH2", Decimal("10"))]
    assert res[0].created_by == "planner" and res[0].release_condition
    assert _stock(company["bar"]) == (Decimal("80"), Decimal("60"))

    second = services.order_create(data=order_input(), actor=a["sales"]).order
    _to_scheduled(company, second)
    with translation.override("zh-hans"):
        blocked = services.order_transition(order=second, to="materials_ready", actor=a["planner"])
    assert not blocked.ok
    (reason,) = blocked.reasons
    assert reason.code == "bom_kitted"
    assert reason.message.startswith("物料未齐套: 6061铝棒 缺 40 kg")
    assert "6063铝棒" in reason.message and reason.data["substitutes"][0]["sku"] == "AL6063-BAR"
    second.refresh_from_db()
    assert second.stage == "scheduled" and second.blocked_reasons[0]["code"] == "bom_kitted"
    assert AuditEvent.objects.filter(subject_type="order", subject_id=second.pk, action="order.blocked").exists()
    assert _stock(company["bar"]) == (Decimal("80"), Decimal("60"))  # nothing reserved


def test_override_needs_permission_and_reason_and_is_flagged(company):
    a = company["actors"]
    order = services.order_create(data=order_input(qty=None) if False else order_input(
        lines=[LineInput(sku="HSG-100", qty=Decimal("200"))]), actor=a["sales"]).order
    _to_scheduled(company, order)
    assert not services.order_transition(order=order, to="materials_ready", actor=a["planner"]).ok
    with pytest.raises(PermissionDenied):
        services.order_override(order=order, to="materials_ready", actor=a["planner"], reason="急单")
    with pytest.raises(ValidationFailed):
        services.order_override(order=order, to="materials_ready", actor=a["manager"], reason=" ")
    res = services.order_override(order=order, to="materials_ready", actor=a["manager"],
                                  reason="客户急单, 替代料已确认")
    assert res.ok and res.order.forced and res.order.stage == "materials_ready"
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("-seq").first()
    assert ev.action == "order.forced" and ev.forced and ev.reason == "客户急单, 替代料已确认"
    assert ev.data["actions"]["unreserved"][0]["sku"] == "AL6061-BAR"
    # what was there (80 kg) is reserved; the 40 kg gap is recorded
    assert _stock(company["bar"]) == (Decimal("80"), Decimal("80"))
    assert StageInstance.objects.get(order=order, stage="materials_ready").forced


def test_hold_blocks_moves_until_resumed(company):
    a = company["actors"]
    order = services.order_create(data=order_input(), actor=a["sales"]).order
    with pytest.raises(PermissionDenied):
        services.order_hold(order=order, actor=a["warehouse"], reason="x")
    services.order_hold(order=order, actor=a["finance"], reason="税号错误")
    res = services.order_transition(order=order, to="scheduled", actor=a["service"])
    assert not res.ok and res.reasons[0].code == "on_hold"
    services.order_resume(order=order, actor=a["finance"], reason="税号已更正")
    assert services.order_transition(order=order, to="scheduled", actor=a["service"]).ok


def test_cancel_releases_and_shipment_consumes(company):
    a = company["actors"]
    order = services.order_create(data=order_input(), actor=a["sales"]).order
    _to_scheduled(company, order)
    services.order_transition(order=order, to="materials_ready", actor=a["planner"])
    services.order_cancel(order=order, actor=a["manager"], reason="客户取消")
    assert _stock(company["bar"]) == (Decimal("80"), Decimal("0"))
    assert set(Reservation.objects.filter(order=order).values_list("status", flat=True)) == {"released"}

    order = services.order_create(data=order_input(), actor=a["sales"]).order
    _to_scheduled(company, order)
    for to, who in [("materials_ready", "planner"), ("machining", "purchaser"), ("qc", "production"),
                    ("packed", "qc"), ("shipped", "warehouse")]:
        assert services.order_transition(order=order, to=to, actor=a[who]).ok, to
    order.refresh_from_db()
    assert order.status == "completed" and order.stage_due_at is None
    assert _stock(company["bar"]) == (Decimal("20"), Decimal("0"))
    assert Snapshot.objects.filter(order=order).count() == 7


def test_deadline_counts_business_hours_over_the_weekend(company):
    a = company["actors"]
    from orderhub.core import clock
    with clock.frozen(datetime(2026, 11, 27, 16, 0, tzinfo=SH)):  # Friday 16:00
        order = services.order_create(data=order_input(), actor=a["sales"]).order
    # 1.5 h on Friday, then 2.5 h from Monday 08:30 → Monday 11:00
    assert order.stage_due_at == datetime(2026, 11, 30, 11, 0, tzinfo=SH)


def test_events_chain_and_field_changes(company, monday_morning):
    a = company["actors"]
    order = services.order_create(data=order_input(), actor=a["sales"]).order
    with advance(1):
        services.order_update(order=order, changes={"urgency": "red", "tags": ["急"]},
                              actor=a["sales"], reason="客户来电催货")
        _to_scheduled(company, order)
    events = list(AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("seq"))
    assert [e.action for e in events] == ["order.created", "order.updated", "order.transitioned"]
    assert events[1].changes["urgency"] == ["green", "red"]
    assert events[2].changes["stage"] == ["pending", "scheduled"]
    for prev, ev in zip(events, events[1:], strict=False):
        assert ev.prev_hash == prev.hash
    order.refresh_from_db()
    assert (order.audit_seq, order.audit_head) == (3, events[-1].hash)


def test_attachment_is_stored_hashed_and_audited(company, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    a = company["actors"]
    order = services.order_create(data=order_input(), actor=a["sales"]).order
    att = services.order_attach(order=order, name="图纸 Rev.B.pdf", content=b"%PDF-1.4 drawing",
                                content_type="application/pdf", actor=a["planner"])
    assert att.file.read() == b"%PDF-1.4 drawing" and len(att.sha256) == 64
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("-seq").first()
    assert ev.action == "order.attachment_added" and ev.data["sha256"] == att.sha256
    with pytest.raises(ValidationFailed):
        services.order_attach(order=order, name="empty.png", content=b"", content_type="image/png",
                              actor=a["planner"])


@pytest.mark.parametrize("data,field", [
    (dict(lines=[LineInput(sku="M8X30", qty=Decimal("99999999999"), unit="吨")]), "lines[0].qty"),
    (dict(lines=[LineInput(sku="HSG-100", qty=Decimal("99999999"), unit_price=Decimal("99999999"))]),
     "lines[0].unit_price"),
    (dict(customer="C0\x0001"), "customer"),
    (dict(remarks="a\x00b"), "remarks"),
])
def test_values_the_database_cannot_hold_are_refused_with_the_field(company, data, field):
    with pytest.raises(ValidationFailed) as err:
        services.order_create(data=order_input(**data), actor=company["actors"]["sales"])
    assert field in {p.field for p in err.value.problems}
    assert Order.objects.count() == 0


@pytest.mark.parametrize("changes,field", [
    ({"required_date": None}, "required_date"), ({"remarks": None}, "remarks"),
    ({"tags": None}, "tags"), ({"urgency": "purple"}, "urgency"), ({"stage": "qc"}, "stage"),
])
def test_update_refuses_bad_values_by_field(company, changes, field):
    order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    with pytest.raises(ValidationFailed) as err:
        services.order_update(order=order, changes=changes, actor=company["actors"]["sales"])
    assert [p.field for p in err.value.problems] == [field]

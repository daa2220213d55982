"""Shipments: partial deliveries with the rest kept open per line, never more than ordered less
what other shipments take (also under concurrent connections on PostgreSQL), stock consumed on
shipping (the line's reservation first), the customer told by e-mail before shipping, each step
an event in the order's history."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from orderhub.core.errors import Conflict, PermissionDenied, ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.inventory.models import Reservation, StockLevel, StockMove
from orderhub.inventory.services import Requirement, stock_reserve
from orderhub.notify.models import Message
from orderhub.notify.services import endpoint_save
from orderhub.orders import services as orders
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order
from orderhub.shipping import events
from orderhub.shipping.models import Shipment
from orderhub.shipping.selectors import line_progress
from orderhub.shipping.services import ShipmentInput, shipment_create, shipment_ship
from tests.conftest import order_input

pytestmark = pytest.mark.django_db
D = Decimal


def _order(company, *lines) -> Order:
    data = order_input(lines=[LineInput(sku=sku, qty=D(q)) for sku, q in lines])
    order = orders.order_create(data=data, actor=company["actors"]["sales"]).order
    Order.objects.filter(pk=order.pk).update(ship_to_address="苏州工业园区星湖街 328 号",
                                             ship_to_contact="王工", ship_to_phone="13800000000")
    return order


def _open(order) -> dict[int, Decimal]:
    return {p["line_no"]: p["open"] for p in line_progress(order)}


def test_partial_shipments_keep_the_rest_open_and_never_exceed_the_order(company):
    wh = company["actors"]["warehouse"]
    order = _order(company, ("M8X30", "100"), ("HSG-100", "5"))
    first = shipment_create(order=order.number, actor=wh, data=ShipmentInput(
        quantities={1: D("30")}, carrier="顺丰速运", waybill="SF100", packages=2, weight_kg=D("0.6")))
    assert first.number == f"{order.number}-F1"
    assert first.ship_to_address == "苏州工业园区星湖街 328 号" and first.ship_to_contact == "王工"
    assert _open(order) == {1: D("70"), 2: D("5")}
    with pytest.raises(Conflict) as refused:
        shipment_create(order=order.number, actor=wh, data=ShipmentInput(quantities={1: D("71")}))
    assert refused.value.code == "over_shipped"
    assert refused.value.problems[0].field == "quantities.1"
    assert refused.value.problems[0].data == {"remaining": "70"}
    assert Shipment.objects.filter(order=order).count() == 1      # nothing half-written
    second = shipment_create(order=order.number, actor=wh, data=ShipmentInput(
        quantities={1: D("70"), 2: D("2")}))
    assert _open(order) == {1: D("0"), 2: D("3")}                  # backorder: 3 of line 2
    # the ship-to was copied: a later change of the order does not move the shipment
    Order.objects.filter(pk=order.pk).update(ship_to_address="别处")
    second.refresh_from_db()
    assert second.ship_to_address == "苏州工业园区星湖街 328 号"
    with pytest.raises(ValidationFailed) as bad:
        shipment_create(order=order.number, actor=wh, data=ShipmentInput(quantities={9: D("1")}))
    assert bad.value.problems[0].field == "quantities.9"
    with pytest.raises(ValidationFailed):
        shipment_create(order=order.number, actor=wh, data=ShipmentInput(quantities={2: D("0")}))


def test_only_warehouse_and_logistics_ship(company):
    order = _order(company, ("M8X30", "10"))
    for role in ("sales", "finance", "planner"):
        with pytest.raises(PermissionDenied):
            shipment_create(order=order.number, actor=company["actors"][role],
                            data=ShipmentInput(quantities={1: D("1")}))
    sh = shipment_create(order=order.number, actor=company["actors"]["logistics"],
                         data=ShipmentInput(quantities={1: D("1")}))
    with pytest.raises(PermissionDenied):
        shipment_ship(shipment=sh.number, actor=company["actors"]["sales"])
    assert shipment_ship(shipment=sh.number, actor=company["actors"]["warehouse"]).status == "shipped"


def test_shipping_consumes_the_lines_reservation_first_then_free_stock(company):
    wh = company["actors"]["warehouse"]
    bolt = company["bolt"]
    order = _order(company, ("M8X30", "500"))
    line = order.lines.get()
    stock_reserve(order_id=order.pk, requirements=[Requirement(bolt.pk, D("200"), line.pk)],
                  actor=wh, release_condition="test")
    sh = shipment_create(order=order.number, actor=wh, data=ShipmentInput(quantities={1: D("150")}))
    level = StockLevel.objects.get(product=bolt)
    assert (level.on_hand, level.reserved) == (D("100000"), D("200"))   # planned: nothing moves yet
    shipment_ship(shipment=sh.number, actor=wh, waybill="SF200")
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (D("99850"), D("50"))
    res = {r.status: r.qty for r in Reservation.objects.filter(order=order)}
    assert res == {"active": D("50"), "consumed": D("150")}
    more = shipment_create(order=order.number, actor=wh, data=ShipmentInput(quantities={1: D("100")}))
    shipment_ship(shipment=more.number, actor=wh)
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (D("99750"), D("0"))      # 50 reserved + 50 free
    moves = StockMove.objects.filter(order=order, kind="shipment")
    assert sum(m.qty for m in moves) == D("-250")
    assert set(moves.values_list("note", flat=True)) == {sh.number, more.number}
    with pytest.raises(Conflict) as again:
        shipment_ship(shipment=sh.number, actor=wh)
    assert again.value.code == "already_shipped"


def test_shipping_more_than_on_hand_is_refused_and_writes_nothing(company):
    wh = company["actors"]["warehouse"]
    order = _order(company, ("HSG-100", "12"))          # 10 on hand
    sh = shipment_create(order=order.number, actor=wh, data=ShipmentInput(quantities={1: D("12")}))
    with pytest.raises(Conflict) as short:
        shipment_ship(shipment=sh.number, actor=wh)
    assert short.value.code == "stock_short"
    sh.refresh_from_db()
    assert sh.status == "planned"
    assert StockLevel.objects.get(product=company["housing"]).on_hand == D("10")
    assert not StockMove.objects.filter(order=order).exists()


def test_each_step_is_an_event_in_the_orders_history(company):
    wh = company["actors"]["warehouse"]
    order = _order(company, ("M8X30", "10"))
    sh = shipment_create(order=order.number, actor=wh, data=ShipmentInput(quantities={1: D("4")}))
    shipment_ship(shipment=sh.number, actor=wh, carrier="德邦", waybill="DB1")
    evs = list(AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("seq"))
    assert [e.action for e in evs][-2:] == [events.SHIPMENT_CREATED, events.SHIPMENT_SHIPPED]
    assert evs[-2].data["lines"] == [{"line_no": 1, "sku": "M8X30", "qty": "4"}]
    assert evs[-1].data["waybill"] == "DB1" and evs[-1].data["moves"][0]["qty"] == "4"
    order.refresh_from_db()
    assert order.audit_head == evs[-1].hash


def test_the_customer_gets_the_shipping_notice_by_email_before_shipping(
        company, smtp, inline_jobs, django_capture_on_commit_callbacks):
    admin, wh = company["actors"]["admin"], company["actors"]["warehouse"]
    endpoint_save(code="smtp", name="邮件", kind="email", actor=admin,
                  config={"host": "127.0.0.1", "port": smtp.port, "from_email": "hub@factory.example"})
    company["customer"].email = "buyer@borui.example"
    company["customer"].save()
    order = _order(company, ("M8X30", "10"))
    with django_capture_on_commit_callbacks(execute=True):
        sh = shipment_create(order=order.number, actor=wh, data=ShipmentInput(
            quantities={1: D("4")}, carrier="顺丰速运", waybill="SF300"))
    rcpt, mail = smtp.wait_for(1)[0]
    assert rcpt == ["buyer@borui.example"]
    from email.header import decode_header, make_header

    assert str(make_header(decode_header(mail["Subject"]))) == f"发货通知：订单 {order.number}（{sh.number}）"
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    body = text.get_payload(decode=True).decode(text.get_content_charset() or "utf-8")
    assert "SF300" in body and "× 4 件" in body
    sh.refresh_from_db()
    assert sh.notice_at is not None and sh.notice_to == "buyer@borui.example"
    shipped = shipment_ship(shipment=sh.number, actor=wh)
    assert sh.notice_at <= shipped.shipped_at
    assert Message.objects.get(event=events.SHIPPING_NOTICE).order_id == order.pk


def test_no_contact_email_no_notice(company):
    order = _order(company, ("M8X30", "10"))
    sh = shipment_create(order=order.number, actor=company["actors"]["warehouse"],
                         data=ShipmentInput(quantities={1: D("4")}))
    assert sh.notice_at is None and not Message.objects.filter(event=events.SHIPPING_NOTICE).exists()


CLIENTS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_shipments_of_one_order_never_exceed_it(company):
    """8 connections at once each plan 30 of a 100-unit line: exactly 3 get through, the rest
    are refused naming what remains, and the shipments add up to at most the order."""
    order = _order(company, ("M8X30", "100"))
    wh = company["actors"]["warehouse"]
    barrier = threading.Barrier(CLIENTS)
    results: list[str] = []
    errors: list[str] = []

    def client():
        try:
            barrier.wait(timeout=30)
            shipment_create(order=order.number, actor=wh, data=ShipmentInput(quantities={1: D("30")}))
            results.append("ok")
        except Conflict as e:
            results.append(e.code)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(results) == ["ok"] * 3 + ["over_shipped"] * (CLIENTS - 3)
    assert _open(order) == {1: D("10")}
    assert sorted(Shipment.objects.filter(order=order).values_list("seq", flat=True)) == [1, 2, 3]


def test_a_line_that_shipments_take_is_neither_removed_nor_reduced_below_it(company):
    """Line edits (orders.services.order_lines_change) and shipments meet on the same lines: the
    edit is refused with a reason instead of a database error."""
    from orderhub.core.errors import DomainError
    from orderhub.orders.services.lines import LineChange, order_lines_change

    order = _order(company, ("M8X30", "100"), ("HSG-100", "5"))
    shipment_create(order=order.number, actor=company["actors"]["warehouse"],
                    data=ShipmentInput(quantities={1: D("30")}))
    sales = company["actors"]["sales"]
    for change in (LineChange(op="remove", line_no=1), LineChange(op="update", line_no=1, qty=D("29"))):
        with pytest.raises(DomainError) as refused:
            order_lines_change(order=order.number, changes=[change], actor=sales)
        assert refused.value.code == "shipped_line" and refused.value.status == 409
        assert "第 1 行已有发货单占用 30 件" in refused.value.message
    order_lines_change(order=order.number, changes=[LineChange(op="update", line_no=1, qty=D("30")),
                                                    LineChange(op="remove", line_no=2)], actor=sales)
    assert _open(order) == {1: D("0")}

"""The carrier breaker (issue 15.6): a carrier or route marked disrupted pauses the orders of its
planned shipments and proposes the configured alternative; shipping with the disrupted carrier
is refused; clearing the disruption (or shipping with another carrier) resets it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.test import Client

from orderhub.core.errors import Conflict, PermissionDenied
from orderhub.core.models import AuditEvent
from orderhub.orders import events
from orderhub.orders import services as orders
from orderhub.orders.breakers.configure import breaker_config_save
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import BreakerTrip, Order
from orderhub.shipping.breaker import carrier_disrupt, carrier_disruption_clear
from orderhub.shipping.services import ShipmentInput, shipment_create, shipment_ship
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def _shipment(company, address, carrier="顺丰速运"):
    order = orders.order_create(data=order_input(lines=[LineInput(sku="M8X30", qty=D("10"))]),
                                actor=company["actors"]["sales"]).order
    Order.objects.filter(pk=order.pk).update(ship_to_address=address)
    return order, shipment_create(order=order.number, actor=company["actors"]["warehouse"],
                                  data=ShipmentInput(quantities={1: D("4")}, carrier=carrier))


def _paused():
    return set(Order.objects.filter(on_hold=True).values_list("number", flat=True))


def test_a_disrupted_route_pauses_its_shipments_orders_proposes_the_alternative_and_resets_when_cleared(
        company, monday_morning):
    a = company["actors"]
    breaker_config_save(kind="carrier", data={"alternatives": {"顺丰速运": "德邦物流"}}, actor=a["admin"])
    west, sh_west = _shipment(company, "成都市高新区天府大道 1 号")
    east, _sh_east = _shipment(company, "苏州工业园区星湖街 328 号")
    other, _sh_other = _shipment(company, "成都市武侯区", carrier="中通快递")
    with pytest.raises(PermissionDenied):
        carrier_disrupt(carrier="顺丰速运", route="成都", reason="暴雨封路", actor=a["sales"])
    d = carrier_disrupt(carrier="顺丰速运", route="成都", reason="暴雨封路", actor=a["logistics"])
    assert _paused() == {west.number}
    trip = BreakerTrip.objects.get(kind="carrier")
    assert trip.detail["alternative"] == "德邦物流" and trip.detail["shipment"] == sh_west.number
    assert "暴雨封路" in trip.reason and "建议改用「德邦物流」" in trip.reason
    assert trip.ticket.owner_role == "logistics" and "德邦物流" in trip.ticket.body
    # shipping with the disrupted carrier is refused
    with pytest.raises(Conflict) as refused:
        shipment_ship(shipment=sh_west.number, actor=a["warehouse"])
    assert refused.value.code == "carrier_disrupted"
    carrier_disruption_clear(disruption=d.pk, actor=a["logistics"])
    assert _paused() == set()
    assert not BreakerTrip.objects.filter(reset_at__isnull=True).exists()
    actions = list(AuditEvent.objects.filter(subject_type="order", subject_id=west.pk).order_by("seq")
                   .values_list("action", flat=True))
    assert events.ORDER_BREAKER_TRIPPED in actions and actions[-1] == events.ORDER_BREAKER_RESET
    assert not Order.objects.filter(pk__in=[east.pk, other.pk], on_hold=True).exists()


def test_shipping_with_the_alternative_carrier_resets_the_breaker(company, monday_morning):
    a = company["actors"]
    order, sh = _shipment(company, "成都市高新区")
    carrier_disrupt(carrier="顺丰速运", reason="系统故障", actor=a["logistics"])
    assert _paused() == {order.number}
    orders.order_resume(order=order.number, actor=a["manager"], reason="改走德邦")   # by hand, as people do
    shipment_ship(shipment=sh.number, actor=a["warehouse"], carrier="德邦物流")
    assert not BreakerTrip.objects.filter(reset_at__isnull=True).exists()


def test_disruption_pages_and_api(company, monday_morning):
    order, _sh = _shipment(company, "成都市高新区")
    c = Client()
    c.force_login(company["users"]["logistics"])
    resp = c.post("/breakers/disruptions/", {"carrier": "顺丰速运", "route": "", "reason": "网点停运"})
    assert resp.status_code == 302
    page = c.get("/breakers/").content.decode()
    assert "网点停运" in page and order.number in page and "承运熔断" in page
    listed = c.get("/api/shipping/disruptions").json()
    assert [d["reason"] for d in listed] == ["网点停运"]
    resp = c.post(f"/api/shipping/disruptions/{listed[0]['id']}/clear")
    assert resp.status_code == 200 and resp.json()["cleared_by"] == "logistics"
    assert _paused() == set()

"""The demo's circuit breakers (issue 15.6). The stock breaker is off while the demo company is
loaded (the loader moves orders on the way its plan says; a breaker pausing them half-way would
change the story), switched on at the end; the carrier breaker gets its alternatives and one
route of a carrier is marked disrupted, so one order is paused with the alternative proposed
(board badge 熔断暂停, the order page, /breakers/)."""

from __future__ import annotations

from orderhub.core.actors import Actor
from orderhub.orders.breakers.configure import breaker_config_save
from orderhub.shipping.breaker import carrier_disrupt
from orderhub.shipping.models import Shipment

ALTERNATIVES = {"顺丰速运": "德邦物流", "德邦物流": "中通快运", "中通快运": "顺丰速运"}


def demo_breakers_off(system: Actor) -> None:
    breaker_config_save(kind="stock", data={"enabled": False}, actor=system)


def demo_breakers(actors: dict[str, Actor], system: Actor) -> int:
    """Switch the stock breaker on, configure the carrier alternatives, disrupt one route; the
    number of orders the disruption paused."""
    breaker_config_save(kind="stock", data={"enabled": True}, actor=system)
    breaker_config_save(kind="carrier", data={"alternatives": ALTERNATIVES}, actor=system)
    sh = (Shipment.objects.filter(status=Shipment.Status.PLANNED, order__status="open", order__on_hold=False)
          .exclude(carrier="").exclude(ship_to_address="").order_by("pk").first())
    if sh is None:
        return 0
    carrier_disrupt(carrier=sh.carrier, route=sh.ship_to_address[:100], reason="暴雨，线路停运",
                    actor=actors["logistics"])
    return Shipment.objects.filter(order__breaker_trips__kind="carrier", order__breaker_trips__reset_at__isnull=True,
                                   pk=sh.pk).count()

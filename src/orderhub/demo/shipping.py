"""The demo's shipping: the company letterhead, and partial deliveries of a few T1 orders at
the packing stage (one shipped with the rest of the line open, one planned and not yet gone),
all through the shipping services."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError
from orderhub.inventory.models import Warehouse
from orderhub.inventory.services import stock_receive
from orderhub.orders.models import Order
from orderhub.shipping.services import (
    ShipmentInput,
    letterhead_save,
    shipment_create,
    shipment_ship,
)

CARRIERS = [("顺丰速运", "SF"), ("德邦物流", "DPK"), ("中通快运", "ZTO")]


def load_shipping(rng: random.Random, actors: dict[str, Actor]) -> int:
    """Returns how many shipments were made."""
    letterhead_save(actor=actors["admin"], name="苏州精工机械制造有限公司",
                    address="江苏省苏州市吴中区木渎镇金枫南路 1688 号", phone="0512-6625 8800")
    orders = list(Order.objects.filter(status="open", stage__in=["packed", "qc"]).order_by("pk")
                  .prefetch_related("lines")[:6])
    made = 0
    warehouse = Warehouse.objects.order_by("priority", "code").values_list("pk", flat=True)[0]
    for i, order in enumerate(orders):
        carrier, prefix = CARRIERS[i % len(CARRIERS)]
        lines = sorted(order.lines.all(), key=lambda ln: ln.line_no)
        quantities = {ln.line_no: (ln.qty / 2).quantize(Decimal("1")) or ln.qty for ln in lines[:1]}
        at = max(order.stage_entered_at, clock.now() - timedelta(days=1))
        try:
            with clock.frozen(at):
                sh = shipment_create(order=order.number, actor=actors["warehouse"], data=ShipmentInput(
                    quantities=quantities, carrier=carrier, waybill=f"{prefix}{rng.randint(10**9, 10**10 - 1)}",
                    packages=rng.choice([1, 2, 3, 4]), weight_kg=Decimal(rng.choice([12, 25, 48, 86]))))
                made += 1
            if i % 2 == 0:
                with clock.frozen(at + timedelta(hours=2)):
                    # the finished parts came off the line: a production receipt into the first warehouse
                    for ln in lines[:1]:
                        stock_receive(product_id=ln.product_id, warehouse_id=warehouse, qty=ln.base_qty,
                                      actor=actors["warehouse"], note=f"生产入库 {order.number}")
                    shipment_ship(shipment=sh.number, actor=actors["logistics"])
        except DomainError:
            continue   # not enough stock for this one: it stays planned, as on a real dock
    return made

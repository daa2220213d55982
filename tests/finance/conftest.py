"""Finance fixtures: a customer with billing details, orders shipped with POD and acceptance."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderhub.orders import services as orders
from orderhub.orders.inputs import LineInput
from orderhub.shipping.services import (
    ShipmentInput,
    shipment_accept,
    shipment_create,
    shipment_pod,
    shipment_ship,
)
from tests.conftest import order_input
from tests.notify.conftest import inline_jobs, private_targets_allowed, smtp  # noqa: F401

D = Decimal
SCAN = b"\x89PNG\r\n\x1a\n" + b"signed" * 10


@pytest.fixture
def fin(company, tmp_path, settings):
    """The customer C001 with its tax and bank details; ``ship(qty, price, prove=True)`` makes an
    order of M8X30, ships ``qty`` of it and (``prove``) records POD and acceptance."""
    settings.MEDIA_ROOT = tmp_path
    cust = company["customer"]
    cust.tax_no, cust.bank_name, cust.bank_account = "91320500MA1XXXXX0K", "招商银行苏州分行", "512900000010101"
    cust.billing_address, cust.billing_phone = "苏州工业园区星湖街 1 号", "0512-66660000"
    cust.save()
    a = company["actors"]

    def ship(qty: str = "100", price: str = "2.50", prove: bool = True, sku: str = "M8X30"):
        order = orders.order_create(data=order_input(lines=[LineInput(sku=sku, qty=D(qty), unit_price=D(price))]),
                                    actor=a["manager"]).order
        sh = shipment_create(order=order.number, actor=a["warehouse"], data=ShipmentInput(quantities={1: D(qty)}))
        shipment_ship(shipment=sh.number, actor=a["warehouse"])
        if prove:
            shipment_pod(shipment=sh.number, name="pod.png", content=SCAN, actor=a["warehouse"])
            shipment_accept(shipment=sh.number, accepted_by="王工", actor=a["warehouse"])
        sh.refresh_from_db()
        return order, sh

    return {"ship": ship, "a": a, "customer": cust, **company}

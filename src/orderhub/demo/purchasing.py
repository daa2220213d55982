"""The demo's purchasing: suppliers with prices and lead times, requests (one approved and
ordered, one awaiting approval), an aluminium PO partly received, and two orders whose kitting
leans on POs: a nozzle order short of brass that a PO due in two days makes up (it moves to
物料齐套 and its history names the PO), and a flange order short of 304 steel whose PO comes
too late (blocked, the reason naming the late PO). Loaded through the services."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_UP, Decimal

from orderhub.catalog.models import Product
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.inventory.selectors import available_by_product
from orderhub.notify.delivery import deliver_due
from orderhub.orders import services
from orderhub.orders.inputs import LineInput, OrderInput
from orderhub.purchasing.models import PurchaseRequest
from orderhub.purchasing.services import (
    LineIn,
    ReceiptIn,
    SupplierPrice,
    po_place,
    po_receive,
    request_decide,
    request_raise,
    supplier_save,
)

D = Decimal
DEMO_PURCHASING_ORDERS = 2    # the nozzle and flange orders below
SUPPLIERS = [
    # code, name, contact, [(sku, price, lead days, moq)]
    ("S-WXAL", "无锡华锐铝材有限公司", "王经理 13861000001",
     [("MAT-AL6061", "28.50", 5, "500"), ("MAT-AL6063", "26.80", 5, "500")]),
    ("S-JYSS", "江阴兴澄特钢贸易公司", "李工 13961000002",
     [("MAT-SS304", "25.00", 10, "300"), ("MAT-SS316", "38.00", 12, "200"), ("MAT-S45", "8.60", 7, "1000")]),
    ("S-NBCU", "宁波金田铜材有限公司", "陈经理 13761000003", [("MAT-BRASS", "54.00", 8, "200")]),
    ("S-SZBJ", "苏州标准件供应站", "周主管 13661000004",
     [("MAT-ORING", "0.45", 3, "5000"), ("MAT-SCREW-M3", "0.06", 3, "10000")]),
]


def _short_order(sku: str, material: str, per_unit: str, extra: str, actors: dict[str, Actor], ref: str):
    """A T1 order of ``sku`` needing ``extra`` more ``material`` than is free, moved to 已排产."""
    mat = Product.objects.get(sku=material)
    free = available_by_product([mat.pk]).get(mat.pk, D(0))
    qty = ((free + D(extra)) / D(per_unit)).quantize(D(1), rounding=ROUND_UP)
    order = services.order_create(data=OrderInput(
        customer="C0105", lines=[LineInput(sku=sku, qty=qty)], channel="phone", external_ref=ref,
        required_date=services_today() + timedelta(days=14), urgency="yellow", workflow="T1"),
        actor=actors["sales"]).order
    deliver_due()
    services.order_transition(order=order.number, to="scheduled", actor=actors["service"])
    return order, mat


def services_today() -> date:
    return clock.now().date()


def load_purchasing(actors: dict[str, Actor]) -> dict[str, str]:
    buyer = actors["purchaser"]
    ids = {p.sku: p.pk for p in Product.objects.filter(sku__startswith="MAT-")}
    sup = {}
    for code, name, contact, prices in SUPPLIERS:
        sup[code] = supplier_save(actor=buyer, code=code, name=name, contact=contact, prices=[
            SupplierPrice(ids[sku], D(price), lead, D(moq)) for sku, price, lead, moq in prices]).pk
    today = services_today()
    # an aluminium PO, partly received (400 of 1,000 kg)
    al = po_place(actor=buyer, supplier_id=sup["S-WXAL"], note="月度备料",
                  lines=[LineIn(ids["MAT-AL6061"], D("1000"), today + timedelta(days=3))])
    po_receive(actor=actors["warehouse"], number=al.number, receipts=[ReceiptIn(1, D("400"))], note="送货单 WX-2231")
    # brass: the nozzle order is short; a PO due in two days serving it makes up the difference
    nozzle, brass = _short_order("NZL-BRASS-12", "MAT-BRASS", "0.15", "180", actors, "DEMO-PO-COVER")
    pr = request_raise(actor=buyer, product_id=brass.pk, qty=D("200"), order_id=nozzle.pk,
                       needed_by=today + timedelta(days=2), source=PurchaseRequest.Source.SHORTAGE,
                       reason="喷嘴订单缺黄铜棒")
    request_decide(actor=actors["planning_supervisor"], number=pr.number, approve=True, note="同意, 按期到货")
    cu = po_place(actor=buyer, supplier_id=sup["S-NBCU"], requests=[pr.number])
    covered = services.order_transition(order=nozzle.number, to="materials_ready", actor=actors["planner"])
    # 304 steel: the flange order is short and its PO arrives after the stage needs it
    flange, steel = _short_order("FLG-SS-DN50", "MAT-SS304", "2.4", "500", actors, "DEMO-PO-LATE")
    late = po_place(actor=buyer, supplier_id=sup["S-JYSS"],
                    lines=[LineIn(steel.pk, D("600"), today + timedelta(days=10), orders={flange.pk: D("600")})])
    services.order_transition(order=flange.number, to="materials_ready", actor=actors["planner"])
    # a request awaiting the manager's approval
    request_raise(actor=buyer, product_id=ids["MAT-ORING"], qty=D("10000"), needed_by=today + timedelta(days=5),
                  reason="O型圈低于安全库存")
    return {"partly_received": al.number, "covering": cu.number, "covered_order": nozzle.number,
            "covered": str(covered.ok), "late": late.number, "late_order": flange.number}

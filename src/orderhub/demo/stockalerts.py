"""The demo's safety stock alert and replenishment request (issue 18 items 4 and 5), loaded
through the services after the rest of the demo:

- 6061 aluminium: a stock-taking loss takes its free stock below the 300 kg safety stock, so the
  not-yet-started orders needing it (through the housing, cover and bracket BOMs; one more is
  taken in for it) turn red on the boards with the 6063 substitute offer, and their owners are told.
- wiper blades (AP-WPR-24): ordered far above the other pieces on each of the last 3 days, and a
  stock correction leaves them below safety stock: the replenishment rule raises a purchase
  request awaiting approval, its evidence on the request's page.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import ROUND_UP, Decimal

from django.utils import timezone

from orderhub.catalog.models import Product
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.inventory.models import StockLevel, Warehouse
from orderhub.inventory.selectors import available_by_product
from orderhub.inventory.services import stock_adjust, stock_receive
from orderhub.notify.delivery import deliver_due
from orderhub.orders import services
from orderhub.orders.inputs import LineInput, OrderInput
from orderhub.orders.safety import safety_notices_send
from orderhub.purchasing.links import daily_demand
from orderhub.purchasing.replenishment import replenishment_scan, rule_get

D = Decimal
HOT_SKU = "AP-WPR-24"
DEMO_ALERT_ORDERS = 4      # one order needing 6061, three days of hot wiper blades (the rule's default)


def _order(sku: str, qty: Decimal, actors: dict[str, Actor], ref: str) -> str:
    order = services.order_create(data=OrderInput(
        customer="C0105", lines=[LineInput(sku=sku, qty=qty)], channel="phone", external_ref=ref,
        required_date=clock.now().date() + timedelta(days=21), workflow="T1"), actor=actors["sales"]).order
    deliver_due()              # the first stage's owner is told as it comes in (first touch)
    return order.number


def _below_safety(sku: str, under: Decimal, actor: Actor, note: str) -> None:
    """Bring ``sku``'s free stock to ``under`` below its safety stock (crossing it if above)."""
    p = Product.objects.get(sku=sku)
    wh = Warehouse.objects.order_by("priority", "code").first()
    assert wh is not None
    free = available_by_product([p.pk]).get(p.pk, D(0))
    if free < p.safety_stock:       # already below: back up first, so the loss is a crossing
        stock_receive(product_id=p.pk, warehouse_id=wh.pk, qty=p.safety_stock - free + under, actor=actor,
                      note="盘点调整")
        free = p.safety_stock + under
    # the loss comes out of what is free in each warehouse, the freest first (never below reserved)
    loss = free - (p.safety_stock - under)
    for lvl in sorted(StockLevel.objects.filter(product=p), key=lambda x: -x.available):
        take = min(lvl.available, loss)
        if take > 0:
            stock_adjust(product_id=p.pk, warehouse_id=lvl.warehouse_id, qty=-take, actor=actor, note=note)
            loss -= take


def _heat(actors: dict[str, Actor]) -> list[str]:
    """Order the hot SKU on each of the rule's last days well above its peers' average."""
    rule = rule_get()
    today = clock.now().date()
    days = [today - timedelta(days=n) for n in range(rule.days, 0, -1)]
    hot = Product.objects.get(sku=HOT_SKU)
    demand = daily_demand(days[0], days[-1])
    units = dict(Product.objects.filter(pk__in=demand).values_list("pk", "unit"))
    peers = [pid for pid in demand if pid != hot.pk and units.get(pid) == hot.unit]
    numbers = []
    tz = timezone.get_current_timezone()
    for i, day in enumerate(days):
        avg = sum((demand[p].get(day, D(0)) for p in peers), D(0)) / max(len(peers), 1)
        qty = max((avg * rule.multiple * D("1.5")).quantize(D(1), rounding=ROUND_UP), D(40))
        with clock.frozen(datetime.combine(day, time(10, 0), tzinfo=tz)):
            numbers.append(_order(HOT_SKU, qty, actors, f"DEMO-HEAT-{i + 1}"))
    return numbers


def load_stock_alerts(actors: dict[str, Actor]) -> dict[str, object]:
    admin = actors["admin"]
    extra = _order("SNS-HSG-0231", D("60"), actors, "DEMO-SAFETY")     # not started: needs 6061
    _below_safety("MAT-AL6061", D("40"), admin, "盘点盘亏（铝棒受潮报废）")
    heat = _heat(actors)
    _below_safety(HOT_SKU, D("50"), admin, "盘点更正（破损退回）")
    raised = replenishment_scan()
    told = safety_notices_send(limit=1000)
    deliver_due()
    return {"safety_order": extra, "told": len(told), "heat_orders": heat,
            "replenishment": [pr.number for pr in raised]}

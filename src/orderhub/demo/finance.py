"""The demo's finance: customers' invoice details; T1 orders at 已发货 shipped in full with POD
and acceptance and invoiced (some weeks ago, so some are overdue); payments by hand, a bank
statement with a row matched by memo, one by customer and amount and one left to match; a
promise broken (alerted) and one pending; a return received (credit note) and one waiting for
QC. All through the finance and shipping services."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from orderhub.catalog.models import Customer
from orderhub.catalog.services import customer_save
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError
from orderhub.finance.models import Invoice
from orderhub.finance.services import (
    ReturnInput,
    bank_import,
    invoice_issue,
    payment_record,
    promise_create,
    promises_sweep,
    return_create,
    return_qc,
    return_receive,
)
from orderhub.inventory.models import Warehouse
from orderhub.inventory.services import stock_receive
from orderhub.orders.models import Order
from orderhub.shipping.services import (
    ShipmentInput,
    shipment_accept,
    shipment_create,
    shipment_pod,
    shipment_ship,
)

BANKS = ["中国工商银行苏州分行", "招商银行无锡分行", "中国银行常州分行", "交通银行宁波分行", "建设银行昆山支行"]
POD = b"\x89PNG\r\n\x1a\n" + b"demo signed delivery note" * 4


def _billing(admin: Actor) -> None:
    for i, c in enumerate(Customer.objects.order_by("code")):
        customer_save(code=c.code, actor=admin, data={
            "tax_no": f"91320{500 + i:03d}MA1D{i:04d}X", "bank_name": BANKS[i % len(BANKS)],
            "bank_account": f"6222{1000 + i:04d}{i:08d}", "billing_address": f"江苏省苏州市工业园区星湖街 {100 + i} 号",
            "billing_phone": f"0512-6{i:03d}8800"})


def _invoiced(rng: random.Random, actors: dict[str, Actor], now) -> list[Invoice]:
    wh = Warehouse.objects.order_by("priority", "code").values_list("pk", flat=True)[0]
    out = []
    orders = Order.objects.filter(status="open", stage="shipped", shipments__isnull=True).order_by("pk")
    for i, order in enumerate(orders.prefetch_related("lines")[:10]):
        lines = sorted(order.lines.all(), key=lambda ln: ln.line_no)
        at = now - timedelta(days=rng.choice([3, 12, 20, 35, 50]), hours=rng.randint(0, 6))
        try:
            with clock.frozen(at):
                for ln in lines:   # the finished parts: a production receipt, then out of the door
                    stock_receive(product_id=ln.product_id, warehouse_id=wh, qty=ln.base_qty,
                                  actor=actors["warehouse"], note=f"生产入库 {order.number}")
                sh = shipment_create(order=order.number, actor=actors["warehouse"], data=ShipmentInput(
                    quantities={ln.line_no: ln.qty for ln in lines}, carrier="顺丰速运",
                    waybill=f"SF{rng.randint(10**9, 10**10 - 1)}"))
                shipment_ship(shipment=sh.number, actor=actors["logistics"])
            with clock.frozen(at + timedelta(days=1)):
                shipment_pod(shipment=sh.number, name="签收单.png", content=POD, actor=actors["warehouse"])
                shipment_accept(shipment=sh.number, accepted_by="客户仓管", note="数量、外观无异常",
                                actor=actors["warehouse"])
                if i == 9:
                    continue   # one left for the demo user to invoice from the shipment page
                out.append(invoice_issue(shipment=sh.number, kind="special" if i % 3 == 0 else "normal",
                                         actor=actors["finance"]))
        except DomainError:
            continue
    return out


def _bank_file(invoices: list[Invoice], day) -> bytes:
    a, b = invoices[2], invoices[3]
    rows = ["交易日期,金额,对方户名,摘要,交易流水号",
            f"{day:%Y-%m-%d},{a.balance},{a.customer.name},货款 {a.number},DEMO{day:%y%m%d}01",
            f"{day:%Y-%m-%d},{b.balance},{b.customer.name},{day:%m}月货款,DEMO{day:%y%m%d}02",
            f"{day:%Y-%m-%d},8800.00,某某贸易有限公司,往来款,DEMO{day:%y%m%d}03"]
    return ("\n".join(rows) + "\n").encode("utf-8-sig")


def load_finance(rng: random.Random, actors: dict[str, Actor]) -> dict[str, int]:
    """Returns counts for the loader's summary."""
    now = clock.now()
    fin = actors["finance"]
    _billing(actors["admin"])
    invoices = _invoiced(rng, actors, now)
    if len(invoices) < 6:
        return {"invoices": len(invoices)}
    today = timezone.localtime(now).date()
    with clock.frozen(now - timedelta(days=2)):
        payment_record(customer=invoices[0].customer.code, amount=invoices[0].amount, received_on=today - timedelta(days=2),
                       invoice=invoices[0].number, memo="电汇", actor=fin)
        payment_record(customer=invoices[1].customer.code, amount=(invoices[1].amount / 2).quantize(Decimal("0.01")),
                       received_on=today - timedelta(days=2), invoice=invoices[1].number, memo="首付一半", actor=fin)
        bank_import(name=f"招商银行流水{today:%Y%m%d}.csv", content=_bank_file(invoices, today - timedelta(days=1)),
                    actor=fin)
    with clock.frozen(now - timedelta(days=10)):
        promise_create(invoice=invoices[4].number, promised_on=today - timedelta(days=3), note="客户财务说月底前付",
                       actor=fin)
    promise_create(invoice=invoices[5].number, promised_on=today + timedelta(days=7), actor=fin)
    promises_sweep()
    _returns(invoices, actors)
    return {"invoices": len(invoices)}


def _returns(invoices: list[Invoice], actors: dict[str, Actor]) -> None:
    for inv, receive in ((invoices[1], True), (invoices[5], False)):
        line = inv.shipment.lines.select_related("order_line").order_by("order_line__line_no").first()
        if line is None:
            continue
        qty = max(Decimal("1"), (line.qty / 10).quantize(Decimal("1")))
        ret = return_create(order=inv.order.number, actor=actors["sales"],
                            data=ReturnInput({line.order_line.line_no: qty}, "部分零件表面划伤"))
        if receive:
            return_qc(ret=ret.number, passed=True, remark="抽检确认划伤，同意退货", actor=actors["qc"],
                      file_name="退货质检报告.txt", content="外观划伤 3 处，判定不合格。".encode())
            return_receive(ret=ret.number, actor=actors["warehouse"])

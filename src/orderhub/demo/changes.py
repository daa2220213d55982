"""The demo's changed orders (issue 15): ship-to address books, a customer price list (19.6), an order whose lines were
changed after a customer call, one restored to its first version, one with a change request
pending approval (so frozen). All through the services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from orderhub.catalog.services import customer_address_save, customer_prices_save
from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError
from orderhub.orders import services
from orderhub.orders.editing import edit_refusal
from orderhub.orders.models import Order, OrderLine

ADDRESSES = {
    "C0101": [("工厂", "王工", "13800001101", "苏州工业园区星湖街 328 号 3 号门"),
              ("研发中心", "李工", "13800001102", "苏州高新区科灵路 78 号")],
    "C0103": [("总仓", "赵经理", "13800001301", "无锡新吴区锡梅路 55 号"),
              ("宁波分仓", "钱主管", "13800001302", "宁波北仑区新碶街道明州路 9 号")],
}


def demo_addresses(system: Actor) -> None:
    for code, rows in ADDRESSES.items():
        for label, receiver, phone, address in rows:
            customer_address_save(customer=code, data={"label": label, "receiver": receiver, "phone": phone,
                                                       "address": address}, actor=system)
    # C0101's price list from the day the demo is loaded (back-dated orders keep list prices)
    today = timezone.localdate(timezone.now())
    customer_prices_save(customer="C0101", actor=system, rows=[
        {"sku": "SNS-HSG-0231", "min_qty": "0", "unit_price": "40", "valid_from": today},
        {"sku": "SNS-HSG-0231", "min_qty": "500", "unit_price": "38", "valid_from": today},
        {"sku": "SNS-CVR-0112", "min_qty": "1000", "unit_price": "8.20", "valid_from": today,
         "valid_to": today + timedelta(days=90)}])


def demo_changes(actors: dict[str, Actor]) -> list[str]:
    """Two open T1 orders still editable: one with its lines changed (quantity up, a line
    added), one changed and then restored to its first version. Returns their numbers."""
    done: list[str] = []
    for order in Order.objects.filter(status="open", workflow__code="T1", on_hold=False,
                                      stage__in=["pending", "scheduled"]).order_by("pk")[:2]:
        if edit_refusal(order):
            continue
        first = OrderLine.objects.filter(order=order).order_by("line_no").first()
        if first is None:
            continue
        try:
            services.order_lines_change(order=order.number, actor=actors["sales"], reason="客户电话追加数量",
                                        changes=[services.LineChange("update", line_no=first.line_no,
                                                                     qty=first.qty + Decimal(50)),
                                                 services.LineChange("add", sku="SNS-CVR-0112", qty=Decimal(100))])
            if done:
                services.order_restore(order=order.number, version=1, actor=actors["sales"],
                                       reason="客户撤回追加, 恢复原单")
        except DomainError:
            continue
        done.append(order.number)
    return done


def demo_change_request(actors: dict[str, Actor], skip: list[str]) -> str | None:
    """One open T1 order (not among ``skip``) with a change request pending approval: the
    customer moves the date by three days and takes 20 more of the first line."""
    for order in Order.objects.filter(status="open", workflow__code="T1", on_hold=False,
                                      stage__in=["scheduled", "pending"]).exclude(number__in=skip).order_by("-pk")[:5]:
        first = OrderLine.objects.filter(order=order).order_by("line_no").first()
        if first is None or edit_refusal(order):
            continue
        try:
            services.change_request_raise(
                order=order.number, actor=actors["sales"], reason="客户来电: 交期推迟 3 天, 第 1 行加 20",
                header={"required_date": order.required_date + timedelta(days=3)},
                lines=[services.LineChange("update", line_no=first.line_no, qty=first.qty + Decimal(20))])
        except DomainError:
            continue
        return order.number
    return None

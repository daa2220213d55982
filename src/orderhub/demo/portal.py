"""The demo's customer portal: contacts for two customers, a few opens and calls so the
self-query rate has figures, and the start-up banner's sign-in help. The demo has no real
mail server: ``orderhub demo`` turns on ``ORDERHUB_PORTAL_SHOW_CODES``, so the sign-in page shows
the code it sent, marked as demo mode (never in production)."""

from __future__ import annotations

from django.db.models import Count

from orderhub.core.actors import Actor
from orderhub.orders.models import Order
from orderhub.portal.messages import message_post
from orderhub.portal.models import Contact, Visit
from orderhub.portal.services import (
    ContactInput,
    call_log,
    contact_actor,
    contact_save,
    tracking_link_issue,
    tracking_order,
    visit_record,
    visitor_actor,
)

CONTACTS = [
    # which of the two customers with the most orders, name, e-mail, mobile
    (0, "王采购", "buyer@portal.example", "13900000101"),
    (0, "赵经理", "manager@portal.example", ""),
    (1, "陈工", "", "13900000102"),
]


def demo_portal_setup(actors: dict[str, Actor]) -> None:
    """Contacts of the two customers with the most orders; for the first, two orders opened
    through their tracking links and one call."""
    if Contact.objects.exists():
        return
    top = list(Order.objects.values_list("customer__code", flat=True).annotate(n=Count("id"))
               .order_by("-n", "customer__code")[:2])
    if not top:
        return
    made = []
    for which, name, email, mobile in CONTACTS:
        made.append(contact_save(customer=top[min(which, len(top) - 1)], data=ContactInput(name=name, email=email, mobile=mobile),
                     actor=actors["admin"]))
    orders = list(Order.objects.filter(customer__code=top[0]).order_by("-pk")[:3])
    for order in orders[:2]:
        token, _expires = tracking_link_issue(order=order.number, actor=actors["sales"])
        visit_record(order=tracking_order(token), kind=Visit.Kind.TRACK, actor=visitor_actor())
    if len(orders) > 2:
        call_log(order=orders[2].number, note="客户来电问发货时间", actor=actors["service"])
    if orders:  # a thread: the buyer asks from the portal, customer service answers from the order page
        message_post(order=orders[0].number, body="请问这批货能否提前两天发出？", contact=made[0],
                     actor=contact_actor(made[0]))
        message_post(order=orders[0].number, body="可以，我们安排本周五发货，发货后会通知您。", actor=actors["service"])


def print_portal(host: str, port: int) -> None:
    print(f"Customer portal (客户订单查询): http://{host}:{port}/portal/login/")
    for contact in Contact.objects.select_related("customer").order_by("pk")[:5]:
        print(f"  {contact.name:<6} {contact.email or contact.mobile:<24} {contact.customer.name}")
    print("  sign in with the e-mail or mobile above; the demo shows the one-time code on the page")
    print("  (demo mode only: no mail server here). Tracking links: an order's page → 生成查询链接和二维码")
    print()

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


SURVEY = [(5, "交期准，发货前就收到了通知。"), (4, "整体满意，包装可以再加强。"), (5, ""),
          (3, "晚了一天，不过业务员提前说明了。"), (4, "沟通及时。"), (2, "到货比承诺晚，希望改进。")]


def demo_coei(actors: dict[str, Actor]) -> dict[str, int]:
    """COEI and the survey with figures: the top customers' expected update intervals, the
    rep's explanation of a few late orders (within 2 business hours), and survey answers to
    delivered orders, each given just after delivery (through the portal when the customer has a
    contact, else through the delivery notice's link)."""
    from datetime import timedelta

    from django.db.models import Q

    from orderhub.core import clock
    from orderhub.portal.coei import day_end
    from orderhub.portal.survey import customer_setting_save, delivered_at, survey_answer

    top = list(Contact.objects.values_list("customer__code", flat=True).distinct().order_by("customer__code"))
    for code, hours in zip(top, (24, 48), strict=False):
        customer_setting_save(customer=code, update_hours=hours, actor=actors["admin"])
    now = clock.now()
    explained = 0
    late = Order.objects.filter(status="open", required_date__lt=now.date()).order_by("pk")[:6]
    for order in late[::2]:   # every other late order explained in time; the rest not
        at = day_end(order.promised_date or order.required_date) + timedelta(hours=9, minutes=30)
        if at <= now:
            with clock.frozen(at):
                message_post(order=order.number, body="原料晚到，交期顺延两天，给您添麻烦了，发货后第一时间通知您。",
                             actor=actors["service"])
            explained += 1
    answered = 0
    delivered = (Order.objects.filter(Q(status="completed") | Q(shipments__shipped_at__isnull=False))
                 .select_related("customer").distinct().order_by("-pk")[:12])
    for order in delivered:
        if answered >= len(SURVEY):
            break
        when = delivered_at(order)
        if when is None or when + timedelta(hours=2) > now:
            continue
        stars, comment = SURVEY[answered]
        contact = Contact.objects.filter(customer_id=order.customer_id, is_active=True).order_by("pk").first()
        with clock.frozen(when + timedelta(hours=2)):
            survey_answer(order=order, stars=stars, comment=comment, via="portal" if contact else "link",
                          contact=contact, actor=contact_actor(contact) if contact else visitor_actor())
        answered += 1
    return {"explained": explained, "surveys": answered}

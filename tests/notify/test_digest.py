"""Many orders entering one stage in one change (an import's chunk, a bulk move) are told in one
message per owner (``orders.entered``), not one per order: red orders still one by one, each
new order's first touch still recorded when the message is delivered, and a rep reached by role
hears only of the orders they may see."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import translation

from orderhub.catalog.models import Customer
from orderhub.notify.models import FirstTouch, Message
from orderhub.notify.selectors import with_text
from orderhub.notify.services import NotifyRequest, Recipient, notify_many
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order
from orderhub.orders.services import order_create, order_create_batch, order_transition_batch
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def _text(m: Message) -> tuple[str, str]:
    with translation.override("zh-hans"):
        return next((x.subject, x.body) for x in with_text(Message.objects.filter(pk=m.pk)))


def _items(n: int, *, red: int = 0, prefix: str = "D") -> list:
    # a bolt line: stock for every order, so nothing waits on material
    return [order_input(external_ref=f"{prefix}{i}", channel="import", urgency="red" if i < red else "green",
                        lines=[LineInput(sku="M8X30", qty=Decimal("10"))]) for i in range(n)]


@pytest.mark.smoke
def test_an_import_chunk_of_new_orders_is_one_message_and_each_order_is_touched(
        company, inline_jobs, monday_morning, django_capture_on_commit_callbacks):
    service = company["users"]["service"]
    with django_capture_on_commit_callbacks(execute=True):
        results = order_create_batch(items=_items(25, red=3), actor=company["actors"]["sales"])
    orders = [r.order for r in results]
    assert all(r.created for r in results)
    digest = Message.objects.get(event="orders.entered")
    assert (digest.channel, digest.user_id, digest.order_id, digest.status) == ("inapp", service.pk, None, "delivered")
    # the three red orders are still told one by one
    red = Message.objects.filter(event="order.created")
    assert sorted(m.order.number for m in red) == sorted(o.number for o in orders[:3])
    assert Message.objects.count() == 4
    subject, body = _text(digest)
    assert subject == "新订单 22 张进入待确认"
    for o in orders[3:23]:
        assert o.number in body
    assert orders[23].number not in body and "另有 2 张" in body
    # delivering the digest touched each order it names (and the red ones their own message)
    touched = dict(FirstTouch.objects.values_list("order_id", "message_id"))
    assert touched == {o.pk: (digest.pk if i >= 3 else Message.objects.get(order=o).pk)
                       for i, o in enumerate(orders)}
    assert all(ft.submitted_at == ft.order.created_at for ft in FirstTouch.objects.select_related("order"))


def test_fewer_than_the_threshold_are_told_one_by_one(company, inline_jobs, monday_morning, settings,
                                                      django_capture_on_commit_callbacks):
    settings.ORDERHUB_NOTIFY_DIGEST_FROM = 6
    with django_capture_on_commit_callbacks(execute=True):
        order_create_batch(items=_items(5), actor=company["actors"]["sales"])
    assert set(Message.objects.values_list("event", flat=True)) == {"order.created"}
    assert Message.objects.count() == 5 == FirstTouch.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        order_create_batch(items=_items(6, prefix="E"), actor=company["actors"]["sales"])
    assert Message.objects.filter(event="orders.entered").count() == 1
    assert FirstTouch.objects.count() == 11
    # a setting below 2 still tells a lone order in its own message
    settings.ORDERHUB_NOTIFY_DIGEST_FROM = 0
    with django_capture_on_commit_callbacks(execute=True):
        order_create_batch(items=_items(1, prefix="F"), actor=company["actors"]["sales"])
    assert Message.objects.filter(event="order.created").count() == 6


def test_a_bulk_move_tells_the_next_owner_once(company, inline_jobs, monday_morning,
                                               django_capture_on_commit_callbacks):
    a = company["actors"]
    orders = [r.order for r in order_create_batch(items=_items(20), actor=a["sales"])]
    with django_capture_on_commit_callbacks(execute=True):
        result = order_transition_batch(numbers=[o.number for o in orders], to="scheduled", actor=a["service"])
    assert [r.outcome for r in result] == ["moved"] * 20
    planner = Message.objects.filter(user=company["users"]["planner"])
    assert [m.event for m in planner] == ["orders.entered"]
    subject, body = _text(planner[0])
    assert subject.startswith("订单 20 张进入") and "上一环节" in body and "另有" not in body
    assert "操作人" in body
    # a move is no first touch: the orders were touched when created
    assert FirstTouch.objects.filter(message=planner[0]).count() == 0


def test_a_rep_reached_by_role_hears_only_of_their_customers_orders(company, monday_morning):
    sales, sales2 = company["users"]["sales"], get_user_model().objects.create_user(username="sales2")
    sales2.groups.add(Group.objects.get(name="sales"))
    Customer.objects.create(code="C002", name="无锡华泰汽车部件", tier="B", sales_owner=sales2)
    service = company["actors"]["service"]
    theirs = [order_create(data=order_input(customer="C002", external_ref=f"T{i}"), actor=service).order
              for i in range(3)]
    mine = order_create(data=order_input(customer="C001"), actor=service).order
    orders = [*theirs, mine]
    notify_many([NotifyRequest(event="orders.entered", recipients=[Recipient.role("sales"), Recipient.role("planner")],
                               context={"stage": "pending", "stage_name": "待确认", "created": True},
                               dedupe_key="digest-1", orders=orders, channels=["inapp"],
                               first_touch={o.pk: o.created_at.isoformat() for o in orders})])
    got = {m.user_id: m for m in Message.objects.filter(event="orders.entered")}
    planner = company["users"]["planner"].pk
    assert set(got) == {sales.pk, sales2.pk, planner}
    assert got[sales.pk].payload["context"]["numbers"] == [mine.number]
    assert got[sales2.pk].payload["context"]["count"] == 3
    assert got[planner].payload["context"]["count"] == 4
    assert [pk for pk, _at in got[sales.pk].payload["first_touch"]["orders"]] == [mine.pk]
    assert _text(got[sales.pk])[0] == "新订单 1 张进入待确认"
    # the same digest again writes nothing (one dedupe key per recipient)
    assert notify_many([NotifyRequest(event="orders.entered", recipients=[Recipient.role("sales")],
                                      context={}, dedupe_key="digest-1", orders=orders, channels=["inapp"])]) == 0
    assert Order.objects.count() == 4


def test_a_roles_webhook_still_gets_each_order_and_its_group_chat_the_digest(company, monday_morning,
                                                                           private_targets_allowed):
    """Systems act on each order: a webhook serving the role gets one message per order; a
    group chat (people) gets the digest like the role's members."""
    from orderhub.notify.services import endpoint_save

    admin = company["actors"]["admin"]
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin, roles=["service"],
                  config={"url": "http://127.0.0.1:9/hooks", "secret": "s3cret"})
    endpoint_save(code="ding", name="客服群", kind="dingtalk", actor=admin, roles=["service"],
                  config={"url": "http://127.0.0.1:9/robot/send?access_token=t"})
    orders = [r.order for r in order_create_batch(items=_items(20), actor=company["actors"]["sales"])]
    hooks = Message.objects.filter(channel="webhook")
    assert sorted(hooks.values_list("order_id", flat=True)) == sorted(o.pk for o in orders)
    assert set(hooks.values_list("event", flat=True)) == {"order.created"}
    assert set(Message.objects.exclude(channel="webhook").values_list("channel", "event")) == {
        ("inapp", "orders.entered"), ("dingtalk", "orders.entered")}


def test_the_inbox_shows_the_digest_in_words_with_a_link_to_the_stages_orders(
        company, inline_jobs, monday_morning, django_capture_on_commit_callbacks):
    from django.test import Client

    with django_capture_on_commit_callbacks(execute=True):
        orders = [r.order for r in order_create_batch(items=_items(21), actor=company["actors"]["sales"])]
    c = Client()
    assert c.login(username="service", password="pw-service")
    page = c.get("/notifications/").content.decode()
    assert "新订单 21 张进入待确认" in page and "<h3>21 张新订单进入「待确认」</h3>" in page
    assert orders[0].number in page and "另有 1 张" in page
    assert 'href="/orders/?stage=pending&amp;workflow=T1"' in page and "查看该环节的订单" in page
    listed = c.get("/orders/?stage=pending&workflow=T1").content.decode()
    assert all(o.number in listed for o in orders[:20])
    assert "orders.entered" not in page and "None" not in page


def test_the_order_page_lists_the_digest_that_told_of_it(company, inline_jobs, monday_morning,
                                                         django_capture_on_commit_callbacks):
    from django.test import Client

    from orderhub.notify.selectors import order_deliveries

    with django_capture_on_commit_callbacks(execute=True):
        orders = [r.order for r in order_create_batch(items=_items(20), actor=company["actors"]["sales"])]
    digest = Message.objects.get(event="orders.entered")
    assert [m.pk for m in order_deliveries(orders[5].pk)] == [digest.pk]
    c = Client()
    assert c.login(username="manager", password="pw-manager")
    page = c.get(f"/orders/{orders[5].number}/").content.decode()
    assert "新订单 20 张进入待确认" in page and "多张订单进入环节（汇总）" in page

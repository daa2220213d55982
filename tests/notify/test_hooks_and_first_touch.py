"""The order-hook subscriber and first-touch latency."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orderhub.core import clock
from orderhub.notify import selectors
from orderhub.notify.models import FirstTouch, Message
from orderhub.notify.subscribers import on_order_changes
from orderhub.orders import services
from orderhub.orders.hooks import OrderChange
from orderhub.orders.models import Order
from tests.conftest import order_input

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.smoke
def test_new_order_tells_the_first_stage_owner_and_records_first_touch(
        company, inline_jobs, monday_morning, django_capture_on_commit_callbacks):
    from orderhub.notify.services import endpoint_save

    service_user = company["users"]["service"]
    service_user.email = "kefu@factory.example"
    service_user.save()
    endpoint_save(code="mail", name="邮件", kind="email", config={}, actor=company["actors"]["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    assert order.stage == "pending"
    msgs = list(Message.objects.filter(order=order))
    # T1's first stage "pending" is owned by customer service: in-app + e-mail to its user
    assert {(m.channel, m.user_id) for m in msgs} == {("inapp", service_user.pk), ("email", service_user.pk)}
    inapp = next(m for m in msgs if m.channel == "inapp")
    assert inapp.event == "order.created" and order.number in inapp.subject
    assert "苏州博锐精工" in inapp.body           # rendered from the Chinese default template
    assert inapp.status == "delivered"
    ft = FirstTouch.objects.get(order=order)
    assert ft.submitted_at == order.created_at
    assert 0 <= ft.wall_seconds < 60
    assert selectors.unread_count(service_user) == 1
    stats = selectors.first_touch_stats()
    assert stats.count == 1 and stats.p99_seconds == ft.wall_seconds


def test_stage_entered_tells_the_new_owner_once(company, inline_jobs, monday_morning,
                                                django_capture_on_commit_callbacks):
    a = company["actors"]
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_create(data=order_input(), actor=a["sales"]).order
        services.order_transition(order=order, to="scheduled", actor=a["service"])
    planner_msgs = Message.objects.filter(order=order, user=company["users"]["planner"])
    assert [m.event for m in planner_msgs] == ["stage.entered"]
    assert "进入" in planner_msgs[0].subject
    # the stage change does not count as the first touch (the first delivery already did)
    assert FirstTouch.objects.filter(order=order).count() == 1


def test_first_touch_business_median_skips_the_night(company, inline_jobs, settings,
                                                     django_capture_on_commit_callbacks):
    """Submitted Friday 17:00, first delivered Monday 08:40: 63 h 40 min of wall time but only
    40 business minutes (17:00–17:30 and 08:30–08:40)."""
    settings.ORDERHUB_RUN_JOBS_INLINE = False      # nobody delivers until Monday
    friday = datetime(2026, 11, 27, 17, 0, tzinfo=SH)
    with clock.frozen(friday), django_capture_on_commit_callbacks(execute=True):
        order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    from orderhub.notify.delivery import deliver_due

    with clock.frozen(datetime(2026, 11, 30, 8, 40, tzinfo=SH)):
        deliver_due()
    ft = FirstTouch.objects.get(order=order)
    assert ft.wall_seconds == pytest.approx((63 * 60 + 40) * 60)
    assert ft.business_seconds == pytest.approx(40 * 60)
    assert selectors.first_touch_stats().median_business_seconds == pytest.approx(40 * 60)


@pytest.mark.smoke
def test_a_batch_costs_one_insert_and_nothing_to_send_costs_no_query(company, monday_morning):
    from orderhub.orders.services import order_create_batch

    items = [order_input(external_ref=f"B{i}", channel="import") for i in range(20)]
    with CaptureQueriesContext(connection) as q:
        order_create_batch(items=items, actor=company["actors"]["sales"])
    notify_inserts = [x for x in q.captured_queries if 'INTO "notify_message"' in x["sql"]]
    # the batch is published as one list on every database (SQLite creates its orders one by
    # one, held until the end): one INSERT, one in-app message telling of the 20 orders
    # (``tests/notify/test_digest.py``; the fixture's users have no e-mail address)
    assert len(notify_inserts) == 1
    assert list(Message.objects.values_list("event", "channel")) == [("orders.entered", "inapp")]
    order = Order.objects.first()
    # a change that opens no stage (hold, update ...) costs the subscriber no query at all
    ev = order.stage_instances.first()
    change = OrderChange("order.held", order, company["actors"]["manager"], clock.now(), event=None,
                         entered=None)
    with CaptureQueriesContext(connection) as q:
        on_order_changes([change, change])
    assert q.captured_queries == []
    assert ev is not None


def test_dedupe_the_same_stage_entry_is_not_notified_twice(company, monday_morning):
    order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    inst = order.stage_instances.get()
    change = OrderChange("order.created", order, company["actors"]["sales"], clock.now() + timedelta(seconds=1),
                         event=None, entered=inst)
    before = Message.objects.count()
    on_order_changes([change])
    assert Message.objects.count() == before

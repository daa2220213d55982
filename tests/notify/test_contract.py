"""The notify() contract: outbox rows in the caller's transaction, dedupe, recipients."""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orderhub.notify.models import Message
from orderhub.notify.selectors import with_text
from orderhub.notify.services import Recipient, notify

pytestmark = pytest.mark.django_db


def test_notify_role_writes_rows_for_each_user_and_dedupes(company):
    from orderhub.notify.services import endpoint_save

    planner = company["users"]["planner"]
    planner.email = "planner@example.com"
    planner.save()
    # e-mail goes out only when an e-mail endpoint is configured (no host: Django's EMAIL_*)
    n = notify(event="rule.notify", recipients=[Recipient.role("planner")], context={}, dedupe_key="t0")
    assert n == 1 and Message.objects.get().channel == "inapp"
    endpoint_save(code="mail", name="邮件", kind="email", config={}, actor=company["actors"]["admin"])
    n = notify(event="rule.notify", recipients=[Recipient.role("planner")],
               context={"message": "检查物料", "title": "物料提醒"}, dedupe_key="t1")
    assert n == 2   # in-app + e-mail (the default personal channels)
    rows = {m.channel: m for m in Message.objects.filter(dedupe_key__startswith="t1|")}
    assert set(rows) == {"inapp", "email"}
    assert rows["email"].address == "planner@example.com"
    assert rows["inapp"].user_id == planner.pk
    assert (rows["inapp"].subject, rows["inapp"].body) == ("", "")   # rendered when delivered
    inapp = with_text([rows["inapp"]])[0]                              # or shown
    assert "检查物料" in inapp.body and inapp.subject.startswith("物料提醒")
    assert rows["inapp"].payload["dedupe_key"] == rows["inapp"].dedupe_key
    assert rows["inapp"].status == "queued"
    again = notify(event="rule.notify", recipients=[Recipient.role("planner")],
                   context={"message": "x"}, dedupe_key="t1")
    assert again == 0 and Message.objects.filter(dedupe_key__startswith="t1|").count() == 2


@pytest.mark.smoke
def test_notify_one_insert_and_rollback_sends_nothing(company):
    with CaptureQueriesContext(connection) as q:
        notify(event="rule.notify", recipients=[Recipient.role("planner"), Recipient.role("sales")],
               context={"message": "m"}, dedupe_key="many", channels=["inapp"])
    # (PostgreSQL: one prepared WITH … INSERT taking the rows as one jsonb parameter)
    inserts = [x for x in q.captured_queries if 'INTO "notify_message"' in x["sql"]]  # (SQLite: INSERT OR IGNORE)
    assert len(inserts) == 1
    assert Message.objects.filter(dedupe_key__startswith="many|").count() == 2
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(event="rule.notify", recipients=[Recipient.role("qc")], context={}, dedupe_key="rb",
               channels=["inapp"])
        raise RuntimeError
    assert not Message.objects.filter(dedupe_key__startswith="rb|").exists()


def test_unknown_channel_and_severity_are_refused(company):
    from orderhub.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as e:
        notify(event="x", recipients=[Recipient.role("qc")], context={}, dedupe_key="k", channels=["fax"])
    assert e.value.problems[0].field == "channels"
    with pytest.raises(ValidationFailed):
        notify(event="x", recipients=[Recipient.role("qc")], context={}, dedupe_key="k", severity="pink")


def test_a_users_quiet_hours_hold_email_but_not_red_nor_inapp(company):
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from orderhub.core import clock
    from orderhub.notify.services import endpoint_save, profile_save

    admin = company["actors"]["admin"]
    planner = company["users"]["planner"]
    planner.email = "p@example.com"
    planner.save()
    endpoint_save(code="mail", name="邮件", kind="email", config={}, actor=admin)
    profile_save(user_id=planner.pk, actor=company["actors"]["planner"], channels=["inapp", "email"],
                 quiet_start=time(12, 0), quiet_end=time(13, 0))
    sh = ZoneInfo("Asia/Shanghai")
    with clock.frozen(datetime(2026, 11, 23, 12, 20, tzinfo=sh)):
        notify(event="rule.notify", recipients=[Recipient.user(planner.pk)], context={}, dedupe_key="lunch")
        notify(event="rule.notify", recipients=[Recipient.user(planner.pk)], context={}, dedupe_key="fire",
               severity="red")
    due = {(m.dedupe_key.split("|")[0], m.channel): m.next_attempt_at for m in Message.objects.all()}
    assert due[("lunch", "email")] == datetime(2026, 11, 23, 13, 0, tzinfo=sh)
    assert due[("lunch", "inapp")] == datetime(2026, 11, 23, 12, 20, tzinfo=sh)
    assert due[("fire", "email")] == datetime(2026, 11, 23, 12, 20, tzinfo=sh)
    from orderhub.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):   # somebody else's profile
        profile_save(user_id=planner.pk, actor=company["actors"]["sales"], mobile="1")


@pytest.mark.smoke
def test_templates_fall_back_to_the_shipped_defaults(company, monday_morning):
    """A flushed or deleted template row still renders the Chinese default, and an edited row
    wins over it."""
    from orderhub.notify.models import MessageTemplate
    from orderhub.notify.services import clear_caches, template_save
    from orderhub.orders.services import order_create
    from tests.conftest import order_input

    MessageTemplate.objects.all().delete()
    clear_caches()
    order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
    m = with_text([Message.objects.get(order=order)])[0]
    assert m.subject.startswith(f"新订单 {order.number}") and "苏州博锐精工" in m.body
    template_save(event="rule.notify", channel="inapp", subject="提醒：{{ title }}", body="{{ message }}！",
                  actor=company["actors"]["admin"])
    notify(event="rule.notify", recipients=[Recipient.role("qc")], context={"title": "T", "message": "M"},
           dedupe_key="edited", channels=["inapp"])
    m = with_text([Message.objects.get(dedupe_key__startswith="edited|")])[0]
    assert (m.subject, m.body) == ("提醒：T", "M！")


@pytest.mark.smoke
def test_settings_changes_are_audited_without_their_secrets(company):
    from datetime import time

    from orderhub.core.models import AuditEvent
    from orderhub.notify.services import endpoint_save, message_resend, profile_save, template_save

    admin = company["actors"]["admin"]
    url = "https://oapi.dingtalk.com/robot/send?access_token=TOPSECRET"
    ep = endpoint_save(code="ding", name="生产群", kind="dingtalk", actor=admin,
                       config={"url": url, "secret": "SECxyz"})
    endpoint_save(code="ding", name="生产一群", kind="dingtalk", actor=admin,
                  config={"url": url, "secret": "SECxyz"})
    evs = list(AuditEvent.objects.filter(subject_type="notify_endpoint", subject_id=ep.pk).order_by("seq"))
    assert [e.action for e in evs] == ["notify.endpoint_saved"] * 2
    assert evs[1].changes == {"name": ["生产群", "生产一群"]}      # only what changed
    logged = str(evs[0].changes)
    assert "TOPSECRET" not in logged and "SECxyz" not in logged and "oapi.dingtalk.com" in logged

    t = template_save(event="order.created", channel="inapp", subject="新订单 {{ order.number }}",
                      body="请处理", actor=admin)
    ev = AuditEvent.objects.get(subject_type="message_template", subject_id=t.pk)
    assert ev.changes["body"] == [None, "请处理"] and ev.data["event"] == "order.created"

    planner = company["users"]["planner"]
    profile_save(user_id=planner.pk, actor=company["actors"]["planner"], mobile="13800000000",
                 quiet_start=time(22, 0), quiet_end=time(7, 0))
    ev = AuditEvent.objects.get(subject_type="contact_profile", subject_id=planner.pk)
    assert ev.changes["quiet_start"] == [None, "22:00:00"] and ev.actor_label == "planner"

    notify(event="rule.notify", recipients=[Recipient.role("planner")], context={}, dedupe_key="dead")
    m = Message.objects.get(dedupe_key__startswith="dead|")
    Message.objects.filter(pk=m.pk).update(status=Message.Status.DEAD, attempts=8)
    message_resend(message=m.pk, actor=admin)
    ev = AuditEvent.objects.get(subject_type="notify_message", subject_id=m.pk)
    assert ev.action == "notify.message_resent" and ev.changes["status"] == ["dead", "queued"]


def test_a_role_hears_of_an_order_only_through_reps_who_may_see_it(company):
    """Told by role, a rep who sees only their own customers' orders hears only of those; a
    role that sees every order hears of all of them; without an order everyone in the role hears."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from orderhub.catalog.models import Customer
    from orderhub.orders.services import order_create
    from tests.conftest import order_input

    sales, sales2 = company["users"]["sales"], get_user_model().objects.create_user(username="sales2")
    sales2.groups.add(Group.objects.get(name="sales"))
    Customer.objects.create(code="C002", name="无锡华泰汽车部件", tier="B", sales_owner=sales2)
    service = company["actors"]["service"]
    theirs = order_create(data=order_input(customer="C002"), actor=service).order
    mine = order_create(data=order_input(customer="C001"), actor=service).order
    owned = order_create(data=order_input(customer="C002", owner="sales"), actor=service).order

    def told(order, key):
        notify(event="rule.notify", recipients=[Recipient.role("sales"), Recipient.role("planner")],
               context={"message": "m"}, order=order, dedupe_key=key, channels=["inapp"])
        return set(Message.objects.filter(dedupe_key__startswith=f"{key}|").values_list("user_id", flat=True))

    planner = company["users"]["planner"].pk
    assert told(theirs, "a") == {sales2.pk, planner}
    assert told(mine, "b") == {sales.pk, planner}
    assert told(owned, "c") == {sales.pk, sales2.pk, planner}  # sales owns it, sales2 has its customer
    assert told(None, "d") == {sales.pk, sales2.pk, planner}


def test_a_customer_loaded_with_its_order_names_the_rep_without_a_query(company):
    """The rep told of an order is read from the order's customer when it is loaded with the
    order (a move's locked orders carry it): no customer query; an order without it still asks."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from orderhub.catalog.models import Customer
    from orderhub.notify.services import NotifyRequest, notify_many
    from orderhub.orders.models import Order
    from orderhub.orders.services import order_create
    from tests.conftest import order_input

    sales, sales2 = company["users"]["sales"], get_user_model().objects.create_user(username="sales2")
    sales2.groups.add(Group.objects.get(name="sales"))
    Customer.objects.create(code="C002", name="无锡华泰汽车部件", tier="B", sales_owner=sales2)
    service = company["actors"]["service"]
    theirs = order_create(data=order_input(customer="C002"), actor=service).order.pk
    mine = order_create(data=order_input(customer="C001"), actor=service).order.pk
    loaded = Order.objects.select_related("customer").get(pk=theirs)
    bare = Order.objects.get(pk=mine)

    def request(order, key):
        return NotifyRequest(event="rule.notify", recipients=[Recipient.role("sales")], context={},
                             order=order, dedupe_key=key, channels=["inapp"])

    with CaptureQueriesContext(connection) as q:
        notify_many([request(loaded, "e")])
    assert not [x for x in q.captured_queries if '"catalog_customer"' in x["sql"]]
    with CaptureQueriesContext(connection) as q:
        notify_many([request(loaded, "f"), request(bare, "g")])
    asked = [x["sql"] for x in q.captured_queries if '"catalog_customer"' in x["sql"]]
    assert len(asked) == 1 and re.findall(r"IN \(([\d, ]+)\)", asked[0]) == [str(bare.customer_id)]
    heard = dict(Message.objects.filter(dedupe_key__regex=r"^[efg]\|").values_list("dedupe_key", "user_id"))
    assert {k[0]: v for k, v in heard.items()} == {"e": sales2.pk, "f": sales2.pk, "g": sales.pk}

"""Triage at intake (T1): an urgent order over 50,000 CNY is flagged on the order and its inbox
link, audited, answered by `services.triage(order=)` with the people to alert, and shown to those
people on their intake page, whatever channel it came by."""

import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from orderhub.core import clock
from orderhub.core.models import AuditEvent
from orderhub.intake import services
from orderhub.intake.models import Draft, InboundOrder
from orderhub.notify.models import Message
from orderhub.notify.selectors import with_text

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)


def _webhook_order(actor, ref: str, qty: int):
    body = {"order_id": ref, "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "pay_time": "20260302100000",
            "total_fee": qty * 38500, "remark": "", "items": [{"sku_id": "BRK-PAD-F-2231", "num": qty, "price": 38500}]}
    msg = services.inbound_receive(channel="miniprogram", kind="webhook", actor=actor,
                                   payload=json.dumps(body).encode())
    return services.inbound_process(message=msg, actor=actor)


@pytest.fixture
def t1_fast(master, intake_actor):
    services.profile_set(customer="C0217", lead_days=2, actor=intake_actor)  # due 38 h after payment
    return master


def _login(company, role) -> Client:
    c = Client()
    c.force_login(company["users"][role])
    return c


def test_urgent_large_order_names_the_two_people_and_they_see_it(t1_fast, intake_actor):
    company = t1_fast
    with clock.frozen(MONDAY_10):
        big = _webhook_order(intake_actor, "WX-T1-BIG", 200)       # 77,000 CNY
        small = _webhook_order(intake_actor, "WX-T1-SMALL", 20)    # 7,700 CNY
    order = big.orders.get()
    assert order.urgency == "red" and {"#急单大额", "triage:t1_urgent_large"} <= set(order.tags)
    assert not any(t.startswith("triage:") for t in small.orders.get().tags)
    link = InboundOrder.objects.get(message=big, order=order)
    assert link.meta["triage"][0]["rule"] == "t1_urgent_large"
    alerts = services.triage(order=order)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.rule, alert.roles, alert.fallback) == (
        "t1_urgent_large", ("planning_supervisor", "production_director"), False)
    assert alert.usernames == ["planning_supervisor", "production_director"]
    assert (alert.total, alert.required_date, Decimal(alert.hours_to_due)) == ("77000.00", "2026-03-04", 38)
    assert order.number in alert.subject and "77000.00" in alert.text
    assert services.triage(order=small.orders.get()) == []
    event = AuditEvent.objects.get(action="intake.triage_alert")
    assert event.data["recipients"] == ["planning_supervisor", "production_director"]
    # the people see it on their intake page; someone else does not
    for role in ("planning_supervisor", "production_director"):
        page = _login(company, role).get("/intake/").content.decode()
        assert 'data-testid="triage-alerts"' in page and order.number in page, role
    other = _login(company, "sales").get("/intake/").content.decode()
    assert 'data-testid="triage-alerts"' not in other
    # and the notification hub has a red alert for each of them, written with the order
    red = Message.objects.filter(event="intake.triage", order=order, channel="inapp")
    assert sorted(m.user.username for m in red) == ["planning_supervisor", "production_director"]
    assert {m.severity for m in red} == {"red"} and all(order.number in m.subject for m in with_text(red))
    assert not Message.objects.filter(event="intake.triage", order=small.orders.get()).exists()


def test_nobody_in_the_roles_falls_back_to_managers_and_admins(t1_fast, intake_actor):
    company = t1_fast
    for role in ("planning_supervisor", "production_director"):
        company["users"][role].is_active = False
        company["users"][role].save()
    with clock.frozen(MONDAY_10):
        big = _webhook_order(intake_actor, "WX-T1-NOONE", 200)
    (alert,) = services.triage(order=big.orders.get())
    assert alert.fallback is True and alert.usernames == ["admin", "manager"]
    page = _login(company, "manager").get("/intake/").content.decode()
    assert big.orders.get().number in page


def test_quick_orders_and_confirmed_drafts_are_triaged_too(t1_fast, intake_actor):
    company = t1_fast
    services.profile_set(customer="C0217", default_qty={"BRK-PAD-F-2231": 200}, actor=intake_actor)
    token = services.quick_link_issue(customer="C0217", actor=intake_actor)
    with clock.frozen(MONDAY_10):
        quick = services.quick_order_submit(token=token, item="BRK-PAD-F-2231", due_date=date(2026, 3, 4))
        msg = services.inbound_receive(channel="email", kind="api", payload=b"\x89PNG scan", actor=intake_actor,
                                       content_type="image/png")
        draft = Draft.objects.create(message=msg, created_at=MONDAY_10, data={
            "customer": "C0217", "required_date": "2026-03-03",
            "lines": [{"sku": "BRK-PAD-F-2231", "qty": "150", "unit_price": "385"}]})
        done = services.draft_confirm(draft=draft, actor=company["actors"]["service"])
    for order in (quick.orders.get(), done.order):
        order.refresh_from_db()
        assert order.urgency == "red" and "triage:t1_urgent_large" in order.tags, order.channel
        assert services.triage(order=order)[0].usernames == ["planning_supervisor", "production_director"]
    assert AuditEvent.objects.filter(action="intake.triage_alert").count() == 2


def test_no_rule_matching_costs_no_alert_query(t1_fast, intake_actor, django_assert_num_queries):
    with clock.frozen(MONDAY_10):
        small = _webhook_order(intake_actor, "WX-T1-CHEAP", 20)
    order = small.orders.get()
    with django_assert_num_queries(1):  # the link lookup; no user query
        assert services.triage(order=order) == []

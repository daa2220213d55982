"""Messages: one thread per order between the customer's contacts and the order's rep; the
customer writes from the portal, the rep reads it in the in-app inbox and replies from the order
page, the reply reaches the contact's e-mail on a loopback SMTP server; everything audited,
text only, another customer's thread unreachable."""

from __future__ import annotations

import pytest
from django.test import Client

from orderhub.core.audit import AuditEvent
from orderhub.notify.models import Message as Outbox
from orderhub.notify.selectors import inbox
from orderhub.portal import events
from orderhub.portal.messages import MAX_LENGTH
from orderhub.portal.models import Message

from .conftest import mail_text, sign_in

pytestmark = pytest.mark.django_db


def login(role: str) -> Client:
    c = Client()
    assert c.login(username=role, password="pw-" + role)
    return c


@pytest.fixture
def thread_world(two_customers, mail_endpoint, company, django_capture_on_commit_callbacks):
    rep = company["users"]["sales"]
    for o in two_customers["orders"]["A"] + two_customers["orders"]["B"]:
        o.owner = rep
        o.save(update_fields=["owner"])
    customer = Client()
    sign_in(customer, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    return {**two_customers, "customer": customer, "rep": rep, "smtp": mail_endpoint}


def test_customer_writes_rep_reads_inbox_and_reply_reaches_customer_email(
        thread_world, django_capture_on_commit_callbacks):
    c, rep, smtp = thread_world["customer"], thread_world["rep"], thread_world["smtp"]
    a0 = thread_world["orders"]["A"][0]
    with django_capture_on_commit_callbacks(execute=True):
        resp = c.post(f"/portal/orders/{a0.number}/messages", {"body": "请问<b>能否</b>提前发货？"})
    assert resp.status_code == 302 and resp["Location"].endswith("#messages")
    msg = Message.objects.get(order=a0)
    assert (msg.side, msg.contact_id, msg.body) == ("customer", thread_world["contacts"]["A"].pk, "请问<b>能否</b>提前发货？")
    # the rep's in-app inbox has it
    got = [m for m in inbox(rep) if m.event == events.MESSAGE_NOTICE]
    assert got and "请问<b>能否</b>提前发货？" in got[0].body and a0.number in got[0].subject
    # the staff order page shows it escaped, and the rep replies from the card
    staff = login("sales")
    page = staff.get(f"/orders/{a0.number}/").content.decode()
    assert 'data-testid="messages-card"' in page and "请问&lt;b&gt;能否&lt;/b&gt;提前发货？" in page
    assert "<b>能否</b>" not in page
    before = len(smtp.messages)
    with django_capture_on_commit_callbacks(execute=True):
        resp = staff.post(f"/orders/{a0.number}/messages", {"body": "可以，周五发出。"})
    assert resp.status_code == 302
    rcpt, mail = smtp.wait_for(before + 1)[before]
    assert rcpt == ["buyer@a.example"] and "可以，周五发出。" in mail_text(mail)
    # the customer sees both, the staff name hidden behind 客服
    page = c.get(f"/portal/orders/{a0.number}/").content.decode()
    assert "可以，周五发出。" in page and "客服" in page and rep.username not in page.split("portal-messages")[1]
    api = c.get(f"/api/portal/me/orders/{a0.number}/messages").json()
    assert [m["side"] for m in api] == ["customer", "staff"] and api[1]["author"] == "客服"
    # every message audited
    acts = AuditEvent.objects.filter(subject_type="portal_message", action=events.MESSAGE_POSTED)
    assert sorted(e.data["side"] for e in acts) == ["customer", "staff"]


def test_api_both_sides_and_limits(thread_world, django_capture_on_commit_callbacks):
    c = thread_world["customer"]
    a1 = thread_world["orders"]["A"][1]
    url = f"/api/portal/me/orders/{a1.number}/messages"
    assert c.post(url, {"body": "x" * (MAX_LENGTH + 1)}, content_type="application/json").status_code == 422
    assert c.post(url, {"body": "   "}, content_type="application/json").status_code == 422
    assert c.post(url, {"body": "bad\x00"}, content_type="application/json").status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(url, {"body": "第一行\n第二行"}, content_type="application/json")
    assert r.status_code == 201 and r.json()["side"] == "customer"
    staff = login("sales")
    got = staff.get(f"/api/orders/{a1.number}/messages").json()
    assert [m["body"] for m in got] == ["第一行\n第二行"] and got[0]["author"] == "王采购"
    with django_capture_on_commit_callbacks(execute=True):
        r = staff.post(f"/api/orders/{a1.number}/messages", {"body": "收到"}, content_type="application/json")
    assert r.status_code == 201 and r.json()["side"] == "staff"
    assert Outbox.objects.filter(event=events.MESSAGE_NOTICE, channel="email", address="buyer@a.example").exists()
    # a staff session is no customer, a customer cookie is no staff
    assert staff.get(url).status_code == 401
    assert c.get(f"/api/orders/{a1.number}/messages").status_code in (401, 403)


def test_customer_cannot_reach_another_customers_thread(thread_world, django_capture_on_commit_callbacks):
    c = thread_world["customer"]
    b0 = thread_world["orders"]["B"][0]
    for resp in (c.post(f"/portal/orders/{b0.number}/messages", {"body": "探测"}),
                 c.post(f"/api/portal/me/orders/{b0.number}/messages", {"body": "探测"},
                        content_type="application/json"),
                 c.get(f"/api/portal/me/orders/{b0.number}/messages")):
        assert resp.status_code == 404
    assert not Message.objects.filter(order=b0).exists()

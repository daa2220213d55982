"""Customer sign-in by one-time code: sent through the notify outbox to a real SMTP receiver,
stored hashed, valid 10 minutes, used once, dead after 5 wrong tries, limited per contact and
per client address, the same answers for an address no contact has; customer and staff
sessions apart; log out everywhere."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from orderhub.core import clock
from orderhub.core.audit import AuditEvent
from orderhub.notify.models import Message
from orderhub.portal import events
from orderhub.portal.models import LoginCode
from orderhub.portal.sessions import COOKIE

from .conftest import CODE, mail_text, sign_in

pytestmark = pytest.mark.django_db


def test_code_by_email_end_to_end_and_stored_hashed(two_customers, mail_endpoint, django_capture_on_commit_callbacks):
    """One-time code request → e-mail received on the loopback SMTP server; p99 printed (the first,
    cold request, which pays the process's first SMTP connection and template loads, apart)."""
    c = Client()
    timings = []
    for _ in range(21):
        before = len(mail_endpoint.messages)
        t0 = time.perf_counter()
        with django_capture_on_commit_callbacks(execute=True):
            resp = c.post("/portal/login/", {"identifier": "Buyer@A.example"})
        mail_endpoint.wait_for(before + 1)
        timings.append(time.perf_counter() - t0)
        assert resp.status_code == 302
    cold, warm = timings[0], sorted(timings[1:])
    p99 = warm[-1]   # 20 samples: the 99th percentile is the largest
    print(f"code request → e-mail received: cold {cold * 1000:.0f} ms; then median "
          f"{statistics.median(warm) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert p99 < 2.0 and cold < 5.0
    rcpt, msg = mail_endpoint.messages[-1]
    assert rcpt == ["buyer@a.example"]
    code = CODE.search(mail_text(msg)).group(1)
    # only the last code lives; none is stored in clear
    rows = list(LoginCode.objects.all())
    assert len(rows) == 21 and sum(r.expires_at > clock.now() for r in rows) == 1
    assert all(code not in (r.code_hash + r.salt) for r in rows) and len(rows[0].code_hash) == 64
    resp = c.post("/portal/login/code/", {"code": code})
    assert resp.status_code == 302 and resp["Location"] == "/portal/"
    page = c.get("/portal/")
    assert page.status_code == 200 and "王采购" in page.content.decode()
    assert AuditEvent.objects.filter(action=events.SIGNED_IN).count() == 1
    # used once
    c2 = Client()
    c2.cookies[COOKIE] = ""
    c2.post("/portal/login/", {"identifier": "buyer@a.example"})
    assert c2.post("/portal/login/code/", {"code": code}).status_code == 403


def test_wrong_codes_lock_after_five_and_messages_say_so(two_customers, mail_endpoint, django_capture_on_commit_callbacks):
    c = Client()
    with django_capture_on_commit_callbacks(execute=True):
        c.post("/portal/login/", {"identifier": "buyer@a.example"})
    code = CODE.search(mail_text(mail_endpoint.wait_for(1)[0][1])).group(1)
    wrong = "000000" if code != "000000" else "111111"
    texts = []
    for _ in range(5):
        resp = c.post("/portal/login/code/", {"code": wrong})
        assert resp.status_code == 403
        texts.append(resp.content.decode())
    assert "还可以再试 4 次" in texts[0] and "还可以再试 1 次" in texts[3]
    assert "输错次数过多" in texts[4]
    resp = c.post("/portal/login/code/", {"code": code})   # the right code, too late
    assert resp.status_code == 403 and "输错次数过多" in resp.content.decode()
    assert COOKIE not in resp.cookies
    assert AuditEvent.objects.filter(action=events.CODE_LOCKED).count() == 1


def test_code_expires_after_ten_minutes(two_customers, mail_endpoint, django_capture_on_commit_callbacks):
    c = Client()
    with django_capture_on_commit_callbacks(execute=True):
        c.post("/portal/login/", {"identifier": "buyer@a.example"})
    code = CODE.search(mail_text(mail_endpoint.wait_for(1)[0][1])).group(1)
    with clock.frozen(clock.now() + timedelta(minutes=10, seconds=1)):
        resp = c.post("/portal/login/code/", {"code": code})
    assert resp.status_code == 403 and "已过期" in resp.content.decode()


def _same(resp, address: str) -> tuple[int, str]:
    """A page as two askers compare it: their address and the (per-client) CSRF token blanked."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", resp.content.decode())
    return resp.status_code, text.replace(address, "X")


def test_an_unknown_address_gets_the_same_answers(two_customers, mail_endpoint, django_capture_on_commit_callbacks):
    """No enumeration: asking for a code, and each wrong try, reads the same for an address no
    contact has; nothing is sent and nothing signs in."""
    known, ghost = Client(), Client()
    with django_capture_on_commit_callbacks(execute=True):
        r1 = known.post("/portal/login/", {"identifier": "buyer@a.example"})
        r2 = ghost.post("/portal/login/", {"identifier": "nobody@a.example"})
    assert (r1.status_code, r1["Location"]) == (r2.status_code, r2["Location"])
    p1, p2 = known.get(r1["Location"]), ghost.get(r2["Location"])
    assert _same(p1, "buyer@a.example") == _same(p2, "nobody@a.example")
    assert len(mail_endpoint.wait_for(2, timeout=1)) == 1
    for i in range(6):
        a = known.post("/portal/login/code/", {"code": "999999"})
        b = ghost.post("/portal/login/code/", {"code": "999999"})
        assert a.status_code == b.status_code == 403, i
        assert _same(a, "buyer@a.example") == _same(b, "nobody@a.example"), i
    assert Message.objects.filter(address="nobody@a.example").count() == 0


def test_rate_limits_per_contact_and_per_address(two_customers, mail_endpoint, settings,
                                                 django_capture_on_commit_callbacks):
    settings.ORDERHUB_RATE_LIMITS = {"portal_code_contact": "3/3600", "portal_code_ip": "5/3600",
                                     "portal_verify_ip": "4/600"}
    c = Client()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert c.post("/portal/login/", {"identifier": "buyer@a.example"}).status_code == 302
        resp = c.post("/portal/login/", {"identifier": "buyer@a.example"})
    assert resp.status_code == 429 and "操作太频繁" in resp.content.decode() and int(resp["Retry-After"]) > 0
    assert len(mail_endpoint.wait_for(3)) == 3 and LoginCode.objects.count() == 3
    # another address from the same client: one more, then the per-address limit
    assert c.post("/portal/login/", {"identifier": "boss@b.example"}).status_code == 302
    assert c.post("/portal/login/", {"identifier": "other@b.example"}).status_code == 429
    # codes typed: per client address, whatever the code
    c.post("/portal/login/", {"identifier": "x@b.example"})
    other = Client(REMOTE_ADDR="10.0.0.9")
    other.cookies = c.cookies
    for _ in range(4):
        assert other.post("/portal/login/code/", {"code": "123456"}).status_code == 403
    resp = other.post("/portal/login/code/", {"code": "123456"})
    assert resp.status_code == 429 and "操作太频繁" in resp.content.decode()
    # the API answers the same limits as JSON
    api = Client(REMOTE_ADDR="10.0.0.9")
    r = api.post("/api/portal/login/verify", {"identifier": "buyer@a.example", "code": "1"},
                 content_type="application/json")
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"


def test_customer_and_staff_sessions_are_apart(two_customers, mail_endpoint, django_capture_on_commit_callbacks):
    staff = Client()
    staff.force_login(get_user_model().objects.get(username="admin"))
    resp = staff.get("/portal/")
    assert resp.status_code == 302 and resp["Location"] == "/portal/login/"   # staff is no customer
    assert staff.get("/api/portal/me").status_code == 401
    customer = Client()
    sign_in(customer, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    assert "sessionid" not in customer.cookies
    for path in ("/", "/orders/", "/settings/customers/", f"/orders/{two_customers['orders']['A'][0].number}/"):
        resp = customer.get(path)
        assert resp.status_code == 302 and resp["Location"].startswith("/login/"), path
    assert customer.get("/api/orders").status_code == 401
    me = customer.get("/api/portal/me").json()
    assert me["customer"] == "C001" and me["name"] == "王采购"


def test_log_out_everywhere_ends_every_session(two_customers, mail_endpoint, django_capture_on_commit_callbacks):
    phone, laptop = Client(), Client()
    sign_in(phone, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    sign_in(laptop, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    assert phone.get("/portal/").status_code == laptop.get("/portal/").status_code == 200
    assert phone.post("/portal/logout-everywhere/").status_code == 302
    assert laptop.get("/portal/")["Location"] == "/portal/login/"
    assert laptop.get("/api/portal/me").status_code == 401
    # a contact switched off by staff is out at once too
    third = Client()
    sign_in(third, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    staff = Client()
    staff.force_login(get_user_model().objects.get(username="sales"))
    contact = two_customers["contacts"]["A"]
    assert staff.post(f"/settings/customers/C001/portal/{contact.pk}", {"action": "disable"}).status_code == 302
    assert third.get("/portal/")["Location"] == "/portal/login/"


def test_code_by_sms_through_the_provider(two_customers, settings, django_capture_on_commit_callbacks):
    """A mobile number gets its code by SMS (the generic HTTP provider on a loopback receiver)."""
    from orderhub.core.actors import Actor
    from orderhub.notify.policy import delivery_settings_save
    from orderhub.notify.services import endpoint_save
    from tests.notify.conftest import Receiver

    settings.ORDERHUB_RUN_JOBS_INLINE = True
    delivery_settings_save(allow_private_targets=True, actor=Actor.system("test"))
    rx = Receiver(answer={"code": 0})
    try:
        endpoint_save(code="sms", name="短信", kind="sms", actor=Actor.system("test"), config={
            "url": f"{rx.url}/sms", "format": "form", "ok_field": "code", "ok_value": "0",
            "params": {"to": "{{ mobile }}", "text": "{{ text }}"}})
        c = Client()
        with django_capture_on_commit_callbacks(execute=True):
            assert c.post("/portal/login/", {"identifier": "138 0000 0001"}).status_code == 302
        body = rx.wait_for(1)[0]["body"].decode()
        from urllib.parse import parse_qs

        sent = parse_qs(body)
        assert sent["to"] == ["13800000001"]
        code = CODE.search(sent["text"][0]).group(1)
        assert c.post("/portal/login/code/", {"code": code}).status_code == 302
    finally:
        rx.close()


def test_no_channel_says_so_and_demo_mode_shows_the_code(two_customers, settings):
    c = Client()
    resp = c.post("/portal/login/", {"identifier": "buyer@a.example"})
    assert resp.status_code == 503 and "暂时无法发送邮件验证码" in resp.content.decode()
    settings.ORDERHUB_PORTAL_SHOW_CODES = True
    resp = c.post("/portal/login/", {"identifier": "buyer@a.example"}, follow=True)
    page = resp.content.decode()
    assert "演示模式" in page
    import re

    code = re.search(r"<strong>(\d{6})</strong>", page).group(1)
    assert c.post("/portal/login/code/", {"code": code}).status_code == 302


def test_sign_in_through_the_api(two_customers, mail_endpoint, django_capture_on_commit_callbacks):
    c = Client()
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post("/api/portal/login/code", {"identifier": "boss@b.example"}, content_type="application/json")
    assert r.status_code == 200 and "如果该邮箱或手机号已登记" in r.json()["message"]
    code = CODE.search(mail_text(mail_endpoint.wait_for(1)[0][1])).group(1)
    bad = c.post("/api/portal/login/verify", {"identifier": "boss@b.example", "code": "000000" if code != "000000" else "1"},
                 content_type="application/json")
    assert bad.status_code == 403 and bad.json()["code"] == "code_wrong" and bad.json()["message"].startswith("验证码不正确")
    r = c.post("/api/portal/login/verify", {"identifier": "boss@b.example", "code": code}, content_type="application/json")
    assert r.status_code == 200 and r.json() == {"name": "李经理", "customer": "C002", "customer_name": "宁波海顺五金"}
    assert COOKIE in r.cookies and r.cookies[COOKIE]["httponly"]
    orders = c.get("/api/portal/me/orders").json()
    assert {o["number"] for o in orders["results"]} == {o.number for o in two_customers["orders"]["B"]}
    assert c.post("/api/portal/me/logout-everywhere").status_code == 204
    assert c.get("/api/portal/me").status_code == 401

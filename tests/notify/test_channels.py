"""Every channel against a real receiver on loopback: DingTalk (signed markdown, actionCard),
WeCom markdown, signed webhooks, SMS through the generic HTTP provider, e-mail over SMTP
(aiosmtpd); retries with backoff, dead letters, re-send, quiet hours."""

import base64
import hashlib
import hmac
import json
import urllib.parse
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from orderhub.core import clock
from orderhub.core.errors import PermissionDenied, ValidationFailed
from orderhub.notify.delivery import deliver_due
from orderhub.notify.models import DeliveryAttempt, Message
from orderhub.notify.services import Recipient, endpoint_save, message_resend, notify, template_save

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def _send(django_capture_on_commit_callbacks, **kw):
    """notify() and commit: the after-commit wake delivers inline (ORDERHUB_RUN_JOBS_INLINE)."""
    kw.setdefault("context", {"message": "物料短缺：6061铝棒", "title": "物料提醒"})
    kw.setdefault("event", "rule.notify")
    with django_capture_on_commit_callbacks(execute=True):
        n = notify(**kw)
    return n


def test_dingtalk_markdown_is_signed_with_the_secret(company, receiver, inline_jobs, admin_actor,
                                                     django_capture_on_commit_callbacks):
    secret = "SEC0123456789abcdef"
    endpoint_save(code="ding-prod", name="生产群", kind="dingtalk", actor=admin_actor,
                  config={"url": f"{receiver.url}/robot/send?access_token=tok", "secret": secret})
    assert _send(django_capture_on_commit_callbacks, recipients=[Recipient.webhook("ding-prod")],
                 dedupe_key="d1") == 1
    req = receiver.wait_for(1)[0]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(req["path"]).query)
    assert query["access_token"] == ["tok"]
    ts = query["timestamp"][0]
    # the signature as DingTalk checks it, computed here independently
    expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected]
    assert abs(int(ts) / 1000 - datetime.now().timestamp()) < 60
    body = receiver.json(0)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"].startswith("物料提醒")
    assert "物料短缺：6061铝棒" in body["markdown"]["text"]
    m = Message.objects.get()
    assert m.status == "delivered" and m.attempts == 1 and m.delivered_at is not None
    assert req["headers"]["X-OrderHub-Dedupe-Key"] == m.dedupe_key


def test_dingtalk_action_card_and_a_refusing_robot(company, receiver, inline_jobs, admin_actor,
                                                   django_capture_on_commit_callbacks):
    endpoint_save(code="ding-card", name="群", kind="dingtalk", actor=admin_actor,
                  config={"url": f"{receiver.url}/robot/send?access_token=t", "msgtype": "actionCard"})
    _send(django_capture_on_commit_callbacks, recipients=[Recipient.webhook("ding-card")], dedupe_key="c1")
    receiver.wait_for(1)
    card = receiver.json(0)
    assert card["msgtype"] == "actionCard"
    assert card["actionCard"]["singleTitle"] == "查看订单"
    assert card["actionCard"]["singleURL"].startswith("http")
    assert "sign=" not in receiver.requests[0]["path"]   # no secret, no signature
    # DingTalk answers 200 with an errcode when it refuses (e.g. keyword or signature mismatch)
    receiver.answer = {"errcode": 310000, "errmsg": "sign not match"}
    _send(django_capture_on_commit_callbacks, recipients=[Recipient.webhook("ding-card")], dedupe_key="c2")
    m = Message.objects.get(dedupe_key__startswith="c2|")
    assert m.status == "failed" and "310000" in m.last_error


def test_dingtalk_card_links_to_the_order_page_by_its_number(company, receiver, inline_jobs, admin_actor,
                                                             django_capture_on_commit_callbacks, settings):
    from django.test import Client

    from orderhub.orders.services import order_create
    from tests.conftest import order_input
    settings.ORDERHUB_BASE_URL = "https://oh.example.cn"
    order = order_create(data=order_input(), actor=company["actors"]["service"]).order
    endpoint_save(code="ding-card", name="群", kind="dingtalk", actor=admin_actor,
                  config={"url": f"{receiver.url}/robot/send?access_token=t", "msgtype": "actionCard"})
    _send(django_capture_on_commit_callbacks, recipients=[Recipient.webhook("ding-card")], dedupe_key="o1",
          order=order)
    receiver.wait_for(1)
    url = receiver.json(0)["actionCard"]["singleURL"]
    assert url == f"https://oh.example.cn/orders/{order.number}/"
    c = Client()
    assert c.login(username="planner", password="pw-planner")
    assert c.get(url.removeprefix("https://oh.example.cn")).status_code == 200


def test_wecom_markdown(company, receiver, inline_jobs, admin_actor, django_capture_on_commit_callbacks):
    endpoint_save(code="wecom-ops", name="运营群", kind="wecom", actor=admin_actor, roles=["planner"],
                  config={"url": f"{receiver.url}/cgi-bin/webhook/send?key=K"})
    # a role reaches the group robots bound to it (besides its users' personal channels)
    _send(django_capture_on_commit_callbacks, recipients=[Recipient.role("planner")], dedupe_key="w1",
          channels=["wecom"])
    receiver.wait_for(1)
    body = receiver.json(0)
    assert receiver.requests[0]["path"] == "/cgi-bin/webhook/send?key=K"
    assert body == {"msgtype": "markdown", "markdown": {"content": body["markdown"]["content"]}}
    assert "物料短缺" in body["markdown"]["content"]


def test_webhook_is_signed_hmac_sha256(company, receiver, inline_jobs, admin_actor,
                                       django_capture_on_commit_callbacks):
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin_actor,
                  config={"url": f"{receiver.url}/hooks/orderhub", "secret": "s3cret",
                          "headers": {"X-Tenant": "acme"}})
    _send(django_capture_on_commit_callbacks, recipients=[Recipient.webhook("erp")], dedupe_key="h1",
          severity="red")
    req = receiver.wait_for(1)[0]
    h = req["headers"]
    mac = hmac.new(b"s3cret", h["X-OrderHub-Timestamp"].encode() + b"." + req["body"], hashlib.sha256)
    assert h["X-OrderHub-Signature"] == "sha256=" + mac.hexdigest()
    assert h["X-Tenant"] == "acme"
    data = json.loads(req["body"])
    assert data["dedupe_key"] == h["X-OrderHub-Dedupe-Key"] == Message.objects.get().dedupe_key
    assert data["severity"] == "red" and data["event"] == "rule.notify"
    # a tampered body does not verify
    bad = hmac.new(b"s3cret", h["X-OrderHub-Timestamp"].encode() + b"." + req["body"] + b" ", hashlib.sha256)
    assert h["X-OrderHub-Signature"] != "sha256=" + bad.hexdigest()


def test_sms_generic_http_provider(company, receiver, inline_jobs, admin_actor,
                                   django_capture_on_commit_callbacks):
    from orderhub.notify.services import profile_save

    planner = company["users"]["planner"]
    profile_save(user_id=planner.pk, actor=admin_actor, mobile="13800000001", channels=["sms"])
    endpoint_save(code="sms", name="短信", kind="sms", actor=admin_actor, config={
        "url": f"{receiver.url}/sms", "format": "form", "ok_field": "code", "ok_value": "0",
        "params": {"phone": "{{ mobile }}", "content": "【订单中枢】{{ text }}"}})
    receiver.answer = {"code": 0}
    _send(django_capture_on_commit_callbacks, recipients=[Recipient.user(planner.pk)], dedupe_key="s1")
    req = receiver.wait_for(1)[0]
    form = urllib.parse.parse_qs(req["body"].decode())
    assert form["phone"] == ["13800000001"]
    assert form["content"][0].startswith("【订单中枢】") and "物料短缺" in form["content"][0]
    assert Message.objects.get().status == "delivered"
    receiver.answer = {"code": 17, "msg": "余额不足"}
    _send(django_capture_on_commit_callbacks, recipients=[Recipient.user(planner.pk)], dedupe_key="s2")
    assert Message.objects.get(dedupe_key__startswith="s2|").status == "failed"


def test_email_over_smtp(company, smtp, inline_jobs, admin_actor, django_capture_on_commit_callbacks):
    planner = company["users"]["planner"]
    planner.email = "planner@factory.example"
    planner.save()
    endpoint_save(code="smtp", name="邮件", kind="email", actor=admin_actor,
                  config={"host": "127.0.0.1", "port": smtp.port, "from_email": "hub@factory.example"})
    _send(django_capture_on_commit_callbacks, recipients=[Recipient.role("planner")], dedupe_key="e1",
          channels=["email"])
    rcpt, mail = smtp.wait_for(1)[0]
    assert rcpt == ["planner@factory.example"]
    assert mail["From"] == "hub@factory.example"
    m = Message.objects.get()
    assert mail["X-OrderHub-Dedupe-Key"] == m.dedupe_key
    from email.header import decode_header, make_header

    assert str(make_header(decode_header(mail["Subject"]))).startswith("物料提醒")
    assert "物料短缺" in mail.get_payload(decode=True).decode(mail.get_content_charset() or "utf-8")
    assert m.status == "delivered"


def test_backoff_dead_letter_and_resend(company, receiver, inline_jobs, admin_actor, settings,
                                        django_capture_on_commit_callbacks):
    settings.ORDERHUB_NOTIFY_MAX_ATTEMPTS = 3
    settings.ORDERHUB_NOTIFY_RETRY_SECONDS = 30
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin_actor,
                  config={"url": f"{receiver.url}/h", "secret": "k"})
    receiver.status = 503
    start = datetime(2026, 11, 23, 10, 0, tzinfo=SH)
    with clock.frozen(start):
        _send(django_capture_on_commit_callbacks, recipients=[Recipient.webhook("erp")], dedupe_key="b1")
    m = Message.objects.get()
    assert (m.status, m.attempts) == ("failed", 1)
    assert "503" in m.last_error
    assert m.next_attempt_at == DeliveryAttempt.objects.get().finished_at + timedelta(seconds=30)
    with clock.frozen(start + timedelta(seconds=20)):
        assert deliver_due() == 0            # not due yet: nothing is tried
    assert DeliveryAttempt.objects.count() == 1
    with clock.frozen(start + timedelta(seconds=31)):
        deliver_due()
    m.refresh_from_db()
    assert (m.status, m.attempts) == ("failed", 2)
    first, second = DeliveryAttempt.objects.order_by("number")
    assert m.next_attempt_at == second.finished_at + timedelta(seconds=60)   # doubled
    with clock.frozen(start + timedelta(seconds=100)):
        deliver_due()
    m.refresh_from_db()
    assert (m.status, m.attempts) == ("dead", 3)
    with clock.frozen(start + timedelta(days=1)):
        assert deliver_due() == 0            # a dead letter is not retried by itself
    with pytest.raises(PermissionDenied):
        message_resend(message=m.pk, actor=company["actors"]["sales"])
    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        message_resend(message=m.pk, actor=admin_actor)
    m.refresh_from_db()
    assert m.status == "delivered"
    assert list(DeliveryAttempt.objects.order_by("id").values_list("ok", flat=True)) == [False] * 3 + [True]
    assert len(receiver.requests) == 4
    with pytest.raises(ValidationFailed):
        message_resend(message=m.pk, actor=admin_actor)   # delivered: nothing to re-send


def test_quiet_hours_hold_messages_except_red(company, receiver, inline_jobs, admin_actor,
                                              django_capture_on_commit_callbacks):
    endpoint_save(code="ding", name="群", kind="dingtalk", actor=admin_actor,
                  quiet_start=time(22, 0), quiet_end=time(7, 30),
                  config={"url": f"{receiver.url}/robot/send?access_token=t"})
    night = datetime(2026, 11, 23, 23, 15, tzinfo=SH)
    with clock.frozen(night):
        _send(django_capture_on_commit_callbacks, recipients=[Recipient.webhook("ding")], dedupe_key="q-info")
        _send(django_capture_on_commit_callbacks, recipients=[Recipient.webhook("ding")], dedupe_key="q-red",
              severity="red")
    info = Message.objects.get(dedupe_key__startswith="q-info")
    red = Message.objects.get(dedupe_key__startswith="q-red")
    assert red.status == "delivered"
    assert info.status == "queued"
    assert info.next_attempt_at == datetime(2026, 11, 24, 7, 30, tzinfo=SH)
    with clock.frozen(datetime(2026, 11, 24, 7, 29, tzinfo=SH)):
        assert deliver_due() == 0
    with clock.frozen(datetime(2026, 11, 24, 7, 30, tzinfo=SH)):
        assert deliver_due() == 1
    assert len(receiver.requests) == 2
    # outside the quiet hours an info message goes at once
    with clock.frozen(datetime(2026, 11, 24, 12, 0, tzinfo=SH)):
        _send(django_capture_on_commit_callbacks, recipients=[Recipient.webhook("ding")], dedupe_key="q-day")
    assert Message.objects.get(dedupe_key__startswith="q-day").status == "delivered"


@pytest.mark.smoke
def test_configuration_is_validated_naming_the_fault(company, admin_actor):
    with pytest.raises(ValidationFailed) as e:
        endpoint_save(code="d", name="d", kind="dingtalk", actor=admin_actor, config={})
    assert e.value.problems[0].field == "config.url"
    with pytest.raises(ValidationFailed) as e:
        endpoint_save(code="d", name="d", kind="dingtalk", actor=admin_actor,
                      config={"url": "ftp://x/y"})
    assert "ftp://x/y" in e.value.message
    with pytest.raises(ValidationFailed) as e:
        endpoint_save(code="w", name="w", kind="webhook", actor=admin_actor, config={"url": "http://h/x"})
    assert e.value.problems[0].field == "config.secret"
    with pytest.raises(ValidationFailed) as e:
        endpoint_save(code="w", name="w", kind="wecom", actor=admin_actor,
                      config={"url": "http://h/x", "secrte": "typo"})
    assert e.value.problems[0].field == "config.secrte"
    with pytest.raises(ValidationFailed) as e:
        endpoint_save(code="s", name="s", kind="sms", actor=admin_actor,
                      config={"url": "http://h/x", "params": {"text": "{% if %}"}})
    assert e.value.problems[0].field == "config.params.text"
    with pytest.raises(PermissionDenied):
        endpoint_save(code="d", name="d", kind="wecom", actor=company["actors"]["sales"],
                      config={"url": "http://h/x"})
    with pytest.raises(ValidationFailed) as e:
        template_save(event="order.created", channel="", subject="新订单", actor=admin_actor,
                      body="{% if order.number %}订单 {{ order.number }}")
    assert e.value.problems[0].field == "body"
    assert "endif" in e.value.message       # Django's own message names the missing tag
    with pytest.raises(ValidationFailed) as e:
        template_save(event="order.created", channel="", subject="{{ order.number|nosuchfilter }}",
                      body="x", actor=admin_actor)
    assert e.value.problems[0].field == "subject" and "nosuchfilter" in e.value.message
    t = template_save(event="order.created", channel="wecom", subject="", body="新单 {{ order.number }}",
                      actor=admin_actor)
    assert t.pk and t.updated_by == "admin"


def test_group_robots_mention_the_roles_people(company, receiver, inline_jobs, admin_actor,
                                               django_capture_on_commit_callbacks):
    from orderhub.notify.services import profile_save

    planner = company["users"]["planner"]
    profile_save(user_id=planner.pk, actor=admin_actor, mobile="13900000003", dingtalk_id="ding-u1",
                 wecom_id="zhangsan")
    endpoint_save(code="ding", name="计划群", kind="dingtalk", actor=admin_actor, roles=["planner"],
                  config={"url": f"{receiver.url}/robot/send?access_token=t"})
    endpoint_save(code="wx", name="计划群", kind="wecom", actor=admin_actor, roles=["planner"],
                  config={"url": f"{receiver.url}/cgi-bin/webhook/send?key=K"})
    _send(django_capture_on_commit_callbacks, recipients=[Recipient.role("planner")], dedupe_key="at",
          channels=["dingtalk", "wecom"])
    receiver.wait_for(2)
    bodies = {receiver.json(i)["msgtype"] + ("-wx" if "key=K" in receiver.requests[i]["path"] else ""): receiver.json(i)
              for i in range(2)}
    ding = bodies["markdown"]
    assert ding["at"]["atMobiles"] == ["13900000003"] and ding["at"]["atUserIds"] == ["ding-u1"]
    assert "@13900000003" in ding["markdown"]["text"]     # DingTalk needs the @ in the text too
    assert "<@zhangsan>" in bodies["markdown-wx"]["markdown"]["content"]

"""Notification pages through Django's test client: the in-app inbox with its nav badge and
mark-read, dead letters with re-send, endpoint and template editing, the order page history."""

import pytest
from django.test import Client

from orderhub.notify.delivery import deliver_due
from orderhub.notify.models import Endpoint, Message, MessageTemplate
from orderhub.notify.services import Recipient, endpoint_save, notify
from orderhub.orders.services import order_create
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def login(role: str) -> Client:
    c = Client()
    assert c.login(username=role, password="pw-" + role)
    return c


@pytest.mark.smoke
def test_inbox_badge_and_mark_read(company, inline_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
        notify(event="rule.notify", recipients=[Recipient.role("service")], channels=["inapp"],
               context={"message": "请确认交期", "title": "交期确认"}, order=order, dedupe_key="p1")
    c = login("service")
    home = c.get("/").content.decode()
    assert 'data-testid="unread-badge"' in home
    assert '>2</span>' in home.split('data-testid="unread-badge"')[1][:400]   # order.created + rule
    page = c.get("/notifications/").content.decode()
    assert "交期确认" in page and order.number in page and "请确认交期" in page
    assert "标为已读" in page and "2 条未读" in page      # the notify catalog (zh-hans, the default)
    one = Message.objects.get(dedupe_key__startswith="p1|")
    r = c.post("/notifications/read", {"id": one.pk}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and r["HX-Trigger"] == "notify-read"
    assert 'data-testid="mark-read"' not in r.content.decode()
    one.refresh_from_db()
    assert one.read_at is not None
    assert c.get("/notifications/badge").content.decode().count(">1</span>") == 1
    # nobody else can mark another person's message
    other = login("planner")
    other.post("/notifications/read", {"id": Message.objects.filter(read_at__isnull=True).get().pk})
    assert Message.objects.filter(read_at__isnull=True).count() == 1
    c.post("/notifications/read")
    assert Message.objects.filter(read_at__isnull=True).count() == 0
    assert 'd-none' in c.get("/notifications/badge").content.decode()


def test_dead_letters_page_resends(company, receiver, inline_jobs, settings,
                                   django_capture_on_commit_callbacks):
    settings.ORDERHUB_NOTIFY_MAX_ATTEMPTS = 1
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=company["actors"]["admin"],
                  config={"url": f"{receiver.url}/h", "secret": "k"})
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        notify(event="rule.notify", recipients=[Recipient.webhook("erp")],
               context={"message": "x", "title": "物料短缺：6061铝棒"}, dedupe_key="dead1")
    m = Message.objects.get()
    assert m.status == "dead"
    assert login("sales").get("/notifications/dead/").status_code == 403
    c = login("admin")
    page = c.get("/notifications/dead/").content.decode()
    assert f'data-testid="resend-{m.pk}"' in page and "HTTP 500" in page
    # which message it was: its subject, and the event in words, not its code
    shown = page[page.index('data-testid="dead-subject"'):]
    assert "物料短缺：6061铝棒" in shown and "rule.notify" not in page
    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(f"/notifications/dead/{m.pk}/resend")
    assert r.status_code == 302
    m.refresh_from_db()
    assert m.status == "delivered" and len(receiver.requests) == 2
    assert 'data-testid="resend-' not in c.get("/notifications/dead/").content.decode()


def test_endpoint_and_template_editing_names_the_fault(company):
    c = login("admin")
    assert c.get("/settings/notify/").status_code == 200
    r = c.post("/settings/notify/endpoints/new/", {"code": "ding", "name": "生产群", "kind": "dingtalk",
                                                   "config": '{"url": "not a url"}', "timeout_seconds": "5",
                                                   "is_active": "1"})
    assert r.status_code == 400
    assert "not a url" in r.content.decode()
    r = c.post("/settings/notify/endpoints/new/", {"code": "ding", "name": "生产群", "kind": "dingtalk",
                                                   "config": '{"url": "http://127.0.0.1:9/robot"',
                                                   "timeout_seconds": "5"})
    assert r.status_code == 400 and "JSON" in r.content.decode()
    # a loopback target is refused by name while private targets are not allowed (test_ssrf.py)
    r = c.post("/settings/notify/endpoints/new/", {
        "code": "ding", "name": "生产群", "kind": "dingtalk", "roles": ["production"],
        "config": '{"url": "http://127.0.0.1:9/robot", "secret": "SECx"}', "timeout_seconds": "3",
        "quiet_start": "22:00", "quiet_end": "07:00", "is_active": "1"})
    assert r.status_code == 400 and "127.0.0.1" in r.content.decode()
    r = c.post("/settings/notify/endpoints/new/", {
        "code": "ding", "name": "生产群", "kind": "dingtalk", "roles": ["production"],
        "config": '{"url": "http://93.184.216.34:9/robot?access_token=t", "secret": "SECx"}',
        "timeout_seconds": "3", "quiet_start": "22:00", "quiet_end": "07:00", "is_active": "1"})
    assert r.status_code == 302
    ep = Endpoint.objects.get(code="ding")
    assert ep.roles == ["production"] and ep.quiet_end.hour == 7
    assert ep.full_config()["secret"] == "SECx" and "secret" not in ep.config   # encrypted apart
    r = c.post("/settings/notify/templates/order.created/all/", {"subject": "新单", "body": "{% for x in %}"})
    assert r.status_code == 400 and "is-invalid" in r.content.decode()
    r = c.post("/settings/notify/templates/order.created/wecom/",
               {"subject": "", "body": "新单 {{ order.number }} 请处理"})
    assert r.status_code == 302
    assert MessageTemplate.objects.get(event="order.created", channel="wecom").body.startswith("新单")
    assert login("sales").get("/settings/notify/").status_code == 403


def test_order_page_shows_the_delivery_history(company, receiver, inline_jobs, settings,
                                               django_capture_on_commit_callbacks):
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=company["actors"]["admin"],
                  config={"url": f"{receiver.url}/h", "secret": "k"})
    receiver.status = 502
    with django_capture_on_commit_callbacks(execute=True):
        order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
        notify(event="rule.notify", recipients=[Recipient.webhook("erp")], context={"message": "x"},
               order=order, dedupe_key="hist")
    deliver_due()
    page = login("service").get(f"/orders/{order.number}/").content.decode()
    section = page.split('data-testid="deliveries"')[1]
    assert 'data-status="delivered"' in section                 # the in-app message to customer service
    assert 'data-status="failed"' in section and "HTTP 502" in section


def test_my_notification_settings(company):
    c = login("planner")
    assert c.get("/notifications/me/").status_code == 200
    r = c.post("/notifications/me/", {"mobile": "abc", "channels": ["sms"]})
    assert r.status_code == 400 and "is-invalid" in r.content.decode()
    r = c.post("/notifications/me/", {"mobile": "13800000002", "channels": ["inapp", "sms"],
                                      "quiet_start": "22:00", "quiet_end": "07:00"})
    assert r.status_code == 302
    from orderhub.notify.models import ContactProfile

    p = ContactProfile.objects.get(user=company["users"]["planner"])
    assert (p.mobile, p.channels, p.quiet_start.hour) == ("13800000002", ["inapp", "sms"], 22)
    r = c.post("/notifications/me/", {"quiet_start": "22:00"})
    assert r.status_code == 400

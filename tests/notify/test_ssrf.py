"""No server-side request forgery: endpoint URLs and SMTP hosts on loopback, private, link-local,
multicast or unspecified addresses are refused on save (422 naming the field, in Chinese) and at
delivery (resolved once, the checked address connected to, so DNS rebinding cannot slip
through; redirects not followed), unless an administrator allows private targets (audited)."""

import socket
import time

import pytest
from django.test import Client
from django.utils import translation

from orderhub.core.actors import Actor
from orderhub.core.errors import ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.notify import netguard
from orderhub.notify.models import Message
from orderhub.notify.policy import allow_private_targets, delivery_settings_save
from orderhub.notify.services import Recipient, endpoint_save, notify

from .conftest import Receiver

pytestmark = pytest.mark.django_db

REFUSED = {"127.0.0.1": "loopback", "127.8.9.10": "loopback", "::1": "loopback",
           "::ffff:127.0.0.1": "loopback", "10.1.2.3": "private", "172.16.0.1": "private",
           "172.31.255.254": "private", "192.168.1.1": "private", "fc00::1": "private",
           "fd12:3456::1": "private", "::ffff:10.0.0.1": "private", "169.254.169.254": "link-local",
           "fe80::1": "link-local", "224.0.0.1": "multicast", "ff02::1": "multicast",
           "0.0.0.0": "unspecified", "::": "unspecified", "100.64.0.1": "reserved"}
ALLOWED = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"]


@pytest.mark.smoke
@pytest.mark.parametrize(("address", "reason"), sorted(REFUSED.items()))
def test_private_addresses_are_named(address, reason):
    assert netguard.forbidden_reason(address) == reason


@pytest.mark.smoke
@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address):
    assert netguard.forbidden_reason(address) is None


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


CONFIGS = {
    "webhook": lambda h: {"url": f"http://{h}:8080/hook", "secret": "k"},
    "dingtalk": lambda h: {"url": f"https://{h}/robot/send?access_token=t"},
    "wecom": lambda h: {"url": f"https://{h}/cgi-bin/webhook/send?key=k"},
    "sms": lambda h: {"url": f"http://{h}/sms"},
    "email": lambda h: {"host": h, "port": 25},
}


@pytest.mark.parametrize("kind", sorted(CONFIGS))
@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.8", "169.254.169.254", "::1", "localhost"])
def test_every_kind_refuses_private_targets_on_save(company, admin_actor, kind, address):
    with translation.override("zh-hans"), pytest.raises(ValidationFailed) as e:
        endpoint_save(code="x", name="x", kind=kind, actor=admin_actor,
                      config=CONFIGS[kind](address if kind == "email" else _host(address)))
    field = "config.host" if kind == "email" else "config.url"
    assert e.value.problems[0].field == field
    assert "内网目标" in e.value.message and field in e.value.message


def test_public_targets_save_and_the_setting_lets_private_ones_through(company, admin_actor):
    for kind, cfg in CONFIGS.items():
        endpoint_save(code=f"pub-{kind}", name="x", kind=kind, actor=admin_actor, config=cfg("93.184.216.34"))
    assert not allow_private_targets()
    delivery_settings_save(allow_private_targets=True, actor=admin_actor)
    assert allow_private_targets()
    endpoint_save(code="lan", name="内网网关", kind="wecom", actor=admin_actor,
                  config=CONFIGS["wecom"]("10.0.0.8"))
    ev = AuditEvent.objects.get(subject_type="notify_settings", action="notify.settings_saved")
    before, after = ev.changes["allow_private_targets"]
    assert before in (None, False) and after is True and ev.actor_label == "admin"   # (the row may be new)
    with pytest.raises(Exception) as e:
        delivery_settings_save(allow_private_targets=False, actor=company["actors"]["sales"])
    assert getattr(e.value, "status", None) == 403


def test_the_api_refuses_with_422_naming_the_field_and_edits_the_setting(company, api_as):
    admin = api_as("admin")
    r = admin.put("/api/notify/endpoints/meta", {"name": "x", "kind": "webhook", "config": {
        "url": "http://169.254.169.254/latest/meta-data/", "secret": "k"}})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "config.url" and "169.254.169.254" in r.json()["message"]
    assert "内网目标" in r.json()["message"]
    assert admin.get("/api/notify/settings").json()["allow_private_targets"] is False
    r = admin.put("/api/notify/settings", {"allow_private_targets": True})
    assert r.status_code == 200 and r.json()["allow_private_targets"] is True
    assert admin.put("/api/notify/endpoints/meta", {"name": "x", "kind": "webhook", "config": {
        "url": "http://10.1.2.3/hook", "secret": "k"}}).status_code == 200
    assert api_as("sales").put("/api/notify/settings", {"allow_private_targets": False}).status_code == 403
    assert api_as("sales").get("/api/notify/settings").status_code == 403
    assert admin.put("/api/notify/settings", {"allow_private_targets": "yes", "x": 1}).status_code == 422


def test_the_settings_page_switches_private_targets(company):
    c = Client()
    assert c.login(username="admin", password="pw-admin")
    page = c.get("/settings/notify/").content.decode()
    assert 'data-testid="delivery-settings"' in page and "允许端点使用内网地址" in page
    assert c.post("/settings/notify/", {"allow_private_targets": "1"}).status_code == 302
    assert allow_private_targets()
    assert 'name="allow_private_targets" value="1" checked' in c.get("/settings/notify/").content.decode()
    assert c.post("/settings/notify/", {}).status_code == 302
    assert not allow_private_targets()
    s = Client()
    assert s.login(username="sales", password="pw-sales")
    assert s.post("/settings/notify/", {"allow_private_targets": "1"}).status_code == 403
    assert not allow_private_targets()


def _queue(django_capture_on_commit_callbacks, key: str, code: str = "erp"):
    with django_capture_on_commit_callbacks(execute=True):
        notify(event="rule.notify", recipients=[Recipient.webhook(code)], context={"message": "x"},
               dedupe_key=key)
    return Message.objects.get(dedupe_key__startswith=f"{key}|")


def test_delivery_refuses_a_private_target_once_the_setting_is_off(
        company, receiver, inline_jobs, admin_actor, django_capture_on_commit_callbacks):
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin_actor,
                  config={"url": f"{receiver.url}/h", "secret": "k"})        # saved while allowed
    delivery_settings_save(allow_private_targets=False, actor=admin_actor)
    with translation.override("zh-hans"):
        m = _queue(django_capture_on_commit_callbacks, "off")
    assert m.status == "failed" and "127.0.0.1" in m.last_error and "内网目标" in m.last_error
    time.sleep(0.2)
    assert receiver.requests == []


def test_dns_rebinding_is_refused_at_delivery(company, receiver, inline_jobs, admin_actor, monkeypatch,
                                              django_capture_on_commit_callbacks):
    """The name resolves to a public address on save, to loopback at delivery: refused, nothing
    sent. (The resolver stands in for DNS, which this machine does not have.)"""
    answers = {"rebind.example": "93.184.216.34"}
    calls = []

    def resolver(host, port, *args, **kwargs):
        calls.append(host)
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return socket.getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(netguard, "getaddrinfo", resolver)
    delivery_settings_save(allow_private_targets=False, actor=admin_actor)
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin_actor,
                  config={"url": f"http://rebind.example:{receiver.port}/h", "secret": "k"})
    answers["rebind.example"] = "127.0.0.1"          # the attacker's DNS now points home
    m = _queue(django_capture_on_commit_callbacks, "rebind")
    assert m.status == "failed" and "127.0.0.1" in m.last_error
    time.sleep(0.2)
    assert receiver.requests == []


def test_delivery_connects_to_the_address_it_checked(company, receiver, inline_jobs, admin_actor, monkeypatch,
                                                     django_capture_on_commit_callbacks):
    """One resolution per request, and the connection goes to that answer (this machine has no
    DNS: a second lookup by the system resolver would fail)."""
    calls = []

    def resolver(host, port, *args, **kwargs):
        calls.append(host)
        assert host == "hooks.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(netguard, "getaddrinfo", resolver)
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin_actor,
                  config={"url": f"http://hooks.example:{receiver.port}/h", "secret": "k"})
    calls.clear()
    m = _queue(django_capture_on_commit_callbacks, "pinned")
    assert m.status == "delivered", m.last_error
    req = receiver.wait_for(1)[0]
    assert req["headers"]["Host"] == f"hooks.example:{receiver.port}"   # the name, sent to the checked address
    assert calls == ["hooks.example"]


def test_redirects_are_not_followed(company, receiver, inline_jobs, admin_actor,
                                    django_capture_on_commit_callbacks):
    inner = Receiver()
    try:
        endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin_actor,
                      config={"url": f"{receiver.url}/h", "secret": "k"})
        receiver.status = 302
        receiver.extra_headers = {"Location": f"{inner.url}/internal-admin?token=x"}
        m = _queue(django_capture_on_commit_callbacks, "redirect")
        assert m.status == "failed" and "302" in m.last_error
        assert "token=x" not in m.last_error             # the target named by host and path only
        time.sleep(0.2)
        assert inner.requests == [] and len(receiver.requests) == 1
    finally:
        inner.close()


def test_smtp_is_guarded_at_delivery(company, smtp, inline_jobs, admin_actor,
                                     django_capture_on_commit_callbacks):
    planner = company["users"]["planner"]
    planner.email = "planner@factory.example"
    planner.save()
    endpoint_save(code="smtp", name="邮件", kind="email", actor=admin_actor,
                  config={"host": "127.0.0.1", "port": smtp.port})
    delivery_settings_save(allow_private_targets=False, actor=Actor.system("test"))
    with django_capture_on_commit_callbacks(execute=True):
        notify(event="rule.notify", recipients=[Recipient.role("planner")], context={"message": "x"},
               dedupe_key="mail", channels=["email"])
    m = Message.objects.get()
    assert m.status == "failed" and "127.0.0.1" in m.last_error
    time.sleep(0.2)
    assert smtp.messages == []

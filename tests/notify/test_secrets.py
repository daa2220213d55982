"""Endpoint secrets at rest: robot URLs with their tokens, signing secrets, passwords and
credential headers are encrypted in the row (read raw here), never in the audit log, never shown
again by the pages or the API, kept when a form leaves them empty; delivery and signatures still
work, and a wrong key is a clear failure."""

import importlib
import json
import time
import urllib.parse

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test import Client

from orderhub.core import crypto, signing
from orderhub.core.models import AuditEvent
from orderhub.notify.models import Endpoint, Message
from orderhub.notify.services import Recipient, endpoint_save, notify

pytestmark = pytest.mark.django_db

URL_TOKEN = "URLTOKEN-7f3a9c"
SIGN_SECRET = "WHSECRET-42-b81d"
HEADER_TOKEN = "HDRTOKEN-e55c02"


def _raw_row(code: str) -> str:
    """The endpoint's row as the database holds it (every column as text)."""
    with connection.cursor() as cur:
        cur.execute("SELECT code, name, kind, CAST(config AS TEXT), secrets FROM notify_endpoint WHERE code = %s",
                    [code])
        return " | ".join(str(v) for v in cur.fetchone())


def _erp(receiver, admin_actor, **kw):
    return endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin_actor, **{"config": {
        "url": f"{receiver.url}/hooks/orderhub?token={URL_TOKEN}", "secret": SIGN_SECRET,
        "headers": {"Authorization": f"Bearer {HEADER_TOKEN}"}}, **kw})


def test_the_row_and_the_audit_hold_no_plaintext_and_delivery_still_signs(
        company, receiver, inline_jobs, admin_actor, django_capture_on_commit_callbacks):
    _erp(receiver, admin_actor)
    row = _raw_row("erp")
    for plain in (URL_TOKEN, SIGN_SECRET, HEADER_TOKEN, receiver.url, "hooks/orderhub"):
        assert plain not in row, plain
    ep = Endpoint.objects.get(code="erp")
    assert ep.secrets.startswith(f"enc1:{crypto.key_id(_current_key())}:")
    assert set(ep.config) == {"headers"} and ep.config["headers"] == {}      # only what may be shown
    events = AuditEvent.objects.filter(subject_type="notify_endpoint")
    logged = json.dumps([[e.changes, e.data] for e in events], ensure_ascii=False)
    assert URL_TOKEN not in logged and SIGN_SECRET not in logged and HEADER_TOKEN not in logged
    assert "hooks/orderhub?…" in logged          # the URL's host and path, its query masked

    with django_capture_on_commit_callbacks(execute=True):
        notify(event="rule.notify", recipients=[Recipient.webhook("erp")], context={"message": "x"},
               dedupe_key="sec1")
    req = receiver.wait_for(1)[0]
    h = req["headers"]
    assert req["path"] == f"/hooks/orderhub?token={URL_TOKEN}"
    assert h["Authorization"] == f"Bearer {HEADER_TOKEN}"
    assert signing.verify(SIGN_SECRET, h["X-OrderHub-Timestamp"], req["body"], h["X-OrderHub-Signature"])
    assert not signing.verify("guess", h["X-OrderHub-Timestamp"], req["body"], h["X-OrderHub-Signature"])
    assert Message.objects.get().status == "delivered"


def _current_key() -> str:
    from django.conf import settings

    return settings.ORDERHUB_ENCRYPTION_KEY


def test_a_wrong_key_fails_the_delivery_by_name_and_sends_nothing(
        company, receiver, inline_jobs, admin_actor, settings, django_capture_on_commit_callbacks):
    _erp(receiver, admin_actor)
    old = crypto.key_id(settings.ORDERHUB_ENCRYPTION_KEY)
    settings.ORDERHUB_ENCRYPTION_KEY = "another-key-entirely-0123456789abcdef"
    from orderhub.notify.services import clear_caches

    clear_caches()
    with django_capture_on_commit_callbacks(execute=True):
        notify(event="rule.notify", recipients=[Recipient.webhook("erp")], context={"message": "x"},
               dedupe_key="wrongkey")
    m = Message.objects.get()
    assert m.status == "failed" and old in m.last_error        # names the key it needs
    time.sleep(0.2)
    assert receiver.requests == []          # never a request without its token or signature
    # the pages say so too, instead of showing an empty secret
    c = Client()
    assert c.login(username="admin", password="pw-admin")
    page = c.get("/settings/notify/endpoints/erp/").content.decode()
    assert old in page and 'name="secret:' not in page


def test_the_form_never_shows_a_secret_again_and_keeps_it_unless_replaced(company, admin_actor):
    endpoint_save(code="ding", name="生产群", kind="dingtalk", actor=admin_actor, config={
        "url": f"https://93.184.216.34/robot/send?access_token={URL_TOKEN}", "secret": SIGN_SECRET})
    c = Client()
    assert c.login(username="admin", password="pw-admin")
    page = c.get("/settings/notify/endpoints/ding/").content.decode()
    assert URL_TOKEN not in page and SIGN_SECRET not in page
    assert "已设置（保存后不再显示）" in page
    assert 'name="secret:url" value=""' in page and 'name="secret:secret" value=""' in page
    assert "https://93.184.216.34/robot/send?…" in page          # the hint: host and path
    form = {"name": "生产一群", "kind": "dingtalk", "timeout_seconds": "5", "is_active": "1",
            "config": page.split('name="config" rows="8">')[1].split("</textarea>")[0].replace("&quot;", '"')}
    # saved as shown, the inputs left empty: both secrets kept
    assert c.post("/settings/notify/endpoints/ding/", {**form, "secret:url": "", "secret:secret": ""}).status_code == 302
    ep = Endpoint.objects.get(code="ding")
    assert ep.name == "生产一群" and ep.full_config()["secret"] == SIGN_SECRET
    assert URL_TOKEN in ep.full_config()["url"]
    # a new value typed replaces it
    assert c.post("/settings/notify/endpoints/ding/", {**form, "secret:secret": "SEC-NEW"}).status_code == 302
    assert Endpoint.objects.get(code="ding").full_config()["secret"] == "SEC-NEW"
    # an optional secret can be cleared; a required one cannot
    assert c.post("/settings/notify/endpoints/ding/", {**form, "clear_secret": "secret"}).status_code == 302
    ep = Endpoint.objects.get(code="ding")
    assert "secret" not in ep.full_config() and URL_TOKEN in ep.full_config()["url"]
    r = c.post("/settings/notify/endpoints/ding/", {**form, "clear_secret": "url"})
    assert r.status_code == 400 and "config.url" in r.content.decode()
    assert "SEC-NEW" not in _raw_row("ding") and URL_TOKEN not in _raw_row("ding")


def test_the_api_never_returns_a_secret(company, api_as):
    admin = api_as("admin")
    body = {"name": "ERP", "kind": "webhook", "config": {
        "url": f"https://93.184.216.34/hooks?token={URL_TOKEN}", "secret": SIGN_SECRET,
        "headers": {"X-Api-Key": HEADER_TOKEN}}, "timeout_seconds": 3}
    r = admin.put("/api/notify/endpoints/erp", body)
    assert r.status_code == 200, r.content
    out = r.json()
    text = r.content.decode()
    assert URL_TOKEN not in text and SIGN_SECRET not in text and HEADER_TOKEN not in text
    assert {s["path"]: s["label"] for s in out["secrets"]} == {
        "headers.X-Api-Key": "已设置（保存后不再显示）", "secret": "已设置（保存后不再显示）",
        "url": "已设置（保存后不再显示）"}
    assert next(s for s in out["secrets"] if s["path"] == "url")["hint"] == "https://93.184.216.34/hooks?…"
    assert {s["path"]: s["name"] for s in out["secrets"]} == {
        "headers.X-Api-Key": "请求头 X-Api-Key", "secret": "签名密钥", "url": "地址（含令牌）"}
    for path in ("/api/notify/endpoints/erp", "/api/notify/endpoints"):
        got = admin.get(path)
        assert got.status_code == 200
        assert URL_TOKEN not in got.content.decode() and SIGN_SECRET not in got.content.decode()
    # what a client GETs and PUTs back (secrets left out) keeps every secret
    again = {k: out[k] for k in ("name", "kind", "config", "roles", "is_active", "timeout_seconds")}
    assert admin.put("/api/notify/endpoints/erp", {**again, "name": "ERP 2"}).status_code == 200
    cfg = Endpoint.objects.get(code="erp").full_config()
    assert (cfg["secret"], cfg["headers"]["X-Api-Key"]) == (SIGN_SECRET, HEADER_TOKEN)
    r = admin.put("/api/notify/endpoints/erp", {**again, "clear_secrets": ["headers.X-Api-Key"]})
    assert r.status_code == 200 and "X-Api-Key" not in Endpoint.objects.get(code="erp").full_config()["headers"]
    r = admin.put("/api/notify/endpoints/erp", {**again, "clear_secrets": ["secret"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "config.secret"
    r = admin.put("/api/notify/endpoints/erp", {**again, "config": {**again["config"], "secret": {"x": 1}}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "config.secret"
    r = admin.put("/api/notify/endpoints/erp", {**again, "config": {"url": "http://[::1"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "config.url"
    assert api_as("sales").get("/api/notify/endpoints").status_code == 403
    assert api_as("sales").put("/api/notify/endpoints/erp", body).status_code == 403


def test_the_migration_encrypts_rows_stored_in_clear(company):
    """Rows written before this change (secrets in config, in clear) are split and encrypted."""
    migration = importlib.import_module("orderhub.notify.migrations.0005_secrets_at_rest")
    Endpoint.objects.create(code="old-ding", name="旧群", kind="dingtalk", config={
        "url": f"https://93.184.216.34/robot/send?access_token={URL_TOKEN}", "secret": SIGN_SECRET,
        "msgtype": "markdown"})
    Endpoint.objects.create(code="old-mail", name="邮件", kind="email",
                            config={"host": "93.184.216.35", "password": "MAILPW-1", "username": "hub"})
    migration.encrypt_endpoint_secrets(django_apps, None)
    assert URL_TOKEN not in _raw_row("old-ding") and SIGN_SECRET not in _raw_row("old-ding")
    assert "MAILPW-1" not in _raw_row("old-mail")
    ding, mail = Endpoint.objects.get(code="old-ding"), Endpoint.objects.get(code="old-mail")
    assert ding.config == {"msgtype": "markdown"} and ding.full_config()["secret"] == SIGN_SECRET
    assert mail.config == {"host": "93.184.216.35", "username": "hub"}
    assert mail.full_config()["password"] == "MAILPW-1"
    from orderhub.notify.models import NotifySettings

    assert NotifySettings.objects.get(pk=1).allow_private_targets is False   # public targets only
    migration.encrypt_endpoint_secrets(django_apps, None)                     # twice: no change
    assert Endpoint.objects.get(code="old-ding").full_config()["secret"] == SIGN_SECRET
    # an install whose endpoints already call the intranet keeps them working
    Endpoint.objects.create(code="lan", name="内网", kind="wecom", config={"url": "http://10.0.0.8/send?key=k"})
    migration.encrypt_endpoint_secrets(django_apps, None)
    assert NotifySettings.objects.get(pk=1).allow_private_targets is True
    assert "key=k" not in _raw_row("lan")


def test_robot_urls_keep_their_token_in_the_request(company, receiver, inline_jobs, admin_actor,
                                                      django_capture_on_commit_callbacks):
    endpoint_save(code="wx", name="群", kind="wecom", actor=admin_actor,
                  config={"url": f"{receiver.url}/cgi-bin/webhook/send?key={URL_TOKEN}"})
    assert URL_TOKEN not in _raw_row("wx")
    with django_capture_on_commit_callbacks(execute=True):
        notify(event="rule.notify", recipients=[Recipient.webhook("wx")], context={"message": "x"},
               dedupe_key="wx1")
    req = receiver.wait_for(1)[0]
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(req["path"]).query)["key"] == [URL_TOKEN]

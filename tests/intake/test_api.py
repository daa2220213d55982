"""Intake over HTTP: signed webhooks, uploads with progress, the inbox, replays, config."""

import hashlib
import json
import time

import pytest
from django.test import Client

from orderhub.intake import services
from orderhub.intake.models import InboundMessage, RefusedRequest
from orderhub.orders.models import Order
from tests.api.conftest import api_as  # noqa: F401  (fixture)

from .conftest import sample

pytestmark = pytest.mark.django_db
SECRET = "wx-shared-secret"


@pytest.fixture
def signed_channel(master, intake_actor):
    services.channel_save(code="miniprogram", secret=SECRET, window_seconds=300, actor=intake_actor)
    return master


def post_webhook(body: bytes, *, ts=None, secret=SECRET, signature=None, channel="miniprogram"):
    ts = str(int(time.time()) if ts is None else ts)
    sig = signature or services.webhook_signature(secret, ts, body)
    return Client().post(f"/api/intake/{channel}", data=body, content_type="application/json",
                         headers={"X-OrderHub-Timestamp": ts, "X-OrderHub-Signature": sig})


@pytest.mark.smoke
def test_signed_webhook_is_accepted_and_processed(signed_channel):
    resp = post_webhook(sample("miniprogram", "01-paid.json"))
    assert resp.status_code == 202, resp.content
    body = resp.json()
    assert body["status"] == "parsed" and body["external_ref"] == "WX202602031512340001"
    assert Order.objects.filter(channel="miniprogram").count() == 1
    again = post_webhook(sample("miniprogram", "02-same-again.json"))
    assert again.json()["status"] == "duplicate"


@pytest.mark.smoke
@pytest.mark.parametrize("case", ["tampered", "wrong_secret", "too_old", "future", "missing", "garbled_ts"])
def test_refused_webhooks_store_nothing_and_are_logged_without_their_body(signed_channel, case):
    body = sample("miniprogram", "01-paid.json")
    now = int(time.time())
    if case == "tampered":
        sig = services.webhook_signature(SECRET, now, body)
        body = body.replace(b'"num": 20', b'"num": 2000')
        resp = post_webhook(body, ts=now, signature=sig)
    elif case == "wrong_secret":
        resp = post_webhook(body, secret="guess")
    elif case == "too_old":
        resp = post_webhook(body, ts=now - 301)
    elif case == "future":
        resp = post_webhook(body, ts=now + 400)
    elif case == "garbled_ts":
        resp = post_webhook(body, ts="yesterday", signature="sha256=00")
    else:
        resp = Client().post("/api/intake/miniprogram", data=body, content_type="application/json")
    assert resp.status_code == 401, resp.content
    code = resp.json()["code"]
    assert code == {"tampered": "bad_signature", "wrong_secret": "bad_signature", "too_old": "outside_window",
                    "future": "outside_window", "missing": "signature_missing",
                    "garbled_ts": "bad_timestamp"}[case]
    assert set(resp.json()) == {"code", "message"}  # no message id to fetch anything by
    assert not InboundMessage.objects.exists() and not Order.objects.exists()
    logged = RefusedRequest.objects.get()
    assert (logged.reason, logged.channel, logged.kind, logged.ip) == (code, "miniprogram", "webhook", "127.0.0.1")
    assert logged.size == len(body) and logged.sha256 == hashlib.sha256(body).hexdigest()
    assert logged.head == body[:1024].decode().replace("\\", "\\\\").replace("\n", "\\n")


def test_webhook_for_a_channel_without_secret_is_404_stores_nothing_and_is_logged(master):
    resp = post_webhook(b"{}", channel="taobao")
    assert resp.status_code == 404 and not InboundMessage.objects.exists()
    assert RefusedRequest.objects.get().reason == "unknown_channel"


def test_bad_content_in_a_signed_webhook_is_kept_with_its_errors(signed_channel, api_as):  # noqa: F811
    resp = post_webhook(sample("miniprogram", "04-bad-qty-and-date.json"))
    assert resp.status_code == 202 and resp.json()["status"] == "failed"
    mid = resp.json()["id"]
    detail = api_as("service").get(f"/api/intake/messages/{mid}").json()
    assert {"items[1].num", "pay_time"} <= {e["field"] for e in detail["errors"]}
    assert [e["action"] for e in detail["events"]] == ["intake.received", "intake.failed"]
    raw = api_as("service").get(f"/api/intake/messages/{mid}/payload")
    assert raw.content == sample("miniprogram", "04-bad-qty-and-date.json")
    listed = api_as("service").get("/api/intake/messages", status="failed").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == mid


def test_upload_over_http_reports_rows_and_progress(master, api_as):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = api_as("service")
    f = SimpleUploadedFile("ExportOrderList202602181230.csv", sample("taobao", "ExportOrderList202602181230.csv"),
                           content_type="text/csv")
    resp = client.client.post("/api/intake/uploads", {"file": f, "channel": "taobao", "mode": "accept_valid"},
                              headers=client.headers)
    assert resp.status_code == 201, resp.content
    job = resp.json()
    assert (job["rows_total"], job["rows_done"], job["percent"], job["orders_created"]) == (5, 5, 100, 2)
    progress = client.get(f"/api/intake/uploads/{job['id']}").json()
    assert progress == job
    detail = client.get(f"/api/intake/messages/{job['message']}").json()
    assert {(e["row"], e["field"]) for e in detail["errors"]} >= {(3, "商家编码"), (4, "宝贝总数量"), (5, "订单付款时间")}
    assert len(detail["orders"]) == 2


def test_upload_permission_and_bad_mode(master, api_as):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile

    for role, mode, status in (("warehouse", "accept_valid", 403), ("service", "maybe", 422)):
        c = api_as(role)
        f = SimpleUploadedFile("x.csv", b"a,b\r\n1,2\r\n", content_type="text/csv")
        resp = c.client.post("/api/intake/uploads", {"file": f, "channel": "taobao", "mode": mode},
                             headers=c.headers)
        assert resp.status_code == status, resp.content


def test_replay_over_http_after_the_mapping_is_fixed(master, api_as, intake_actor):  # noqa: F811
    msg = services.inbound_receive(channel="miniprogram", kind="api", actor=intake_actor,
                                   payload=sample("miniprogram", "06-unknown-sku.json"))
    services.inbound_process(message=msg, actor=intake_actor)
    client = api_as("service")
    assert client.post(f"/api/intake/messages/{msg.pk}/replay").json()["status"] == "failed"
    services.alias_set(kind="product", value="BRK-PAD-R-9999", code="BRK-PAD-F-2231", actor=intake_actor)
    replayed = client.post(f"/api/intake/messages/{msg.pk}/replay").json()
    assert replayed["status"] == "parsed" and replayed["attempts"] == 3 and len(replayed["orders"]) == 1
    assert client.post(f"/api/intake/messages/{msg.pk}/replay").status_code == 409
    assert client.get("/api/intake/messages/999999").status_code == 404


def test_config_over_http_is_validated_and_admin_only(master, api_as):  # noqa: F811
    spec = {"kind": "tags", "code": "default", "name": "t", "rules": [{"pattern": "(", "tag": "#x"}]}
    assert api_as("service").put("/api/intake/config", spec).status_code == 403
    resp = api_as("admin").put("/api/intake/config", spec)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "rules[0].pattern"
    spec["rules"][0]["pattern"] = "加急"
    ok = api_as("admin").put("/api/intake/config", spec)
    assert ok.status_code == 200 and ok.json()["version"] == 2
    kinds = {(c["kind"], c["code"]) for c in api_as("service").get("/api/intake/config").json()}
    assert ("mapping", "taobao") in kinds


def test_api_refuses_unauthenticated_inbox_reads(master):
    assert Client().get("/api/intake/messages").status_code == 401
    assert json.loads(Client().get("/api/intake/drafts").content)["code"] == "unauthorized"

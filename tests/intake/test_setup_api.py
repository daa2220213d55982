"""The JSON twin of the intake set-up pages: channels with a secret shown once, mapping versions
and a trial before saving, customer aliases, an .eml upload and master data from CSV."""

import base64
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orderhub.core import signing
from orderhub.intake.models import ConfigVersion, InboundMessage
from orderhub.orders.models import Order
from tests.api.conftest import api_as  # noqa: F401  (fixture)

from .conftest import SAMPLES, sample

pytestmark = pytest.mark.django_db


def test_channels_over_the_api(master, api_as):  # noqa: F811
    admin = api_as("admin")
    made = admin.post("/api/intake/channels/wxshop", {"name": "微信商城", "based_on": "miniprogram"})
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["takes_webhooks"] and body["format"] == "json" and body["webhook_url"].endswith("/api/intake/wxshop")
    secret = body["secret"]
    ts = str(int(time.time()))
    raw = sample("miniprogram", "01-paid.json")
    resp = admin.client.post("/api/intake/wxshop", data=raw, content_type="application/json",
                             headers={"X-OrderHub-Timestamp": ts, "X-OrderHub-Signature": signing.sign(secret, ts, raw)})
    assert resp.status_code == 202 and resp.json()["status"] == "parsed"
    listed = {c["code"]: c for c in api_as("sales").get("/api/intake/channels").json()}
    assert "secret" not in listed["wxshop"] and listed["taobao"]["format"] == "csv"
    assert not listed["taobao"]["takes_webhooks"]
    rotated = admin.post("/api/intake/channels/wxshop/secret").json()["secret"]
    assert rotated != secret
    stopped = admin.patch("/api/intake/channels/wxshop", {"is_active": False}).json()
    assert stopped["is_active"] is False and stopped["takes_webhooks"] is False
    assert api_as("sales").post("/api/intake/channels/other", {"name": "x", "based_on": "taobao"}).status_code == 403
    assert admin.post("/api/intake/channels/uploads", {"name": "x", "based_on": "taobao"}).status_code == 422


def test_trial_and_versions_over_the_api(master, api_as):  # noqa: F811
    admin = api_as("admin")
    spec = admin.get("/api/intake/mappings/miniprogram/versions").json()[0]["spec"]
    spec["order"]["customer"]["from"] = "buyer.open_id"
    body = sample("miniprogram", "01-paid.json").decode().replace(
        '"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"', '"buyer": {"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}')
    out = admin.post("/api/intake/mappings/miniprogram/trial", {"spec": spec, "payload": body}).json()
    item = out["items"][0]
    assert item["order"]["customer"] == "C0217" and item["total"] == "12860.00"
    assert {f["field"]: f["source"] for f in item["source_fields"]}["customer"] == "buyer.open_id"
    # the current mapping (not the tried one) on a spreadsheet sent as base64
    xlsx = (SAMPLES / "channels" / "1688" / "1688_orders_20260220.xlsx").read_bytes()
    out = admin.post("/api/intake/mappings/1688/trial", {"payload_base64": base64.b64encode(xlsx).decode()})
    assert out.status_code == 200 and out.json()["format"] == "xlsx" and out.json()["records"] >= 1, out.content
    assert ConfigVersion.objects.filter(kind="mapping", code="miniprogram").count() == 1
    assert not Order.objects.exists()
    bad = admin.post("/api/intake/mappings/miniprogram/trial", {"spec": {**spec, "format": "pdf"}, "payload": "{}"})
    assert bad.status_code == 422


def test_aliases_email_and_master_data_over_the_api(master, api_as):  # noqa: F811
    admin = api_as("admin")
    put = admin.put("/api/intake/customers/C0451/aliases", {"aliases": [{"value": "恒通紧固", "channel": "taobao"}],
                                                            "wechat_openid": "oHT-1"})
    assert put.status_code == 200 and put.json() == {
        "customer": "C0451", "wechat_openid": "oHT-1", "aliases": [{"value": "恒通紧固", "channel": "taobao"}]}
    assert api_as("sales").get("/api/intake/customers/C0451/aliases").json() == put.json()
    taken = admin.put("/api/intake/customers/C0451/aliases", {"aliases": [{"value": "捷达汽配", "channel": "taobao"}],
                                                              "wechat_openid": "changed"})
    assert taken.status_code == 422 and taken.json()["errors"][0]["field"] == "aliases[0].value"
    assert api_as("sales").get("/api/intake/customers/C0451/aliases").json()["wechat_openid"] == "oHT-1"
    eml = SimpleUploadedFile("po.eml", (SAMPLES / "channels" / "email" / "po-2026-0318.eml").read_bytes())
    resp = api_as("service").client.post("/api/intake/uploads/email", {"file": eml},
                                         headers=api_as("service").headers)
    assert resp.status_code == 201, resp.content
    assert resp.json()["kind"] == "email" and resp.json()["status"] == "needs_review"
    assert InboundMessage.objects.filter(kind="attachment").count() == 1
    csv = "code,name,unit,kg_per_unit,list_price,safety_stock,moq,lead_time_days\nNEW-1,新零件,件,,1.50,0,0,3\n".encode()
    resp = admin.client.post("/api/intake/master-data/import", {"products": SimpleUploadedFile("products.csv", csv)},
                             headers=admin.headers)
    assert resp.status_code == 200 and resp.json() == {"customers": 0, "products": 1, "errors": []}, resp.content

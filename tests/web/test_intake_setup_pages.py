"""Intake set-up in the UI (issue 14.1): a channel made on a page takes webhooks at once with the
secret shown once; a mapping viewed, tried against a payload without saving, saved as a version
with who and when; a secret rotated; a customer's aliases and openid edited on the customer page;
an .eml and the samples' JSON bodies imported from the upload page; master data from CSV."""

import html
import re
import time
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from orderhub.catalog.models import Customer, Product
from orderhub.core import signing
from orderhub.intake.models import Alias, ConfigVersion, Draft, InboundMessage
from orderhub.orders.models import Order
from tests.intake.conftest import SAMPLES, sample
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs_inline(settings):
    settings.ORDERHUB_RUN_JOBS_INLINE = True


def _secret(page: str) -> str:
    return re.search(r'data-testid="webhook-secret">([^<]+)<', page).group(1)


def _post_webhook(channel: str, body: bytes, secret: str):
    ts = str(int(time.time()))
    return Client().post(f"/api/intake/{channel}", data=body, content_type="application/json",
                         headers={"X-OrderHub-Timestamp": ts, "X-OrderHub-Signature": signing.sign(secret, ts, body)})


def test_a_channel_made_on_the_page_takes_webhooks_with_the_secret_shown_once(master):
    c = login("admin")
    page = c.get("/settings/intake/").content.decode()
    assert "微信小程序订单" in page and 'data-testid="new-channel"' in page
    resp = c.post("/settings/intake/", {"code": "wxshop", "name": "微信商城", "based_on": "miniprogram"})
    assert resp.status_code == 200 and resp["Cache-Control"] == "no-store"
    secret = _secret(resp.content.decode())
    assert _post_webhook("wxshop", sample("miniprogram", "01-paid.json"), secret).json()["status"] == "parsed"
    assert secret not in c.get("/settings/intake/wxshop/").content.decode()   # never shown again
    # rotated: the old secret stops working at once
    resp = c.post("/settings/intake/wxshop/secret")
    new = _secret(resp.content.decode())
    assert new != secret
    assert _post_webhook("wxshop", sample("miniprogram", "06-unknown-sku.json"), secret).status_code == 401
    assert _post_webhook("wxshop", sample("miniprogram", "06-unknown-sku.json"), new).status_code == 202
    # a clash is refused next to the field
    resp = c.post("/settings/intake/", {"code": "wxshop", "name": "又一个", "based_on": "miniprogram"})
    assert resp.status_code == 400 and "wxshop" in resp.content.decode()


def test_a_mapping_is_tried_on_a_pasted_body_then_saved_as_a_version(master):
    c = login("admin")
    page = c.get("/settings/intake/miniprogram/").content.decode()
    assert "lines_from: items" in page and 'data-testid="versions"' in page
    text = re.search(r'name="definition"[^>]*>([^<]+)</textarea>', page).group(1)
    text = html.unescape(text).replace("from: openid", "from: buyer.open_id")
    body = sample("miniprogram", "01-paid.json").decode().replace(
        '"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"', '"buyer": {"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}')
    resp = c.post("/settings/intake/miniprogram/", {"definition": text, "payload": body, "action": "trial"})
    out = resp.content.decode()
    assert resp.status_code == 200 and 'data-testid="trial-result"' in out
    assert "buyer.open_id" in out and "C0217" in out and "12860.00" in out
    assert ConfigVersion.objects.filter(kind="mapping", code="miniprogram").count() == 1   # nothing saved
    assert not Order.objects.exists()
    resp = c.post("/settings/intake/miniprogram/", {"definition": text, "note": "买家嵌套", "action": "save"})
    assert resp.status_code == 302
    v2 = ConfigVersion.objects.get(kind="mapping", code="miniprogram", is_current=True)
    assert v2.version == 2 and v2.note == "买家嵌套" and "admin" in v2.created_by
    page = c.get("/settings/intake/miniprogram/?v=1").content.decode()
    assert "from: openid" in page
    bad = c.post("/settings/intake/miniprogram/", {"definition": text.replace("from: buyer.open_id", "from: buyer[x]"),
                                                   "action": "save"})
    assert bad.status_code == 400 and "order.customer.from" in bad.content.decode()


def test_aliases_and_openid_are_edited_on_the_customer_page(master):
    c = login("admin")
    page = c.get("/settings/customers/C0451/").content.decode()
    assert 'data-testid="customer-aliases"' in page
    resp = c.post("/settings/customers/C0451/aliases", {
        "wechat_openid": "oNEW-openid-1", "alias_channel": ["taobao", ""], "alias_value": ["恒通紧固", ""]})
    assert resp.status_code == 302
    assert Customer.objects.get(code="C0451").wechat_openid == "oNEW-openid-1"
    assert list(Alias.objects.filter(code="C0451").values_list("channel", "value")) == [("taobao", "恒通紧固")]
    assert "恒通紧固" in c.get("/settings/customers/C0451/").content.decode()


def test_an_eml_and_a_webhook_body_are_imported_from_the_upload_page(master):
    c = login("service")
    eml = SimpleUploadedFile("po-2026-0318.eml", (SAMPLES / "channels" / "email" / "po-2026-0318.eml").read_bytes(),
                             content_type="message/rfc822")
    resp = c.post("/intake/upload/", {"channel": "email", "mode": "accept_valid", "file": eml})
    assert resp.status_code == 302 and "/intake/" in resp["Location"]
    mail = InboundMessage.objects.get(kind="email")
    assert mail.status == "needs_review" and Draft.objects.get().data["customer"] == "C0388"
    body = SimpleUploadedFile("01-paid.json", sample("miniprogram", "01-paid.json"), content_type="application/json")
    resp = c.post("/intake/upload/", {"channel": "miniprogram", "mode": "accept_valid", "file": body})
    assert resp.status_code == 302
    assert Order.objects.filter(channel="miniprogram", customer__code="C0217").count() == 1


def test_master_data_from_csv_on_the_channels_page(company):
    c = login("admin")
    files = {name: SimpleUploadedFile(f"{name}.csv", (SAMPLES / "master" / f"{name}.csv").read_bytes())
             for name in ("customers", "products")}
    resp = c.post("/settings/intake/master-data", files)
    assert resp.status_code == 302
    assert Customer.objects.get(code="C0217").wechat_openid == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert Product.objects.get(sku="M8X30-HEX-88").kg_per_unit == Decimal("0.0176")
    # again: updated, not doubled; a bad row is named with its row and field
    bad = b"code,name,tier,credit_limit,mobile,wechat_openid\nC0217,,A,abc,,\n"
    resp = c.post("/settings/intake/master-data", {"customers": SimpleUploadedFile("customers.csv", bad)})
    page = c.get(resp["Location"]).content.decode()
    assert Customer.objects.filter(code="C0217").count() == 1 and "customers.csv" in page and "abc" in page

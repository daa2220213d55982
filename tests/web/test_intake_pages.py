"""Intake pages: file import with progress and per-row report, inbox and replay, OCR drafts,
the customer's quick-order page reached by QR code."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from orderhub.intake.models import Draft, ImportJob, InboundMessage
from orderhub.orders.models import Order
from tests.intake.conftest import sample
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs_inline(settings):
    settings.ORDERHUB_RUN_JOBS_INLINE = True  # one transaction per test: no thread could see the job


def test_taobao_export_through_the_upload_page(master):
    c = login("service")
    page = c.get("/intake/upload/").content.decode()
    # a webhook channel reads a saved .json body too, and e-mails come as .eml files
    assert 'value="taobao"' in page and 'value="miniprogram"' in page and 'value="email"' in page
    f = SimpleUploadedFile("ExportOrderList202602181230.csv",
                           sample("taobao", "ExportOrderList202602181230.csv"), content_type="text/csv")
    resp = c.post("/intake/upload/", {"channel": "taobao", "mode": "accept_valid", "file": f})
    assert resp.status_code == 302 and "/intake/jobs/" in resp["Location"]
    job = ImportJob.objects.get()
    body = c.get(resp["Location"]).content.decode()
    assert 'data-status="done"' in body and "100%" in body
    assert job.orders_created >= 1 and job.rows_failed >= 1
    assert 'data-testid="row-report"' in body
    assert Order.objects.filter(channel="taobao").count() == job.orders_created
    # the progress partial that htmx polls
    partial = c.get(resp["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div class="card card-body"') and "<html" not in partial
    # the inbox lists it; the raw bytes come back unchanged
    inbox = c.get("/intake/").content.decode()
    assert f'/intake/{job.message_id}/' in inbox
    # its summary in words, never the report's keys
    summary = re.search(r'data-testid="summary">([^<]*)<', inbox).group(1)
    assert f"读取行数 {job.rows_total}" in summary and f"已创建订单 {job.orders_created}" in summary
    assert f"有问题的行 {job.rows_failed}" in summary
    assert not re.search(r"[a-z_]{3,}", summary), summary
    raw = c.get(f"/intake/{job.message_id}/raw")
    assert raw.content == sample("taobao", "ExportOrderList202602181230.csv")


def test_upload_page_names_the_problem_next_to_the_field(master):
    c = login("service")
    resp = c.post("/intake/upload/", {"channel": "taobao", "mode": "accept_valid"})
    assert resp.status_code == 400 and "is-invalid" in resp.content.decode()
    assert not InboundMessage.objects.exists()


def test_failed_message_replays_from_its_page(master, intake_actor):
    from orderhub.intake.services import inbound_process, inbound_receive

    msg = inbound_receive(channel="miniprogram", kind="webhook", payload=sample("miniprogram", "05-truncated.json"),
                          actor=intake_actor, content_type="application/json")
    msg = inbound_process(message=msg, actor=intake_actor)
    assert msg.status == "failed"
    c = login("service")
    page = c.get(f"/intake/{msg.pk}/").content.decode()
    assert "/replay" in page
    c.post(f"/intake/{msg.pk}/replay")
    msg.refresh_from_db()
    assert msg.attempts == 2 and msg.status == "failed"  # still truncated: kept, with its error
    assert Client().get(f"/intake/{msg.pk}/").status_code == 302  # staff only


def test_quick_order_link_qr_and_customer_page(master):
    admin = login("admin")
    resp = admin.post("/settings/customers/C0502/quick-link")
    body = resp.content.decode()
    assert resp.status_code == 200 and "<svg" in body
    url = re.search(r'data-testid="quick-url">([^<]+)<', body).group(1)
    path = url.split("testserver", 1)[1]
    customer = Client()  # not signed in: the link is the credential
    form = customer.get(path)
    assert form.status_code == 200 and "C0502" not in form.content.decode()[:200]
    bad = customer.post(path, {"item": "", "due_date": "2020-01-01"})
    assert bad.status_code == 400 and bad.content.decode().count("is-invalid") >= 2
    from orderhub.catalog.models import Product

    sku = Product.objects.filter(is_active=True).order_by("sku").values_list("sku", flat=True).first()
    ok = customer.post(path, {"item": sku, "due_date": "2099-12-30", "remark": "避开周一送货"})
    assert ok.status_code == 200
    numbers = re.findall(r"<strong>(SO-[^<]+)</strong>", ok.content.decode())
    assert len(numbers) == 1
    order = Order.objects.get(number=numbers[0])
    assert order.customer.code == "C0502" and order.channel == "quick"
    again = customer.post(path, {"item": sku, "due_date": "2099-12-30", "remark": "避开周一送货"})
    assert re.findall(r"<strong>(SO-[^<]+)</strong>", again.content.decode()) == numbers  # no double
    assert Client().get("/q/qo_not-a-token").status_code == 404


def test_ocr_draft_is_confirmed_with_corrections(master, intake_actor):
    from orderhub.intake.services import draft_from_document, inbound_receive

    msg = inbound_receive(channel="ocr", kind="attachment", payload=sample("email", "PO-2026-0318.png"),
                          actor=intake_actor, content_type="image/png", filename="PO-2026-0318.png")
    draft_from_document(message=msg, actor=intake_actor)
    d = Draft.objects.get()
    c = login("service")
    assert f"/intake/drafts/{d.pk}/" in c.get("/intake/drafts/").content.decode()
    page = c.get(f"/intake/drafts/{d.pk}/").content.decode()
    assert f'/intake/{msg.pk}/preview' in page and 'name="line_sku"' in page
    assert c.get(f"/intake/{msg.pk}/preview")["Content-Type"] == "image/png"
    data = dict(d.data)
    resp = c.post(f"/intake/drafts/{d.pk}/", {
        "action": "confirm", "customer": data.get("customer") or "C0502",
        "external_ref": data.get("external_ref") or "PO-2026-0318",
        "required_date": data.get("required_date") or "2099-12-01", "urgency": "green", "remarks": "",
        "line_sku": [ln.get("sku") for ln in data["lines"]], "line_qty": [ln.get("qty") or "1" for ln in data["lines"]],
    })
    assert resp.status_code == 302, resp.content.decode()[:2000]
    d.refresh_from_db()
    assert d.status == "confirmed" and resp["Location"] == f"/orders/{d.order.number}/"

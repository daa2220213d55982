"""Printed documents: each PDF rendered with the project's CJK font, its text extracted with
pypdf and checked (Chinese words and numbers); the letterhead and QR code; the admin's template
in a sandbox (only the variables passed, nothing fetched, a broken one refused in Chinese with
its line, never a 500); downloads from the pages and the API."""

from __future__ import annotations

import io
from decimal import Decimal

import pypdf
import pytest
import segno

from orderhub.core import pdf as pdf_module
from orderhub.core.errors import ValidationFailed
from orderhub.orders import services as orders
from orderhub.orders.inputs import LineInput
from orderhub.shipping import documents
from orderhub.shipping.models import DocumentTemplate
from orderhub.shipping.services import (
    ShipmentInput,
    document_template_save,
    letterhead_save,
    shipment_create,
)
from tests.conftest import order_input
from tests.notify.conftest import Receiver
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db
D = Decimal


def _text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _fonts(pdf: bytes) -> set[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    out = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            out.add(str(font.get_object()["/BaseFont"]))
    return out


@pytest.fixture
def shipped(company):
    letterhead_save(actor=company["actors"]["admin"], name="苏州精密制造有限公司",
                    address="苏州市吴中区木渎镇金枫路 88 号", phone="0512-66668888",
                    logo=_png())
    data = order_input(lines=[LineInput(sku="HSG-100", qty=D("100"), unit_price=D("120")),
                              LineInput(sku="M8X30", qty=D("2500"), unit_price=D("0.1"))])
    order = orders.order_create(data=data, actor=company["actors"]["admin"]).order
    sh = shipment_create(order=order.number, actor=company["actors"]["warehouse"], data=ShipmentInput(
        quantities={1: D("40"), 2: D("2500")}, carrier="顺丰速运", waybill="SF1234567890", packages=3,
        weight_kg=D("12.5")))
    return order, sh


def _png() -> bytes:
    buf = io.BytesIO()
    segno.make("OrderHub").save(buf, kind="png", scale=2)
    return buf.getvalue()


def test_each_document_renders_chinese_text_and_numbers_with_the_project_font(shipped):
    order, sh = shipped
    confirmation = documents.order_pdf(order, "confirmation")
    text = _text(confirmation)
    for word in ("订单确认书", "苏州精密制造有限公司", "0512-66668888", "苏州博锐精工", "传感器壳体",
                 order.number, "12,000.00", "12,250.00", "2500 件"):
        assert word in text, word
    # every glyph from the @font-face the project installs (a fallback would be a system font)
    fonts = _fonts(confirmation)
    assert fonts and all(f.split("+")[1] in ("OH-CJK", "OH-CJK-Bold") for f in fonts), fonts
    quotation = _text(documents.order_pdf(order, "quotation"))
    assert "报价单" in quotation and "报价有效期" in quotation and "120.00" in quotation
    note = _text(documents.shipment_pdf(sh, "delivery-note"))
    for word in ("送货单", sh.number, "顺丰速运", "SF1234567890", "40 件", "收货人签收", "共 2 行，3 件"):
        assert word in note, word
    packing = _text(documents.shipment_pdf(sh, "packing-list"))
    assert "装箱单" in packing and "12.5 千克" in packing and "M8X30" in packing


def test_the_qr_code_links_to_the_order(shipped, settings):
    order, _sh = shipped
    settings.ORDERHUB_BASE_URL = "https://hub.factory.example"
    reader = pypdf.PdfReader(io.BytesIO(documents.order_pdf(order, "confirmation")))
    images = [img for page in reader.pages for img in page.images]
    assert len(images) >= 2      # the logo and the QR code
    assert documents.order_url(order.number) == f"https://hub.factory.example/orders/{order.number}/"


def test_an_admins_template_is_used_and_sees_only_the_data_passed(shipped, company):
    order, sh = shipped
    admin = company["actors"]["admin"]
    document_template_save(kind="delivery-note", actor=admin, body=(
        "<h1>定制送货单 {{ doc.title }}</h1><p>客户 {{ order.customer }}</p>"
        "<p>额度[{{ order.customer.credit_limit }}][{{ settings.SECRET_KEY }}]</p>"
        "{% for l in lines %}<p>第{{ l.no }}行 {{ l.name }} {{ l.qty }}</p>{% endfor %}"))
    text = _text(documents.shipment_pdf(sh, "delivery-note"))
    assert "定制送货单 送货单" in text and "第1行 传感器壳体 40" in text
    assert "额度[][]" in text            # no model behind the names: nothing to reach through them
    document_template_save(kind="delivery-note", actor=admin, body=None)
    assert not DocumentTemplate.objects.exists()
    assert "收货人签收" in _text(documents.shipment_pdf(sh, "delivery-note"))


@pytest.mark.parametrize("body, says", [
    ("<p>{% for l in lines %}{{ l.name }}</p>\n", "第 1 行"),
    ("第一行\n第二行 {% if %}", "第 2 行"),
    ("{% debug %}", "debug"),
    ("{% load static %}", "单据模板有错误"),
    ('{% include "web/base.html" %}', "单据模板有错误"),
    ("{{ lines|no_such_filter }}", "单据模板有错误"),
])
def test_a_broken_template_is_refused_in_chinese_naming_the_fault(company, body, says):
    with pytest.raises(ValidationFailed) as refused:
        document_template_save(kind="quotation", body=body, actor=company["actors"]["admin"])
    assert refused.value.problems[0].field == "body"
    assert "单据模板有错误" in refused.value.message and says in refused.value.message
    assert not DocumentTemplate.objects.exists()


def test_a_stored_broken_template_gives_a_reason_not_a_500(shipped, company):
    order, sh = shipped
    from django.utils import timezone

    DocumentTemplate.objects.create(kind="confirmation", body="{% if %}", updated_at=timezone.now(),
                                    updated_by="x")
    api = login("sales")
    resp = api.get(f"/api/orders/{order.number}/documents/confirmation")
    assert resp.status_code == 409 and resp.json()["code"] == "template_error"
    assert "单据模板有错误" in resp.json()["message"]
    page = api.get(f"/orders/{order.number}/documents/confirmation.pdf", follow=True)
    assert page.status_code == 200 and "单据模板有错误" in page.content.decode()


def test_the_renderer_fetches_nothing_a_template_names(shipped, company, private_targets_allowed):
    order, _sh = shipped
    receiver = Receiver()
    try:
        document_template_save(kind="quotation", actor=company["actors"]["admin"], body=(
            f'<img src="{receiver.url}/x.png"><link rel="stylesheet" href="{receiver.url}/x.css">'
            '<img src="file:///etc/passwd"><p>{{ order.number }}</p>'))
        assert order.number in _text(documents.order_pdf(order, "quotation"))
        assert receiver.requests == []
    finally:
        receiver.close()


def test_documents_download_from_the_pages_and_the_api(shipped):
    order, sh = shipped
    web = login("finance")
    page = web.get(f"/orders/{order.number}/").content.decode()
    assert f"/orders/{order.number}/documents/confirmation.pdf" in page
    for url in (f"/orders/{order.number}/documents/quotation.pdf",
                f"/shipping/{sh.number}/documents/delivery-note.pdf",
                f"/api/orders/{order.number}/documents/confirmation",
                f"/api/shipping/shipments/{sh.number}/documents/packing-list"):
        resp = web.get(url)
        assert resp.status_code == 200, url
        assert resp["Content-Type"] == "application/pdf" and resp["Content-Disposition"].startswith("attachment;")
        assert resp["X-Content-Type-Options"] == "nosniff"
        assert order.number in _text(resp.content)
    assert web.get(f"/orders/{order.number}/documents/delivery-note.pdf").status_code == 404
    assert web.get(f"/api/orders/{order.number}/documents/delivery-note").status_code == 422


def test_letterhead_and_templates_through_the_api(company):
    admin = login("admin")
    resp = admin.put("/api/shipping/letterhead", {"name": "精密公司", "address": "苏州", "phone": "1"},
                     content_type="application/json")
    assert resp.status_code == 200 and resp.json()["name"] == "精密公司"
    bad = admin.put("/api/shipping/letterhead", {"name": "x", "logo_base64": "aGVsbG8="},
                    content_type="application/json")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "logo"
    tpl = admin.put("/api/shipping/templates/quotation", {"body": "{% for %}"}, content_type="application/json")
    assert tpl.status_code == 422 and "单据模板有错误" in tpl.json()["message"]
    ok = admin.put("/api/shipping/templates/quotation", {"body": "<p>{{ order.number }}</p>"},
                   content_type="application/json")
    assert ok.json() == {"kind": "quotation", "body": "<p>{{ order.number }}</p>", "custom": True}
    assert login("sales").get("/api/shipping/templates/quotation").status_code == 403


def test_a_1000_line_delivery_note_prints_every_line(company):
    """The bench's document (bench/delivery_note.py measures its time): 1,000 lines from the
    database through the shipped template, every line on the pages."""
    data = order_input(lines=[LineInput(sku="M8X30", qty=D(i)) for i in range(1, 1001)])
    order = orders.order_create(data=data, actor=company["actors"]["admin"]).order
    sh = shipment_create(order=order.number, actor=company["actors"]["warehouse"],
                         data=ShipmentInput(quantities={i: D(i) for i in range(1, 1001)}))
    pdf = documents.shipment_pdf(sh, "delivery-note")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert len(reader.pages) > 10 and f"第 {len(reader.pages)} 页 / 共 {len(reader.pages)} 页" in text
    # every line: its number, product and quantity on one printed row, in order
    rows = [ln for ln in text.splitlines() if " M8X30 M8×30 螺栓 " in ln]
    assert rows == [f"{i} M8X30 M8×30 螺栓 {i} 件" for i in range(1, 1001)]
    assert "合计 500500共 1000 行，1 件" in text        # the total quantity and the line count
    # printed again: the same bytes, from the cache (core.pdf), not made anew
    assert documents.shipment_pdf(sh, "delivery-note") == pdf


def test_the_pdf_cache_serves_the_same_document_and_never_a_stale_one(shipped, company, monkeypatch):
    order, sh = shipped
    made = []
    real = pdf_module._stylesheet

    def counting(*args):
        made.append(1)
        return real(*args)

    monkeypatch.setattr(pdf_module, "_stylesheet", counting)
    first = documents.shipment_pdf(sh, "delivery-note")
    again = documents.shipment_pdf(sh, "delivery-note")
    assert again == first and len(made) == 1          # printed twice: made once
    sh.waybill = "SF-CHANGED"
    sh.save(update_fields=["waybill"])
    changed = documents.shipment_pdf(sh, "delivery-note")
    assert len(made) == 2 and "SF-CHANGED" in _text(changed)
    letterhead_save(actor=company["actors"]["admin"], name="新抬头有限公司", address="", phone="", logo=None)
    assert "新抬头有限公司" in _text(documents.shipment_pdf(sh, "delivery-note")) and len(made) == 3
    fresh = documents.render_pdf("delivery-note", documents.shipment_context(sh, "delivery-note"),
                                 url=documents.order_url(order.number), cache_result=False)
    assert len(made) == 4 and "新抬头有限公司" in _text(fresh)

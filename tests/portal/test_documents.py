"""The customer's shipments and documents on the portal: each shipment of their own order with
its state, carrier and waybill; the order confirmation and, once a shipment has left, its
delivery note and packing list as PDFs. Another customer's order or shipment, a shipment not yet
shipped and an unknown document are 404, on the pages and in the API."""

from __future__ import annotations

import io
from decimal import Decimal as D

import pytest
from django.test import Client
from pypdf import PdfReader

from orderhub.shipping.services import ShipmentInput, shipment_create, shipment_ship

from .conftest import sign_in

pytestmark = pytest.mark.django_db


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_customer_sees_their_shipments_and_downloads_only_their_documents(
        two_customers, company, mail_endpoint, django_capture_on_commit_callbacks):
    mine, theirs = two_customers["orders"]["A"][0], two_customers["orders"]["B"][0]
    wh = company["actors"]["warehouse"]
    left = shipment_create(order=mine.number, actor=wh, data=ShipmentInput(
        quantities={1: D("2")}, carrier="顺丰速运", waybill="SF0001", packages=1))
    shipment_ship(shipment=left.number, actor=wh)
    planned = shipment_create(order=mine.number, actor=wh, data=ShipmentInput(quantities={1: D("1")}))
    other = shipment_create(order=theirs.number, actor=wh, data=ShipmentInput(quantities={1: D("3")}))
    shipment_ship(shipment=other.number, actor=wh)

    c = Client()
    sign_in(c, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    page = c.get(f"/portal/orders/{mine.number}/").content.decode()
    for word in (left.number, "已发货", "SF0001", planned.number, "待发货", "送货单（PDF）", "订单确认书（PDF）"):
        assert word in page, word
    note = c.get(f"/portal/orders/{mine.number}/shipments/{left.number}/delivery-note.pdf")
    assert note.status_code == 200 and note["Content-Type"] == "application/pdf"
    assert "attachment" in note["Content-Disposition"] and left.number in _text(note.content)
    confirmation = c.get(f"/portal/orders/{mine.number}/confirmation.pdf")
    assert confirmation.status_code == 200 and mine.number in _text(confirmation.content)
    for path in (f"/portal/orders/{mine.number}/shipments/{planned.number}/delivery-note.pdf",  # not left yet
                 f"/portal/orders/{mine.number}/shipments/{other.number}/delivery-note.pdf",    # B's shipment
                 f"/portal/orders/{theirs.number}/shipments/{other.number}/packing-list.pdf",   # B's order
                 f"/portal/orders/{theirs.number}/confirmation.pdf",
                 f"/portal/orders/{mine.number}/shipments/{left.number}/quotation.pdf"):        # no such document
        assert c.get(path).status_code == 404, path

    api = c.get(f"/api/portal/me/orders/{mine.number}/shipments").json()
    assert [(s["number"], s["status"], s["waybill"]) for s in api] == [
        (left.number, "shipped", "SF0001"), (planned.number, "planned", "")]
    assert api[0]["lines"] == [{"line_no": 1, "product": "传感器壳体", "unit": "件", "qty": "2"}]
    assert "created_by" not in api[0] and "shipped_by" not in api[0]
    got = c.get(f"/api/portal/me/orders/{mine.number}/shipments/{left.number}/packing-list")
    assert got.status_code == 200 and left.number in _text(got.content)
    assert c.get(f"/api/portal/me/orders/{mine.number}/confirmation").status_code == 200
    for path in (f"/api/portal/me/orders/{theirs.number}/shipments",
                 f"/api/portal/me/orders/{theirs.number}/confirmation",
                 f"/api/portal/me/orders/{mine.number}/shipments/{other.number}/delivery-note",
                 f"/api/portal/me/orders/{mine.number}/shipments/{planned.number}/delivery-note"):
        assert c.get(path).status_code == 404, path
    assert Client().get(f"/api/portal/me/orders/{mine.number}/shipments").status_code == 401

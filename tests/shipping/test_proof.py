"""Proof of delivery and the customer's acceptance per shipment: recorded only once shipped,
each an event in the order's history, the POD served only as a download, and the invoice gate's
reason until both are there."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderhub.core.errors import Conflict, PermissionDenied, ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.orders import services as orders
from orderhub.orders.inputs import LineInput
from orderhub.shipping import events
from orderhub.shipping.selectors import invoice_refusal
from orderhub.shipping.services import (
    ShipmentInput,
    shipment_accept,
    shipment_create,
    shipment_pod,
    shipment_ship,
)
from tests.conftest import order_input
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db
SCAN = b"\x89PNG\r\n\x1a\n" + b"signed delivery note" * 10


@pytest.fixture
def planned(company, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    order = orders.order_create(data=order_input(lines=[LineInput(sku="M8X30", qty=Decimal("10"))]),
                                actor=company["actors"]["sales"]).order
    return shipment_create(order=order.number, actor=company["actors"]["warehouse"],
                           data=ShipmentInput(quantities={1: Decimal("10")}))


def test_pod_and_acceptance_open_the_invoice_gate(planned, company):
    wh = company["actors"]["warehouse"]
    assert "还未发货" in invoice_refusal(planned)
    with pytest.raises(Conflict) as early:
        shipment_pod(shipment=planned.number, name="pod.png", content=SCAN, actor=wh)
    assert early.value.code == "not_shipped"
    shipment_ship(shipment=planned.number, actor=wh)
    planned.refresh_from_db()
    assert invoice_refusal(planned) == f"发货单 {planned.number} 不能开票：缺少签收凭证、缺少客户验收。"
    with pytest.raises(PermissionDenied):
        shipment_pod(shipment=planned.number, name="pod.png", content=SCAN, actor=company["actors"]["sales"])
    with pytest.raises(ValidationFailed):
        shipment_pod(shipment=planned.number, name="pod.png", content=b"", actor=wh)
    sh = shipment_pod(shipment=planned.number, name="../签收单.png", content=SCAN, actor=wh)
    assert sh.pod_name == ".._签收单.png" and invoice_refusal(sh).endswith("缺少客户验收。")
    with pytest.raises(ValidationFailed):
        shipment_accept(shipment=planned.number, accepted_by=" ", actor=wh)
    sh = shipment_accept(shipment=planned.number, accepted_by="王工", note="外箱轻微破损，货物完好", actor=wh)
    assert invoice_refusal(sh) == ""
    with pytest.raises(Conflict):
        shipment_accept(shipment=planned.number, accepted_by="王工", actor=wh)
    actions = list(AuditEvent.objects.filter(subject_type="order", subject_id=sh.order_id)
                   .order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == [events.SHIPMENT_POD_ADDED, events.SHIPMENT_ACCEPTED]


def test_pod_and_acceptance_through_the_api_and_the_page(planned, company):
    shipment_ship(shipment=planned.number, actor=company["actors"]["warehouse"])
    api = login("logistics")
    base = f"/api/shipping/shipments/{planned.number}"
    assert api.get(f"{base}/pod").status_code == 404
    from django.core.files.uploadedfile import SimpleUploadedFile

    up = api.post(f"{base}/pod", {"file": SimpleUploadedFile("回单.png", SCAN, content_type="image/png")})
    assert up.status_code == 200 and up.json()["pod_name"] == "回单.png"
    got = login("finance").get(f"{base}/pod")
    assert got.status_code == 200 and b"".join(got.streaming_content) == SCAN
    assert got["Content-Type"] == "application/octet-stream" and got["Content-Disposition"].startswith("attachment;")
    acc = api.post(f"{base}/acceptance", {"accepted_by": "李经理", "note": "验收合格"}, content_type="application/json")
    assert acc.status_code == 200 and acc.json()["invoice_refusal"] == ""
    again = api.post(f"{base}/acceptance", {"accepted_by": "李经理"}, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "already_accepted"
    page = login("finance").get(f"/shipping/{planned.number}/").content.decode()
    assert "可以开票" in page and "李经理" in page and f"/shipping/{planned.number}/pod/file" in page
    assert 'data-testid="upload-pod"' not in page          # finance sees, does not record

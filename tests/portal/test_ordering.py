"""From the portal: place an order with a drawing (through intake's quick-order path, raw
first), reorder an earlier order, and ask for a change that enters the staff's approval flow;
each audited, and customer A can never reach B's orders (also in the isolation crawl)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from orderhub.core import clock
from orderhub.core.audit import AuditEvent
from orderhub.intake.models import InboundMessage
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Attachment, ChangeRequest, Order
from tests.conftest import order_input
from tests.portal.conftest import sign_in

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def a_client(two_customers, mail_endpoint, django_capture_on_commit_callbacks, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    c = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-hans")
    sign_in(c, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    return c


def _due() -> str:
    return (clock.now() + timedelta(days=20)).date().isoformat()


def test_place_an_order_with_a_drawing_through_intake(a_client, two_customers):
    page = a_client.get("/portal/orders/new/")
    assert page.status_code == 200 and "HSG-100" in page.content.decode()   # products they ordered before
    drawing = SimpleUploadedFile("支架图纸.pdf", b"%PDF-1.4 drawing", content_type="application/pdf")
    r = a_client.post("/portal/orders/new/", {"sku": ["HSG-100", ""], "qty": ["5", ""], "due_date": _due(),
                                               "remark": "按图纸加工", "files": [drawing]})
    assert r.status_code == 302 and r["Location"].endswith("?placed=1"), r.content.decode()[:800]
    order = Order.objects.exclude(pk__in=[o.pk for o in two_customers["orders"]["A"]]).get(customer__code="C001")
    assert r["Location"] == f"/portal/orders/{order.number}/?placed=1"
    assert order.channel == "quick" and [(ln.product.sku, ln.qty) for ln in order.lines.all()] == [("HSG-100", D("5"))]
    assert list(Attachment.objects.filter(order=order).values_list("name", flat=True)) == ["支架图纸.pdf"]
    raw = json.loads(bytes(InboundMessage.objects.get(kind="quick").payload))   # stored raw first
    assert raw["via"] == "portal" and raw["contact"] == two_customers["contacts"]["A"].pk
    assert raw["files"][0]["name"] == "支架图纸.pdf"
    ev = AuditEvent.objects.get(action="portal.order_placed")
    assert ev.data["order"] == order.number and ev.data["files"] == 1
    assert "感谢" in a_client.get(r["Location"]).content.decode()
    bad = a_client.post("/portal/orders/new/", {"sku": ["NO-SUCH"], "qty": ["0"], "due_date": _due()})
    assert bad.status_code == 400 and "没有找到产品“NO-SUCH”" in bad.content.decode()


def test_reorder_copies_only_my_own_orders(a_client, two_customers):
    a0, b0 = two_customers["orders"]["A"][0], two_customers["orders"]["B"][0]
    page = a_client.get(f"/portal/orders/new/?from={a0.number}")
    assert page.status_code == 200 and 'value="HSG-100"' in page.content.decode() and 'value="3"' in page.content.decode()
    assert a_client.get(f"/portal/orders/new/?from={b0.number}").status_code == 404
    r = a_client.post(f"/api/portal/me/orders/{a0.number}/reorder", {"due_date": _due()}, content_type="application/json")
    assert r.status_code == 201, r.content
    new = Order.objects.get(number=r.json()["order"])
    assert new.customer_id == a0.customer_id and [(ln.product.sku, ln.qty) for ln in new.lines.all()] == [("HSG-100", D("3"))]
    assert AuditEvent.objects.get(action="portal.reorder").data["reorder_of"] == a0.number
    assert a_client.post(f"/api/portal/me/orders/{b0.number}/reorder", {"due_date": _due()},
                         content_type="application/json").status_code == 404
    placed = a_client.post("/api/portal/me/new-orders", {"lines": [{"sku": "HSG-100", "qty": "2"}], "due_date": _due(),
                                                     "files": [{"name": "a.dxf", "base64": "MTIz"}]},
                           content_type="application/json")
    assert placed.status_code == 201 and Attachment.objects.filter(order__number=placed.json()["order"]).count() == 1


def test_change_request_enters_the_staff_approval_flow(a_client, two_customers, company):
    a = company["actors"]
    number = services.order_create(data=order_input(workflow="T2", lines=[LineInput(sku="M8X30", qty=D("5"))]),
                                   actor=a["sales"]).order.number
    assert services.order_transition(order=number, to="picking", actor=a["service"]).ok
    b0 = two_customers["orders"]["B"][0]
    page = a_client.get(f"/portal/orders/{number}/change/")
    assert page.status_code == 200
    assert a_client.get(f"/portal/orders/{b0.number}/change/").status_code == 404
    assert a_client.post(f"/portal/orders/{b0.number}/change/", {"reason": "x", "qty_1": "9"}).status_code == 404
    empty = a_client.post(f"/portal/orders/{number}/change/", {"qty_1": "8", "reason": ""})
    assert empty.status_code == 400
    r = a_client.post(f"/portal/orders/{number}/change/", {"qty_1": "8", "reason": "项目追加 3 件"})
    assert r.status_code == 302 and r["Location"].endswith("?changed=1")
    cr = ChangeRequest.objects.get(order__number=number)
    assert cr.status == "pending" and cr.approvers[:2] == ["service", "warehouse"] and cr.reason == "项目追加 3 件"
    assert cr.requested_by.startswith("王采购") and cr.requested_by_user is None
    assert AuditEvent.objects.filter(action="portal.change_requested", data__request=cr.pk).exists()
    assert "项目追加 3 件" in a_client.get(f"/portal/orders/{number}/change/").content.decode()
    # staff decide it the usual way; the last approval applies
    for role in cr.approvers:
        cr = services.change_request_decide(request=cr.pk, approve=True, comment="可以", actor=a[role])
    assert cr.status == "approved" and Order.objects.get(number=number).lines.get().qty == D("8")
    api = a_client.post(f"/api/portal/me/orders/{b0.number}/change-requests", {"reason": "x", "quantities": {"1": "9"}},
                        content_type="application/json")
    assert api.status_code == 404 and not ChangeRequest.objects.filter(order=b0).exists()

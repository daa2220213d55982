"""Documents attached to the customer's e-mails (issue 19, item 2), through a real SMTP server on
loopback (aiosmtpd): the shipping notice carries the delivery note, the order confirmation (sent
when the order leaves its first stage) carries the order confirmation. The outbox keeps only a
reference (the PDF is made when the e-mail is sent); a document that cannot be made is left out
and the delivery says why; one that fails for a passing reason makes the delivery retry."""

from __future__ import annotations

import io
from decimal import Decimal
from email.header import decode_header, make_header

import pypdf
import pytest
from django.utils import timezone

from orderhub.notify import attachments
from orderhub.notify.models import Message
from orderhub.notify.services import endpoint_save
from orderhub.orders import services as orders
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order
from orderhub.shipping import documents, events
from orderhub.shipping.models import DocumentTemplate
from orderhub.shipping.services import ShipmentInput, shipment_create
from tests.conftest import order_input

pytestmark = pytest.mark.django_db
D = Decimal


def _header(value: str) -> str:
    return str(make_header(decode_header(value)))


def _pdfs(mail) -> dict[str, str]:
    """The PDF attachments of ``mail``: file name -> the text pypdf reads from it."""
    out = {}
    for part in mail.walk():
        if part.get_content_type() == "application/pdf":
            reader = pypdf.PdfReader(io.BytesIO(part.get_payload(decode=True)))
            out[part.get_filename()] = "\n".join(page.extract_text() for page in reader.pages)
    return out


@pytest.fixture
def mailer(company, smtp, inline_jobs):
    endpoint_save(code="smtp", name="邮件", kind="email", actor=company["actors"]["admin"],
                  config={"host": "127.0.0.1", "port": smtp.port, "from_email": "hub@factory.example"})
    company["customer"].email = "buyer@borui.example"
    company["customer"].save()
    return smtp


def _order(company) -> Order:
    data = order_input(lines=[LineInput(sku="HSG-100", qty=D("100"), unit_price=D("120")),
                              LineInput(sku="M8X30", qty=D("2500"), unit_price=D("0.1"))])
    return orders.order_create(data=data, actor=company["actors"]["sales"]).order


def test_the_shipping_notice_carries_the_delivery_note_made_at_send_time(
        company, mailer, django_capture_on_commit_callbacks):
    order = _order(company)
    with django_capture_on_commit_callbacks(execute=True):
        sh = shipment_create(order=order.number, actor=company["actors"]["warehouse"], data=ShipmentInput(
            quantities={1: D("40"), 2: D("2500")}, carrier="顺丰速运", waybill="SF300", packages=3))
    msg = Message.objects.get(event=events.SHIPPING_NOTICE)
    # the outbox row holds a reference, not the PDF
    assert msg.payload["attachment_refs"] == [
        {"kind": "shipping.document", "args": {"doc": "delivery-note", "number": sh.number}}]
    assert "attachments" not in msg.payload
    rcpt, mail = mailer.wait_for(1)[0]
    assert rcpt == ["buyer@borui.example"]
    pdfs = _pdfs(mail)
    assert list(pdfs) == [f"送货单-{sh.number}.pdf"]
    text = pdfs[f"送货单-{sh.number}.pdf"]
    for word in ("送货单", sh.number, order.number, "顺丰速运", "SF300", "40 件", "2500 件", "共 2 行，3 件"):
        assert word in text, word
    msg.refresh_from_db()
    assert msg.status == "delivered"


def test_the_order_confirmation_goes_once_when_the_order_leaves_its_first_stage(
        company, mailer, django_capture_on_commit_callbacks):
    order = _order(company)
    assert not Message.objects.filter(event=events.ORDER_CONFIRMATION).exists()   # created: not yet
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_transition(order=order.number, to="scheduled", actor=company["actors"]["service"])
    rcpt, mail = mailer.wait_for(1)[0]
    assert rcpt == ["buyer@borui.example"]
    assert _header(mail["Subject"]) == f"订单确认：订单 {order.number}"
    pdfs = _pdfs(mail)
    text = pdfs[f"订单确认书-{order.number}.pdf"]
    for word in ("订单确认书", order.number, "苏州博锐精工", "传感器壳体", "12,000.00", "12,250.00", "2500 件"):
        assert word in text, word
    # a later move is no new confirmation, nor is a move back and forth through the first stage
    orders.order_transition(order=order.number, to="materials_ready", actor=company["actors"]["admin"])
    assert Message.objects.filter(event=events.ORDER_CONFIRMATION).count() == 1


def test_no_customer_email_no_confirmation(company, smtp, inline_jobs):
    endpoint_save(code="smtp", name="邮件", kind="email", actor=company["actors"]["admin"],
                  config={"host": "127.0.0.1", "port": smtp.port})
    order = _order(company)
    orders.order_transition(order=order.number, to="scheduled", actor=company["actors"]["service"])
    assert not Message.objects.filter(event=events.ORDER_CONFIRMATION).exists()


def test_a_document_that_cannot_be_made_is_left_out_and_the_delivery_says_why(
        company, mailer, django_capture_on_commit_callbacks):
    DocumentTemplate.objects.create(kind="confirmation", body="{% if %}", updated_at=timezone.now(),
                                    updated_by="x")
    order = _order(company)
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_transition(order=order.number, to="scheduled", actor=company["actors"]["service"])
    _rcpt, mail = mailer.wait_for(1)[0]
    assert _pdfs(mail) == {} and _header(mail["Subject"]) == f"订单确认：订单 {order.number}"
    msg = Message.objects.get(event=events.ORDER_CONFIRMATION)
    attempt = msg.attempt_log.order_by("-number").first()
    assert msg.status == "delivered" and "单据模板有错误" in attempt.response


def test_a_passing_fault_retries_the_delivery(company, mailer, django_capture_on_commit_callbacks,
                                             monkeypatch):
    order = _order(company)

    def broken(args):
        raise OSError("disk full")

    monkeypatch.setitem(attachments._MAKERS, documents.ATTACHMENT, broken)
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_transition(order=order.number, to="scheduled", actor=company["actors"]["service"])
    msg = Message.objects.get(event=events.ORDER_CONFIRMATION)
    assert msg.status != "delivered" and "disk full" in msg.last_error
    assert mailer.messages == []


def test_a_reference_to_a_document_that_is_gone_names_it(company):
    with pytest.raises(documents.DocumentError) as gone:
        documents.make_attachment({"doc": "delivery-note", "number": "SO-NOPE-F1"})
    assert "SO-NOPE-F1" in gone.value.message and "送货单" in gone.value.message
    made = attachments.make(documents.attachment_ref("confirmation", _order(company).number))
    assert made.content_type == "application/pdf" and made.data.startswith(b"%PDF-")

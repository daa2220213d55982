"""Fixtures of the portal tests: two customers with orders and a contact each, a real SMTP
receiver on loopback (tests/notify) and an e-mail endpoint pointing at it."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from orderhub.catalog.models import Customer
from orderhub.core.actors import Actor
from orderhub.orders.inputs import LineInput
from orderhub.orders.services import order_create
from orderhub.portal.services import ContactInput, contact_save
from tests.conftest import order_input
from tests.notify.conftest import SmtpSink, private_targets_allowed  # noqa: F401  (fixture)

CODE = re.compile(r"验证码是 (\d{6})")


@pytest.fixture
def two_customers(company, settings):
    """Customer A (C001) and B (C002), each with two orders and one portal contact."""
    settings.ORDERHUB_RATE_LIMITS = {}
    service = company["actors"]["service"]
    b = Customer.objects.create(code="C002", name="宁波海顺五金", tier="B", credit_limit=Decimal("100000"))
    orders = {"A": [], "B": []}
    for who, code in (("A", "C001"), ("B", "C002")):
        for i in range(2):
            o = order_create(data=order_input(customer=code, external_ref=f"PO-{who}-{i}",
                                              lines=[LineInput(sku="HSG-100", qty=Decimal("3"))],
                                              required_date=date(2027, 3, 10 + i), remarks=f"内部备注{who}{i}"),
                             actor=service).order
            orders[who].append(o)
    admin = company["actors"]["admin"]
    ca = contact_save(customer="C001", data=ContactInput(name="王采购", email="buyer@a.example", mobile="13800000001"),
                      actor=admin)
    cb = contact_save(customer="C002", data=ContactInput(name="李经理", email="boss@b.example"), actor=admin)
    return {"orders": orders, "contacts": {"A": ca, "B": cb}, "customers": {"A": company["customer"], "B": b}}


@pytest.fixture
def smtp(private_targets_allowed):  # noqa: F811
    s = SmtpSink()
    yield s
    s.close()


@pytest.fixture
def mail_endpoint(company, smtp, settings):
    from orderhub.notify.services import endpoint_save

    settings.ORDERHUB_RUN_JOBS_INLINE = True
    endpoint_save(code="smtp", name="邮件", kind="email", actor=Actor.system("test"),
                  config={"host": "127.0.0.1", "port": smtp.port, "from_email": "hub@factory.example"})
    return smtp


def mail_text(msg) -> str:
    return msg.get_payload(decode=True).decode(msg.get_content_charset() or "utf-8")


def sign_in(client: Client, email: str, smtp: SmtpSink, capture) -> str:
    """The whole sign-in through the pages: ask for a code, read it from the mail received, type it."""
    before = len(smtp.messages)
    with capture(execute=True):
        resp = client.post("/portal/login/", {"identifier": email})
    assert resp.status_code == 302 and resp["Location"] == "/portal/login/code/", resp.content.decode()[:500]
    rcpt, msg = smtp.wait_for(before + 1)[before]
    assert rcpt == [email]
    code = CODE.search(mail_text(msg)).group(1)
    resp = client.post("/portal/login/code/", {"code": code})
    assert resp.status_code == 302 and resp["Location"] == "/portal/", resp.content.decode()[:500]
    return code

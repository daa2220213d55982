"""The new-order form (issue 14.7): every error in one round, the live preview (htmx) with
amounts and warnings, and saving past warnings only with a confirmation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from django.test import Client

from orderhub.core import clock
from orderhub.orders.models import Order
from tests.conftest import SH

pytestmark = pytest.mark.django_db


def _client(company, role="sales") -> Client:
    c = Client()
    c.force_login(company["users"][role])
    return c


def _post(**over):
    data = {"customer": "C001", "required_date": "2026-12-20", "urgency": "green",
            "line_sku": ["HSG-100"], "line_qty": ["200"], "line_unit": [""], "line_price": [""],
            "line_remarks": [""]}
    data.update(over)
    return data


@pytest.fixture
def today():
    with clock.frozen(datetime(2026, 12, 1, 10, 0, tzinfo=SH)):
        yield


def test_every_error_in_one_round(company, today):
    c = _client(company)
    resp = c.post("/orders/new/", _post(customer="NOPE", required_date="", line_sku=["HSG-100", "XX", "M8X30"],
                                        line_qty=["2", "1", "abc"], line_unit=["吨", "", ""],
                                        line_price=["", "", ""], line_remarks=["", "", ""]))
    assert resp.status_code == 400
    html = resp.content.decode()
    # the header's and the lines' faults together: date missing, unknown SKU, bad quantity, bad unit
    assert "XX" in html and html.count("invalid-feedback") >= 3, html
    assert Order.objects.count() == 0
    resp = c.post("/orders/new/", _post(customer="NOPE", line_sku=["HSG-100", "XX"], line_qty=["2", "1"],
                                        line_unit=["吨", ""], line_price=["", ""], line_remarks=["", ""]))
    html = resp.content.decode()
    assert "NOPE" in html and "XX" in html and "吨" in html  # customer, SKU and unit faults at once


def test_preview_partial_shows_amounts_and_warnings(company, today):
    Order.objects.all().delete()
    company["customer"].__class__.objects.filter(pk=company["customer"].pk).update(credit_limit=Decimal("50000"))
    c = _client(company)
    resp = c.post("/orders/new/preview", _post(required_date="2026-11-01", line_qty=["500"]))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "¥60,000.00" in html and 'data-code="past_date"' in html and 'data-code="credit_exceeded"' in html
    assert "苏州博锐精工" in html
    assert c.post("/orders/new/preview", _post(line_qty=["1"])).content.decode().count("preview-warning") == 0


def test_saving_past_warnings_needs_a_confirmation(company, today):
    company["customer"].__class__.objects.filter(pk=company["customer"].pk).update(credit_limit=Decimal("50000"))
    c = _client(company)
    resp = c.post("/orders/new/", _post(line_qty=["500"]))
    assert resp.status_code == 200 and 'data-testid="confirm-warnings"' in resp.content.decode()
    assert Order.objects.count() == 0
    resp = c.post("/orders/new/", _post(line_qty=["500"], confirm_warnings="1"))
    assert resp.status_code == 302
    assert Order.objects.get().total_amount == Decimal("60000")
    # no warnings (no credit limit set, a future date): saved at once
    company["customer"].__class__.objects.filter(pk=company["customer"].pk).update(credit_limit=Decimal("0"))
    resp = c.post("/orders/new/", _post(line_qty=["1"]))
    assert resp.status_code == 302

"""The customer master through the API (what the settings page edits): create, change only the
fields given, what the customer owes outside OrderHub and the total credit counts, refusals."""

from decimal import Decimal

import pytest

from orderhub.catalog.models import Customer
from orderhub.core.models import AuditEvent
from orderhub.orders.models import BreakerTrip
from orderhub.orders.services import order_create
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def test_an_erp_creates_and_changes_a_customer(api_as, company):
    admin = api_as("admin")
    resp = admin.put("/api/catalog/customers/c900", {"name": "宁波新客户", "tier": "A", "credit_limit": "80000",
                                                     "sales_owner": "sales", "mobile": "13800000000"})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert (body["code"], body["tier"], body["credit_limit"], body["sales_owner"]) == ("C900", "A", "80000.00", "sales")
    assert body["unpaid_external"] == body["unpaid_amount"] == "0.00"
    # a change names only what changes; the rest is kept
    resp = admin.put("/api/catalog/customers/C900", {"unpaid_external": "1500.50"})
    assert resp.json()["name"] == "宁波新客户" and resp.json()["unpaid_amount"] == "1500.50"
    assert admin.get("/api/catalog/customers/C900").json()["unpaid_external"] == "1500.50"
    c = Customer.objects.get(code="C900")
    ev = AuditEvent.objects.filter(subject_type="customer", subject_id=c.pk, action="customer.changed").get()
    for field in ("unpaid_external", "unpaid_amount"):
        assert [Decimal(v) for v in ev.changes[field]] == [0, Decimal("1500.50")]


def test_a_new_unpaid_figure_from_the_erp_trips_the_credit_breaker_at_once(api_as, company, monday_morning):
    order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
    limit = company["customer"].credit_limit
    resp = api_as("admin").put("/api/catalog/customers/C001", {"unpaid_external": str(limit)})
    assert resp.status_code == 200
    assert BreakerTrip.objects.filter(kind="credit", order=order, reset_at__isnull=True).exists()


def test_refusals_name_the_field(api_as, company):
    admin = api_as("admin")
    assert admin.get("/api/catalog/customers/NOPE").status_code == 404
    assert admin.put("/api/catalog/customers/C901", {"tier": "A"}).json()["errors"][0]["field"] == "name"
    bad = admin.put("/api/catalog/customers/C001", {"credit_limit": "-1"})
    assert bad.status_code == 422
    unknown = admin.put("/api/catalog/customers/C001", {"sales_owner": "ghost"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "sales_owner"
    assert admin.put("/api/catalog/customers/C001", {"unknown": 1}).status_code == 422
    assert api_as("sales").put("/api/catalog/customers/C001", {"tier": "C"}).status_code == 403
    assert Customer.objects.get(code="C001").credit_limit == company["customer"].credit_limit
    assert Decimal(admin.get("/api/catalog/customers/C001").json()["credit_limit"]) == company["customer"].credit_limit

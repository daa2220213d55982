"""Customer prices (issue 19.6): a customer's price list with quantity breaks and validity dates
is the default unit price of its order lines and the standard price of the price permission."""

from datetime import date
from decimal import Decimal

import pytest

from orderhub.catalog.models import Customer
from orderhub.catalog.prices import price_book
from orderhub.core.models import AuditEvent
from tests.api.conftest import order_body

pytestmark = pytest.mark.django_db

# HSG-100 lists at 120, M8X30 at 0.10 (tests/conftest.py); the clock is on 2026-11-23
PRICES = [
    {"sku": "HSG-100", "min_qty": "0", "unit_price": "110"},
    {"sku": "HSG-100", "min_qty": "100", "unit_price": "100", "valid_from": "2026-11-01"},
    {"sku": "HSG-100", "min_qty": "500", "unit_price": "90", "valid_from": "2026-12-01"},   # not yet
    {"sku": "M8X30", "min_qty": "0", "unit_price": "0.05", "valid_to": "2026-11-22"},      # expired
]


@pytest.fixture
def priced(api_as, monday_morning):
    resp = api_as("admin").put("/api/catalog/customers/c001/prices", PRICES)
    assert resp.status_code == 200, resp.content
    return resp.json()


def _prices(resp):
    assert resp.status_code == 201, resp.content
    return [ln["unit_price"] for ln in resp.json()["lines"]]


def test_quantity_break_picks_the_price_and_an_expired_list_is_ignored(api_as, priced):
    assert len(priced) == 4 and priced[0]["sku"] == "HSG-100"
    lines = [{"sku": "HSG-100", "qty": 10}, {"sku": "HSG-100", "qty": 100}, {"sku": "HSG-100", "qty": 600},
             {"sku": "M8X30", "qty": 1000}]
    assert _prices(api_as("sales").post("/api/orders", order_body(lines=lines))) == [
        "110.0000", "100.0000", "100.0000", "0.1000"]   # the 500 break starts in December; M8X30 expired
    customer = Customer.objects.get(code="C001")
    book = price_book(customer.pk, on=date(2026, 12, 1))
    from orderhub.catalog.models import Product
    hsg, bolt = Product.objects.get(sku="HSG-100"), Product.objects.get(sku="M8X30")
    assert book.price(hsg, Decimal("499")) == Decimal("100") and book.price(hsg, Decimal("500")) == Decimal("90")
    assert price_book(customer.pk, on=date(2026, 11, 22)).price(bolt, Decimal("1")) == Decimal("0.05")
    assert book.price(bolt, Decimal("1")) == Decimal("0.10")


def test_the_customer_price_needs_no_permission_another_price_does(api_as, priced):
    sales = api_as("sales")
    ok = sales.post("/api/orders", order_body(lines=[{"sku": "HSG-100", "qty": 150, "unit_price": "100"}]))
    assert _prices(ok) == ["100.0000"]
    listed = sales.post("/api/orders", order_body(lines=[{"sku": "HSG-100", "qty": 150, "unit_price": "120"}]))
    assert listed.status_code == 403, listed.content   # the list price is not this customer's price
    body = listed.json()
    assert body["code"] == "price_not_allowed" and body["errors"][0]["data"] == {"standard_price": "100.00"}
    assert body["errors"][0]["field"] == "lines[0].unit_price"
    small = sales.post("/api/orders", order_body(lines=[{"sku": "HSG-100", "qty": 10, "unit_price": "100"}]))
    assert small.status_code == 403   # 100 is the price from 100 pieces, not for 10
    assert _prices(api_as("manager").post("/api/orders", order_body(
        lines=[{"sku": "HSG-100", "qty": 150, "unit_price": "120"}]))) == ["120.0000"]


def test_the_list_is_replaced_validated_and_audited(api_as, monday_morning):
    admin = api_as("admin")
    assert admin.get("/api/catalog/customers/C001/prices").json() == []
    bad = admin.put("/api/catalog/customers/C001/prices", [
        {"sku": "NOPE", "unit_price": "1"},
        {"sku": "HSG-100", "unit_price": "1", "valid_from": "2026-12-01", "valid_to": "2026-11-01"}])
    assert bad.status_code == 422, bad.content
    assert {e["field"] for e in bad.json()["errors"]} == {"prices[0].sku", "prices[1].valid_to"}
    assert admin.put("/api/catalog/customers/C001/prices", PRICES).status_code == 200
    assert admin.put("/api/catalog/customers/C001/prices", PRICES[:1]).status_code == 200
    rows = admin.get("/api/catalog/customers/C001/prices").json()
    assert [(r["sku"], r["unit_price"]) for r in rows] == [("HSG-100", "110.0000")]
    events = AuditEvent.objects.filter(action="customer.prices_changed").order_by("pk")
    assert events.count() == 2 and len(events.last().changes["prices"][1]) == 1
    assert api_as("sales").put("/api/catalog/customers/C001/prices", PRICES).status_code == 403
    assert admin.get("/api/catalog/customers/NOPE/prices").status_code == 404


def test_a_batch_for_many_customers_reads_their_prices_in_one_query(api_as, priced, company):
    """Each order takes its own customer's price; the batch reads every customer's prices at
    once (one query per customer made a 100-order import batch 2.5× slower)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orderhub.catalog.services import customer_save
    from orderhub.orders.services import order_create_batch
    from tests.conftest import order_input

    admin = company["actors"]["admin"]
    for code in ("C801", "C802", "C803"):
        customer_save(code=code, data={"name": f"客户{code}", "sales_owner": company["users"]["sales"]}, actor=admin)
    items = [order_input(customer=c, external_ref=f"px-{c}") for c in ("C001", "C801", "C802", "C803")]
    with CaptureQueriesContext(connection) as q:
        res = order_create_batch(items=items, actor=company["actors"]["sales"])
    assert [str(r.order.lines.get().unit_price) for r in res] == ["100.0000", "120.0000", "120.0000", "120.0000"]
    assert sum("catalog_customerprice" in x["sql"] for x in q.captured_queries) == 1


@pytest.mark.postgres
def test_the_master_datas_prices_equal_the_price_books(company, monday_morning):
    """The fast twin reads the customers' prices with their master data (no query of its own);
    its books equal ``price_books``': breaks, validity both ways, two valid rows at one break
    (the latest start wins; an undated start sorts first, as the ORM orders it on PostgreSQL),
    and a customer without prices."""
    from orderhub.catalog.models import CustomerPrice, Product
    from orderhub.catalog.prices import price_books
    from orderhub.catalog.selectors import master_data
    from orderhub.catalog.services import customer_save

    customer_save(code="C802", data={"name": "客户C802", "sales_owner": company["users"]["sales"]},
                  actor=company["actors"]["admin"])
    c, bare = Customer.objects.get(code="C001"), Customer.objects.get(code="C802")
    hsg, m8 = Product.objects.get(sku="HSG-100"), Product.objects.get(sku="M8X30")
    for pid, q, u, start, end in ((hsg.pk, "0", "110", None, None), (hsg.pk, "0", "105", date(2026, 11, 1), None),
                                  (hsg.pk, "100", "100", date(2026, 11, 1), None),
                                  (hsg.pk, "100", "98", date(2026, 11, 10), None),
                                  (hsg.pk, "500", "90", date(2026, 12, 1), None),
                                  (m8.pk, "0", "0.05", None, date(2026, 11, 22)),
                                  (m8.pk, "10", "0.08", None, date(2026, 11, 30))):
        CustomerPrice.objects.create(customer=c, product_id=pid, min_qty=Decimal(q), unit_price=Decimal(u),
                                     valid_from=start, valid_to=end)
    md = master_data(customers=["C001", "C802"])
    books = price_books([c.pk, bare.pk])
    assert {k: b.breaks for k, b in md.prices.items()} == {k: b.breaks for k, b in books.items()}
    assert md.prices[c.pk].breaks == {hsg.pk: [(Decimal("100"), Decimal("98")), (Decimal("0"), Decimal("110"))],
                                      m8.pk: [(Decimal("10"), Decimal("0.08"))]}
    assert md.prices[bare.pk].breaks == {}

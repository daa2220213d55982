"""Master data is looked up once, and an inactive customer or product is unknown everywhere:
to order creation on the ORM path and the fast path, to the batch path, the API and intake."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from orderhub.catalog.models import Customer, Product, UnitConversion
from orderhub.catalog.selectors import master_data
from orderhub.core.errors import ValidationFailed
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order
from tests.api.conftest import ApiClient, order_body
from tests.conftest import order_input
from tests.intake.conftest import intake_actor, master, sample  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

# the fast path exists on PostgreSQL only; elsewhere both settings run the ORM twins
PATHS = ["fast", "orm"]


@pytest.fixture(params=PATHS)
def sql_path(request):
    with override_settings(ORDERHUB_SQL_PATH=request.param), translation.override("en"):
        yield request.param


@pytest.fixture
def retired(company):
    """A customer and a product no longer in use, beside the active ones."""
    Customer.objects.create(code="C-GONE", name="停用客户", is_active=False, sales_owner=company["users"]["sales"])
    Product.objects.create(sku="OLD-1", name="停产件", unit="件", list_price=Decimal("1"), is_active=False)
    return company


def _problems(exc: ValidationFailed) -> list[tuple[str, str, str]]:
    return [(p.code, p.field, p.message) for p in exc.problems]


def test_order_for_an_inactive_customer_or_product_is_refused(retired, sql_path):
    sales = retired["actors"]["sales"]
    with pytest.raises(ValidationFailed) as e:
        services.order_create(data=order_input(customer="C-GONE"), actor=sales)
    assert _problems(e.value) == [("unknown_customer", "customer", "Unknown customer 'C-GONE'.")]
    with pytest.raises(ValidationFailed) as e:
        services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("1")),
                                                      LineInput(sku="OLD-1", qty=Decimal("1"))]), actor=sales)
    assert _problems(e.value) == [("unknown_sku", "lines[1].sku", "Unknown SKU 'OLD-1'.")]
    assert not Order.objects.exists()
    # the same again, active: accepted (the refusal was the rule, not the data)
    Customer.objects.filter(code="C-GONE").update(is_active=True)
    Product.objects.filter(sku="OLD-1").update(is_active=True)
    created = services.order_create(data=order_input(customer="C-GONE", lines=[
        LineInput(sku="OLD-1", qty=Decimal("1"))]), actor=sales)
    assert created.created and created.order.owner_id == retired["users"]["sales"].pk


def test_batch_refuses_the_items_naming_inactive_master_data(retired, sql_path):
    res = services.order_create_batch(items=[
        order_input(external_ref="ok"), order_input(external_ref="gone", customer="C-GONE"),
        order_input(external_ref="old", lines=[LineInput(sku="OLD-1", qty=Decimal("2"))]),
    ], actor=retired["actors"]["sales"])
    assert res[0].created and res[0].error is None
    assert _problems(res[1].error) == [("unknown_customer", "customer", "Unknown customer 'C-GONE'.")]
    assert _problems(res[2].error) == [("unknown_sku", "lines[0].sku", "Unknown SKU 'OLD-1'.")]
    assert list(Order.objects.values_list("external_ref", flat=True)) == ["ok"]


def test_api_refuses_an_inactive_customer_and_product(retired, sql_path):
    from orderhub.core.tokens import token_create

    _, raw = token_create(user=retired["users"]["sales"], name="erp")
    api = ApiClient(raw)
    resp = api.post("/api/orders", order_body(customer="C-GONE"))
    assert resp.status_code == 422, resp.content
    assert [(e["code"], e["field"]) for e in resp.json()["errors"]] == [("unknown_customer", "customer")]
    resp = api.post("/api/orders", order_body(lines=[{"sku": "OLD-1", "qty": 1}]))
    assert resp.status_code == 422, resp.content
    assert [(e["code"], e["field"]) for e in resp.json()["errors"]] == [("unknown_sku", "lines[0].sku")]
    assert not Order.objects.exists()


TAOBAO = ("taobao", "ExportOrderList202602181230.csv")


def _rows(msg) -> dict[int, set[tuple[str, str]]]:
    out: dict[int, set[tuple[str, str]]] = {}
    for e in msg.errors:
        out.setdefault(e.get("row"), set()).add((e["field"], e["code"]))
    return out


def test_intake_reports_an_inactive_product_and_customer_on_their_rows(master, intake_actor, sql_path):  # noqa: F811
    from orderhub.intake import services as intake

    # rows 1 and 2 are the file's good ones (customer 捷达汽配 = C0502 by alias)
    Product.objects.filter(sku="OIL-FLT-0915").update(is_active=False)   # row 1's product
    job = intake.upload_import(channel=TAOBAO[0], filename=TAOBAO[1], content=sample(*TAOBAO), actor=intake_actor)
    assert ("商家编码", "unknown_sku") in _rows(job.message)[1]
    assert list(Order.objects.values_list("external_ref", flat=True)) == ["3012345678901234568"]
    Customer.objects.filter(code="C0502").update(is_active=False)
    Order.objects.update(channel="old")  # (so the rows are not duplicates of it)
    job = intake.upload_import(channel=TAOBAO[0], filename=TAOBAO[1], content=sample(*TAOBAO), actor=intake_actor)
    rows = _rows(job.message)
    assert ("买家会员名", "unknown_customer") in rows[1] and ("买家会员名", "unknown_customer") in rows[2]
    assert job.orders_created == 0 and Order.objects.count() == 1


def test_master_data_asks_only_for_keys_not_asked_before(retired, sql_path):
    known = master_data(customers=["C001", "C-GONE"], skus=["HSG-100", "OLD-1", "NOPE"], owners=["planner"])
    assert set(known.customers) == {"C001"} and set(known.products) == {"HSG-100"}
    assert set(known.owners) == {"planner"} and known.customers["C001"].sales_owner.username == "sales"
    with CaptureQueriesContext(connection) as ran:
        again = master_data(customers=["C001", "C-GONE"], skus=["OLD-1", "NOPE"], into=known)
    assert again is known and ran.captured_queries == []  # unknown ones are remembered too
    with CaptureQueriesContext(connection) as ran:
        master_data(skus=["M8X30"], into=known)
    assert set(known.products) == {"HSG-100", "M8X30"} and len(ran.captured_queries) == (
        1 if sql_path == "fast" and connection.vendor == "postgresql" else 2)  # product (+ its conversions)


def test_a_batch_given_master_data_looks_nothing_up(retired, sql_path):
    """Intake hands order creation what mapping found: the batch reads no master data again."""
    items = [order_input(external_ref=f"K{i}", lines=[LineInput(sku="HSG-100", qty=Decimal("1"))]) for i in range(3)]
    known = master_data(customers=["C001"], skus=["HSG-100"])
    with CaptureQueriesContext(connection) as ran:
        res = services.order_create_batch(items=items, actor=retired["actors"]["sales"], master=known)
    assert all(r.created for r in res)
    reads = [q["sql"] for q in ran.captured_queries
             if any(t in q["sql"] for t in ('"catalog_customer"', '"catalog_product"', '"catalog_unitconversion"'))
             and "INSERT" not in q["sql"]]
    assert reads == [], reads


def test_an_import_reads_master_data_once(master, intake_actor, sql_path):  # noqa: F811
    """Mapping a file's chunk and writing its orders share one lookup of customers and products
    (and their unit conversions): none is read a second time by order creation."""
    from orderhub.intake import services as intake

    with CaptureQueriesContext(connection) as ran:
        job = intake.upload_import(channel=TAOBAO[0], filename=TAOBAO[1], content=sample(*TAOBAO),
                                   actor=intake_actor)
    assert job.orders_created == 2
    tables = [f'"{m._meta.db_table}"' for m in (Customer, Product, UnitConversion)]
    reads = [q["sql"] for q in ran.captured_queries if q["sql"].lstrip().startswith(("SELECT", "WITH"))
             and any(t in q["sql"] for t in tables) and "INSERT" not in q["sql"]]
    # fast: one statement; ORM twin: customers, products, conversions
    assert len(reads) == (1 if sql_path == "fast" and connection.vendor == "postgresql" else 3), reads

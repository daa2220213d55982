"""Ship-to addresses (issue 15.4): several per customer with one default, edited on the
customer's settings and through the API; chosen per order at creation (an id or a typed
address; default: the customer's default) and changed on the order as an audited change."""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from orderhub.catalog.models import CustomerAddress
from orderhub.catalog.services import customer_address_delete, customer_address_save
from orderhub.core.errors import PermissionDenied
from orderhub.core.models import AuditEvent
from orderhub.orders.models import Order, Snapshot
from tests.api.conftest import order_body

pytestmark = pytest.mark.django_db


def _book(company) -> tuple[CustomerAddress, CustomerAddress]:
    admin = company["actors"]["admin"]
    plant = customer_address_save(customer="C001", data={"label": "工厂", "receiver": "王工", "phone": "138",
                                                         "address": "苏州工业园区星湖街 1 号"}, actor=admin)
    dock = customer_address_save(customer="c001", data={"label": "码头", "receiver": "李四",
                                                        "address": "上海市洋山港 9 号"}, actor=admin)
    return plant, dock


def test_one_default_per_customer(company):
    admin = company["actors"]["admin"]
    plant, dock = _book(company)
    plant.refresh_from_db()
    dock.refresh_from_db()
    assert plant.is_default and not dock.is_default        # the first address is the default
    customer_address_save(customer="C001", address_id=dock.pk, data={"is_default": True}, actor=admin)
    assert list(CustomerAddress.objects.filter(customer=company["customer"], is_default=True)) == [dock]
    customer_address_delete(customer="C001", address_id=dock.pk, actor=admin)
    plant.refresh_from_db()
    assert plant.is_default                                # the default passes on
    with pytest.raises(IntegrityError), transaction.atomic():   # the database holds the rule too
        CustomerAddress.objects.create(customer=company["customer"], address="x", is_default=True)
    with pytest.raises(PermissionDenied):
        customer_address_save(customer="C001", data={"address": "y"}, actor=company["actors"]["sales"])
    actions = list(AuditEvent.objects.filter(subject_type="customer", subject_id=company["customer"].pk)
                   .values_list("action", flat=True))
    assert {"customer.address_added", "customer.address_changed", "customer.address_deleted"} <= set(actions)


def test_api_address_book(api_as, company):
    admin = api_as("admin")
    resp = admin.post("/api/catalog/customers/C001/addresses", {"address": "宁波北仑 5 号", "receiver": "赵六"})
    assert resp.status_code == 201 and resp.json()["is_default"] is True
    first = resp.json()["id"]
    second = admin.post("/api/catalog/customers/C001/addresses", {"address": "杭州 7 号", "is_default": True}).json()
    listed = api_as("sales").get("/api/catalog/customers/C001/addresses").json()
    assert [a["id"] for a in listed] == [second["id"], first]       # the default first
    resp = admin.put(f"/api/catalog/customers/C001/addresses/{first}", {"phone": "0574-1"})
    assert resp.status_code == 200 and resp.json()["phone"] == "0574-1"
    assert admin.post("/api/catalog/customers/C001/addresses", {"receiver": "x"}).status_code == 422
    assert admin.put("/api/catalog/customers/C001/addresses/999999", {"phone": "1"}).status_code == 404
    resp = admin.post(f"/api/catalog/customers/C001/addresses/{second['id']}/delete")
    assert resp.status_code == 200 and [a["is_default"] for a in resp.json()] == [True]
    assert api_as("sales").post("/api/catalog/customers/C001/addresses", {"address": "z"}).status_code == 403


def test_an_order_takes_the_default_a_chosen_or_a_typed_address(api_as, company):
    plant, dock = _book(company)
    sales = api_as("sales")
    body = sales.post("/api/orders", order_body()).json()
    assert body["ship_to_address"] == plant.address and body["ship_to_contact"] == "王工"
    body = sales.post("/api/orders", order_body(ship_to_address_id=dock.pk)).json()
    assert body["ship_to_address"] == dock.address and body["ship_to_contact"] == "李四"
    body = sales.post("/api/orders", order_body(ship_to={"contact": "临时", "address": "展会 B 馆"})).json()
    assert (body["ship_to_contact"], body["ship_to_phone"], body["ship_to_address"]) == ("临时", "", "展会 B 馆")
    resp = sales.post("/api/orders", order_body(ship_to_address_id=999999))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "ship_to_address_id"
    # the same order again (same key) is the same order: fingerprints include the choice
    first = sales.post("/api/orders", order_body(external_ref="K-1", ship_to_address_id=dock.pk))
    again = sales.post("/api/orders", order_body(external_ref="K-1", ship_to_address_id=dock.pk))
    assert first.status_code == 201 and again.status_code == 200
    assert sales.post("/api/orders", order_body(external_ref="K-1")).status_code == 409


def test_changing_an_orders_ship_to_from_the_book_is_audited_with_a_snapshot(api_as, company):
    plant, dock = _book(company)
    sales = api_as("sales")
    number = sales.post("/api/orders", order_body()).json()["number"]
    resp = sales.patch(f"/api/orders/{number}", {"ship_to_address_id": dock.pk, "reason": "改发码头"})
    assert resp.status_code == 200, resp.content
    assert resp.json()["ship_to_address"] == dock.address and resp.json()["version"] == 2
    order = Order.objects.get(number=number)
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("-seq").first()
    assert ev.changes["ship_to_address"] == [plant.address, dock.address] and ev.reason == "改发码头"
    assert json.loads(Snapshot.objects.get(order=order, version=2).content)["ship_to"]["address"] == dock.address
    stranger = CustomerAddress.objects.create(customer=_other_customer(), address="别家")
    resp = sales.patch(f"/api/orders/{number}", {"ship_to_address_id": stranger.pk})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "ship_to_address_id"


def _other_customer():
    from orderhub.catalog.models import Customer

    return Customer.objects.create(code="C999", name="别家公司")


def _web(company, role: str) -> Client:
    c = Client()
    c.force_login(company["users"][role])
    return c


def test_pages_edit_the_book_and_use_it(company):
    plant, dock = _book(company)
    admin = _web(company, "admin")
    assert "/settings/customers/C001/addresses" in admin.get("/settings/customers/C001/").content.decode()
    page = admin.get("/settings/customers/C001/addresses")
    assert page.status_code == 200 and "码头" in page.content.decode()
    resp = admin.post("/settings/customers/C001/addresses", {"action": "save", "address": "", "label": "空"})
    assert resp.status_code == 400 and "请填写地址" in resp.content.decode()
    resp = admin.post("/settings/customers/C001/addresses", {"action": "save", "id": dock.pk, "label": "码头",
                                                            "receiver": "李四", "address": dock.address,
                                                            "is_default": "1"})
    assert resp.status_code == 302
    dock.refresh_from_db()
    assert dock.is_default
    resp = admin.post("/settings/customers/C001/addresses", {"action": "delete", "id": plant.pk})
    assert resp.status_code == 302 and not CustomerAddress.objects.filter(pk=plant.pk).exists()
    # the order's edit page offers the book; choosing an address changes the ship-to
    sales = _web(company, "sales")
    from orderhub.orders import services
    from tests.conftest import order_input

    number = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order.number
    edit = sales.get(f"/orders/{number}/edit").content.decode()
    assert "ship_to_address_id" in edit and "码头" in edit
    CustomerAddress.objects.filter(pk=dock.pk).update(address="上海市洋山港 10 号")
    order = Order.objects.get(number=number)
    resp = sales.post(f"/orders/{number}/edit", {
        "required_date": str(order.required_date), "urgency": order.urgency, "ship_to_address_id": str(dock.pk),
        "ship_to_contact": order.ship_to_contact, "ship_to_phone": order.ship_to_phone,
        "ship_to_address": order.ship_to_address})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    assert Order.objects.get(number=number).ship_to_address == "上海市洋山港 10 号"
    # the new-order form: a typed address
    new = sales.get("/orders/new/").content.decode()
    assert "ship-to-select" in new and "shipto.js" in new

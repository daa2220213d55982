"""Field permission for prices: without ``orders.change_price`` (manager and administrator by
default, set per role) a line priced other than its standard (list) price is refused with 403
naming the field; machine intake keeps the price its channel's mapping carries."""

from decimal import Decimal

import pytest

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.models import AuditEvent
from orderhub.intake.models import Draft
from orderhub.orders.models import Order
from tests.api.conftest import order_body
from tests.intake.conftest import _fresh_intake_caches, intake_actor, master  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

# HSG-100 lists at 120, M8X30 at 0.10 (tests/conftest.py)
CHEAP = [{"sku": "M8X30", "qty": 10}, {"sku": "HSG-100", "qty": 1, "unit_price": "120.00"},
         {"sku": "HSG-100", "qty": 500, "unit_price": "0.01"}]


@pytest.mark.smoke
def test_a_price_below_the_list_price_is_refused_naming_the_line(api_as):
    for role in ("sales", "service", "planner"):
        resp = api_as(role).post("/api/orders", order_body(lines=CHEAP))
        assert resp.status_code == 403, (role, resp.content)
        body = resp.json()
        assert body["code"] == "price_not_allowed"
        assert [e["field"] for e in body["errors"]] == ["lines[2].unit_price"]  # not the list-priced ones
        assert body["errors"][0]["data"] == {"standard_price": "120.00"} and "HSG-100" in body["message"]
    assert Order.objects.count() == 0
    # the list price itself (however it is written) and no price at all are anyone's to set
    ok = api_as("sales").post("/api/orders", order_body(lines=CHEAP[:2] + [{"sku": "HSG-100", "qty": 2,
                                                                             "unit_price": 120}]))
    assert ok.status_code == 201, ok.content
    higher = api_as("sales").post("/api/orders", order_body(lines=[{"sku": "HSG-100", "qty": 1,
                                                                    "unit_price": "130"}]))
    assert higher.status_code == 403  # a different price, up or down, is a price decision


def test_manager_and_admin_may_and_the_setting_moves_it_per_role(api_as):
    for role in ("manager", "admin"):
        resp = api_as(role).post("/api/orders", order_body(lines=CHEAP))
        assert resp.status_code == 201, (role, resp.content)
        assert resp.json()["lines"][2]["unit_price"] == "0.0100"
    admin = api_as("admin")
    assert admin.put("/api/roles/sales", {"change_price": True}).json()["change_price"] is True
    assert admin.put("/api/roles/manager", {"change_price": False}).status_code == 200
    assert api_as("sales").post("/api/orders", order_body(lines=CHEAP)).status_code == 201
    assert api_as("manager").post("/api/orders", order_body(lines=CHEAP)).status_code == 403
    assert AuditEvent.objects.filter(action="role.changed").count() == 2


def test_a_person_correcting_a_draft_price_needs_the_permission(api_as, company):
    from orderhub.intake.services import inbound_receive

    msg = inbound_receive(channel="ocr", kind="attachment", payload=b"png", actor=Actor.system("ocr"),
                          content_type="image/png")
    data = {"customer": "C001", "required_date": "2026-12-20", "external_ref": "PO-1",
            "lines": [{"sku": "HSG-100", "qty": "5", "unit_price": "120"}]}
    draft = Draft.objects.create(message=msg, data=data, created_at=clock.now())
    cut = {"lines": [{"sku": "HSG-100", "qty": "5", "unit_price": "99"}]}
    resp = api_as("service").post(f"/api/intake/drafts/{draft.pk}/confirm", {"changes": cut})
    assert resp.status_code == 403 and resp.json()["errors"][0]["field"] == "lines[0].unit_price"
    draft.refresh_from_db()
    assert draft.status == "open" and Order.objects.count() == 0
    # the price read from the document (the list price here) goes through as it is
    assert api_as("service").post(f"/api/intake/drafts/{draft.pk}/confirm", {}).status_code == 200
    assert Order.objects.get().lines.get().unit_price == Decimal("120")


def test_machine_intake_keeps_the_price_the_customer_paid(master, api_as):  # noqa: F811
    """A Douyin export a person uploads runs as the channel's system actor: the price paid on the
    marketplace (299, list 385) is kept; who uploaded it stays on the message and in the label."""
    from tests.intake.conftest import sample

    raw = sample("douyin", "dy_orders_20260219.csv").decode("utf-8-sig")
    raw = raw.replace("BRK-PAD-F-2231,385,942", "BRK-PAD-F-2231,299,770").replace("OIL-FLT-0915,86,942",
                                                                                   "OIL-FLT-0915,86,770")
    client = api_as("service").client
    headers = api_as("service").headers
    resp = client.post("/api/intake/uploads", {"channel": "douyin", "file": _file(raw)}, headers=headers)
    assert resp.status_code == 201, resp.content
    order = Order.objects.get(channel="douyin", external_ref="6920123456789012345")
    line = order.lines.get(product__sku="BRK-PAD-F-2231")
    assert line.unit_price == Decimal("299") and line.product.list_price == Decimal("385")
    assert order.created_by == "intake:douyin (api:test-service)"
    # the same file's price set by the person on an order of their own is refused
    own = api_as("service").post("/api/orders", order_body(customer="DY-RETAIL", lines=[
        {"sku": "BRK-PAD-F-2231", "qty": 2, "unit_price": 299}]))
    assert own.status_code == 403


def _file(text: str):
    import io

    f = io.BytesIO(("\ufeff" + text).encode("utf-8"))
    f.name = "dy_orders.csv"
    return f

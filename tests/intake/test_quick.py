"""Customer quick order: a link with a QR code, three fields, the rest from the profile."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from orderhub.core import clock
from orderhub.intake import services
from orderhub.intake.models import InboundMessage
from orderhub.orders.models import Order
from tests.api.conftest import api_as  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def link(master, api_as):  # noqa: F811
    services.profile_set(customer="C0451", workflow="T3", urgency="yellow",
                         default_qty={"M8X30-HEX-88": 100000}, actor=_system())
    resp = api_as("sales").post("/api/intake/quick-links/C0451")
    assert resp.status_code == 201, resp.content
    return resp.json()


def _system():
    from orderhub.core.actors import Actor

    return Actor.system("test")


def test_quick_link_gives_a_qr_code_and_greets_the_customer(link):
    assert link["url"].endswith(f"/api/intake/quick/{link['token']}") and "<svg" in link["qr_svg"]
    png = Client().get(f"/api/intake/quick/{link['token']}/qr.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert Client().get(f"/api/intake/quick/{link['token']}").json() == {
        "customer": "C0451", "name": "常州恒通紧固件贸易有限公司"}


@pytest.mark.smoke
def test_three_fields_make_an_order_with_the_profile_filling_the_rest(link):
    with clock.frozen(datetime(2026, 3, 2, 9, 0, tzinfo=SH)):
        resp = Client().post(f"/api/intake/quick/{link['token']}", data={
            "item": "M8X30-HEX-88", "due_date": "2026-03-20", "remark": "周一不收货"},
            content_type="application/json")
        assert resp.status_code == 201, resp.content
        msg = InboundMessage.objects.get(pk=resp.json()["id"])
        order = msg.orders.get()
        assert order.customer.code == "C0451" and order.channel == "quick"
        assert order.workflow.code == "T3" and order.urgency == "yellow" and "#避周一" in order.tags
        assert order.lines.get().qty == Decimal("100000") and order.required_date == date(2026, 3, 20)
        assert link["token"] not in bytes(msg.payload).decode()  # the secret is not stored
        # the same form sent twice the same day is one order
        again = Client().post(f"/api/intake/quick/{link['token']}", data={
            "item": "M8X30-HEX-88", "due_date": "2026-03-20", "remark": "周一不收货"},
            content_type="application/json")
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        # an earlier order's number orders the same lines again
        reorder = Client().post(f"/api/intake/quick/{link['token']}", data={
            "item": order.number, "due_date": "2026-04-01"}, content_type="application/json")
        assert reorder.status_code == 201
        assert Order.objects.filter(customer__code="C0451").count() == 2


def test_quick_order_refusals(link, api_as):  # noqa: F811
    url = f"/api/intake/quick/{link['token']}"
    with clock.frozen(datetime(2026, 3, 2, 9, 0, tzinfo=SH)):
        past = Client().post(url, data={"item": "M8X30-HEX-88", "due_date": "2026-03-01"},
                             content_type="application/json")
        assert past.status_code == 422 and past.json()["errors"][0]["field"] == "due_date"
        unknown = Client().post(url, data={"item": "NOPE", "due_date": "2026-03-20"},
                                content_type="application/json")
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "item"
        assert InboundMessage.objects.get(status="failed").errors[0]["field"] == "item"  # kept raw
        extra = Client().post(url, data={"item": "x", "due_date": "2026-03-20", "qty": 5},
                              content_type="application/json")
        assert extra.status_code == 422
        # a new link revokes the old one
        api_as("sales").post("/api/intake/quick-links/C0451")
        gone = Client().post(url, data={"item": "M8X30-HEX-88", "due_date": "2026-03-20"},
                             content_type="application/json")
        assert gone.status_code == 404
        assert Client().get("/api/intake/quick/qo_nothing/qr.svg").status_code == 404

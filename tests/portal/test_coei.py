"""COEI (seed 002) per order and customer, worked out by hand from a real history (shipping
notice, shipment, staff message, late order), the weights as editable data, and the survey after
delivery: linked from the delivery notice, one answer per order, changeable until the deadline."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.core.audit import AuditEvent
from orderhub.notify.models import Message as Outbox
from orderhub.orders import services as orders
from orderhub.orders.inputs import LineInput
from orderhub.portal import coei
from orderhub.portal.messages import message_post
from orderhub.portal.models import SurveyAnswer
from orderhub.portal.survey import customer_setting_save
from orderhub.shipping.services import ShipmentInput, shipment_create, shipment_pod, shipment_ship
from tests.conftest import SH, order_input
from tests.portal.conftest import sign_in

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
SCAN = b"\x89PNG\r\n\x1a\n" + b"signed" * 10


@pytest.fixture
def late_order(company, mail_endpoint, tmp_path, settings):
    """Order of C001 created Monday 09:00, required Tuesday; late from Wednesday 00:00; the rep
    explains Wednesday 10:00; shipped Wednesday 13:00 with its notice sent at 12:00."""
    settings.MEDIA_ROOT = tmp_path
    Customer.objects.filter(code="C001").update(email="buyer@a.example")
    customer_setting_save(customer="C001", update_hours=24, actor=company["actors"]["admin"])
    with clock.frozen(MONDAY):
        order = orders.order_create(data=order_input(lines=[LineInput(sku="M8X30", qty=Decimal("10"))],
                                                     required_date=date(2026, 11, 24)),
                                    actor=company["actors"]["sales"]).order
    with clock.frozen(MONDAY + timedelta(days=2, hours=1)):
        message_post(order=order.number, body="原料晚到一天，周三下午发货，抱歉。", actor=company["actors"]["sales"])
    wh = company["actors"]["warehouse"]
    with clock.frozen(MONDAY + timedelta(days=2, hours=3)):
        sh = shipment_create(order=order.number, actor=wh, data=ShipmentInput(quantities={1: Decimal("10")}))
    with clock.frozen(MONDAY + timedelta(days=2, hours=4)):
        shipment_ship(shipment=sh.number, actor=wh)
    return order, sh


def test_order_coei_worked_out_by_hand(late_order, company):
    order, _sh = late_order
    thursday = MONDAY + timedelta(days=3)
    got = coei.order_coei(order, now=thursday)
    # notice before shipping: 1 of 1; updates: 72 h in 24 h windows, heard in the 1st (created)
    # and the 3rd (message, notice): 2 of 3; delay: late Wednesday 00:00, explained 10:00 (within
    # 2 business hours of the working day's start): 1 of 1
    assert (got["notice"], got["updates"], got["delay"]) == (1.0, 0.6667, 1.0)
    assert got["delays"] == 1 and got["delays_explained"] == 1 and got["update_hours"] == 24
    assert got["coei"] == 90.0     # 40·1 + 30·⅔ + 30·1
    # a customer that expects an update every 12 h: 6 windows, 2 heard
    customer_setting_save(customer="C001", update_hours=12, actor=company["actors"]["admin"])
    assert coei.order_coei(order, now=thursday)["updates"] == 0.3333
    # the weights are data: 50 / 50 / 0 (delay left out)
    coei.config_save(actor=company["actors"]["admin"], values={
        "weight_notice": 50, "weight_updates": 50, "weight_delay": 0, "update_hours": 24, "explain_hours": 2,
        "survey_days": 14})
    assert coei.order_coei(order, now=thursday)["coei"] == round(100 * (0.5 + 0.5 / 3), 1)
    assert coei.customer_coei(company["customer"].pk, now=thursday)["coei"] == round(100 * (0.5 + 0.5 / 3), 1)


def test_unexplained_delay_and_missing_notice_lower_the_score(company):
    with clock.frozen(MONDAY):
        order = orders.order_create(data=order_input(lines=[LineInput(sku="M8X30", qty=Decimal("10"))],
                                                     required_date=date(2026, 11, 23)),
                                    actor=company["actors"]["sales"]).order
    with clock.frozen(MONDAY + timedelta(days=1, hours=5)):   # too late: Tuesday 14:00
        message_post(order=order.number, body="抱歉延误。", actor=company["actors"]["sales"])
    got = coei.order_coei(order, now=MONDAY + timedelta(days=2))
    assert got["delay"] == 0.0 and got["notice"] is None and got["updates"] == 1.0
    assert got["coei"] == 50.0    # (30·1 + 30·0) / 60


def test_weights_must_add_up_to_100_and_are_edited_on_a_page(company):
    from orderhub.core.errors import PermissionDenied, ValidationFailed

    with pytest.raises(ValidationFailed):
        coei.config_save(actor=company["actors"]["admin"], values={
            "weight_notice": 50, "weight_updates": 30, "weight_delay": 30, "update_hours": 24,
            "explain_hours": 2, "survey_days": 14})
    with pytest.raises(PermissionDenied):
        coei.config_save(actor=company["actors"]["sales"], values=coei.config_dict())
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(company["users"]["admin"])
    page = client.get("/settings/coei/")
    assert page.status_code == 200 and "客户订单体验指数" in page.content.decode()
    bad = client.post("/settings/coei/", {"weight_notice": "60", "weight_updates": "30", "weight_delay": "30",
                                          "update_hours": "24", "explain_hours": "2", "survey_days": "14"})
    assert bad.status_code == 400 and "三项权重之和必须为 100" in bad.content.decode()
    ok = client.post("/settings/coei/", {"weight_notice": "50", "weight_updates": "25", "weight_delay": "25",
                                         "update_hours": "8", "explain_hours": "2", "survey_days": "7"})
    assert ok.status_code == 302
    assert coei.weights() == {"notice": 50, "updates": 25, "delay": 25} and coei.config().survey_days == 7
    assert AuditEvent.objects.filter(subject_type="coei_config").count() == 1
    r = client.get("/api/portal/coei/config")
    assert r.status_code == 200 and r.json()["weight_notice"] == 50


def _survey_link(order) -> str:
    row = Outbox.objects.filter(event="shipment.delivered", order_id=order.pk).get()
    return re.search(r"/survey/(\S+)", row.payload["context"]["message"]).group(1)


def test_delivery_notice_links_the_survey_one_answer_changeable_until_deadline(late_order, company):
    order, sh = late_order
    wh = company["actors"]["warehouse"]
    assert not Outbox.objects.filter(event="shipment.delivered").exists()
    with clock.frozen(MONDAY + timedelta(days=3)):
        shipment_pod(shipment=sh.number, name="pod.png", content=SCAN, actor=wh)
    token = _survey_link(order)
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-hans")
    with clock.frozen(MONDAY + timedelta(days=3, hours=1)):
        page = client.get(f"/survey/{token}")
        assert page.status_code == 200 and order.number in page.content.decode()
        assert client.post(f"/survey/{token}", {"stars": "7"}).status_code == 400
        r = client.post(f"/survey/{token}", {"stars": "4", "comment": "交货晚了一天，但提前说明了"})
        assert r.status_code == 200 and "data-testid=\"survey-saved\"" in r.content.decode()
        api = client.put(f"/api/portal/survey/{token}", {"stars": 5, "comment": "改为五星"},
                         content_type="application/json")
        assert api.status_code == 200 and api.json()["answer"]["stars"] == 5
    assert SurveyAnswer.objects.filter(order=order).count() == 1   # one answer per order, changed
    assert AuditEvent.objects.filter(subject_type="portal_survey").count() == 2
    with clock.frozen(MONDAY + timedelta(days=2, hours=4) + timedelta(days=15)):   # past the 14 days
        closed = client.put(f"/api/portal/survey/{token}", {"stars": 1}, content_type="application/json")
        assert closed.status_code == 409
        assert "已截止" in client.get(f"/survey/{token}").content.decode()
    # a tracking link's token (another salt) or an altered one opens no survey
    from orderhub.portal.services import tracking_link_issue

    track, _exp = tracking_link_issue(order=order.number, actor=company["actors"]["sales"])
    assert client.get(f"/survey/{track}").status_code == 404
    assert client.get(f"/api/portal/survey/{token[:-1]}x").status_code == 404
    # the staff see it on the order page, the customer page and the API
    staff = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-hans")
    staff.force_login(company["users"]["sales"])
    html = staff.get(f"/orders/{order.number}/").content.decode()
    assert 'data-testid="coei-card"' in html and "5★" in html
    assert "改为五星" in staff.get("/settings/customers/C001/portal/").content.decode()
    got = staff.get(f"/api/portal/orders/{order.number}/coei").json()
    assert got["survey"]["stars"] == 5 and got["notice"] == 1.0
    assert staff.get("/api/portal/customers/C001/coei").json()["surveys"] == 1
    assert [s["order"] for s in staff.get("/api/portal/surveys").json()] == [order.number]


def test_signed_in_customer_answers_only_own_delivered_orders(two_customers, mail_endpoint, company,
                                                              django_capture_on_commit_callbacks):
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-hans")
    sign_in(client, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    mine, theirs = two_customers["orders"]["A"][0], two_customers["orders"]["B"][0]
    page = client.get(f"/portal/orders/{mine.number}/survey/")
    assert page.status_code == 200 and 'data-testid="survey-not-yet"' in page.content.decode()
    r = client.put(f"/api/portal/me/orders/{mine.number}/survey", {"stars": 5}, content_type="application/json")
    assert r.status_code == 409    # not delivered yet
    assert client.get(f"/portal/orders/{theirs.number}/survey/").status_code == 404
    assert client.get(f"/api/portal/me/orders/{theirs.number}/survey").status_code == 404
    wh = company["actors"]["warehouse"]
    sh = shipment_create(order=mine.number, actor=wh, data=ShipmentInput(quantities={1: Decimal("3")}))
    shipment_ship(shipment=sh.number, actor=wh)
    assert 'data-testid="portal-survey-link"' in client.get(f"/portal/orders/{mine.number}/").content.decode()
    r = client.post(f"/portal/orders/{mine.number}/survey/", {"stars": "3", "comment": "还行"})
    assert r.status_code == 200
    a = SurveyAnswer.objects.get(order=mine)
    assert (a.stars, a.via, a.contact_id) == (3, "portal", two_customers["contacts"]["A"].pk)

"""Remark tags and triage on every path (issue 14.10): the same remark text and order give the
same tags, urgency, remarks and alerts whether the order came by intake (a mapped webhook), the
web form (/orders/new/) or the API (POST /api/orders); an order is triaged once."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from orderhub.core import clock
from orderhub.core.models import AuditEvent
from orderhub.intake import services
from orderhub.notify.models import Message
from orderhub.orders import services as order_services
from orderhub.orders.inputs import LineInput, OrderInput
from orderhub.orders.models import Order
from orderhub.rules.models import RuleFiring
from orderhub.rules.services import rules_install_defaults
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
REMARK = "加急，需要出厂检验报告"
DUE = "2026-03-04"      # what intake derives: 2 working days after payment (38 h ahead)


@pytest.fixture
def t1_fast(master, intake_actor):
    services.profile_set(customer="C0217", lead_days=2, actor=intake_actor)
    return master


def _by_intake(actor, qty: int) -> Order:
    body = {"order_id": f"WX-PATHS-{qty}", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "pay_time": "20260302100000",
            "total_fee": qty * 38500, "remark": REMARK,
            "items": [{"sku_id": "BRK-PAD-F-2231", "num": qty, "price": 38500}]}
    msg = services.inbound_receive(channel="miniprogram", kind="webhook", actor=actor,
                                   payload=json.dumps(body).encode())
    return services.inbound_process(message=msg, actor=actor).orders.get()


def _by_web(company, qty: int) -> Order:
    c = Client()
    c.force_login(company["users"]["manager"])
    resp = c.post("/orders/new/", {"customer": "C0217", "required_date": DUE, "urgency": "green",
                                   "remarks": REMARK, "tags": "", "line_sku": ["BRK-PAD-F-2231"],
                                   "line_qty": [str(qty)], "confirm_warnings": "1"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    return Order.objects.filter(channel="web").latest("pk")


def _by_api(company, qty: int) -> Order:
    from orderhub.core.tokens import token_create

    _, raw = token_create(user=company["users"]["manager"], name="paths")
    resp = ApiClient(raw).post("/api/orders", {"customer": "C0217", "required_date": DUE, "remarks": REMARK,
                                               "lines": [{"sku": "BRK-PAD-F-2231", "qty": qty}]})
    assert resp.status_code == 201, resp.content
    return Order.objects.get(number=resp.json()["number"])


def _outcome(order: Order) -> dict:
    alerts = [e.data for e in AuditEvent.objects.filter(action="intake.triage_alert", data__order=order.number)]
    red = sorted(m.user.username for m in Message.objects.filter(event="intake.triage", order=order, channel="inapp"))
    return {"urgency": order.urgency, "tags": sorted(order.tags), "remarks": order.remarks, "red": red,
            "alerts": [{k: a[k] for k in ("rule", "roles", "total", "hours_to_due", "required_date",
                                          "recipients", "fallback")} for a in alerts]}


def test_the_same_order_is_tagged_and_triaged_alike_by_intake_web_form_and_api(t1_fast, intake_actor):
    company = t1_fast
    rules_install_defaults(actor=intake_actor)  # t1_triage_urgent_big must not alert a second time
    with clock.frozen(MONDAY_10):
        outcomes = {"intake": _outcome(_by_intake(intake_actor, 200)),
                    "web": _outcome(_by_web(company, 200)),
                    "api": _outcome(_by_api(company, 200))}
    intake = outcomes["intake"]
    assert intake["urgency"] == "red"
    assert {"#加急", "check:出厂检验报告", "#急单大额", "triage:t1_urgent_large"} <= set(intake["tags"])
    assert "出厂检验报告" in intake["remarks"].splitlines()[-1]
    assert intake["red"] == ["planning_supervisor", "production_director"]
    assert len(intake["alerts"]) == 1 and intake["alerts"][0]["hours_to_due"] == "38.0"
    assert outcomes["web"] == intake
    assert outcomes["api"] == intake
    # one red alert per order: the rule that covers untriaged paths stays quiet
    assert not RuleFiring.objects.filter(rule__name="t1_triage_urgent_big").exists()
    # the people see the web and API orders' alerts on their intake page (no message to link)
    c = Client()
    c.force_login(company["users"]["planning_supervisor"])
    page = c.get("/intake/").content.decode()
    for number in Order.objects.values_list("number", flat=True):
        assert number in page
    assert "#急单大额" in page and "t1_urgent_large" not in page   # the rule by its tag, not its code


def test_a_small_order_gets_its_remark_tags_but_no_alert(t1_fast):
    company = t1_fast
    with clock.frozen(MONDAY_10):
        order = _by_api(company, 2)        # 770 CNY
    assert order.urgency == "red" and {"#加急", "check:出厂检验报告"} <= set(order.tags)
    assert not any(t.startswith("triage:") for t in order.tags)
    assert not AuditEvent.objects.filter(action="intake.triage_alert").exists()


def test_intake_doors_are_not_triaged_twice_and_a_replay_is_the_same_order(t1_fast, intake_actor):
    company = t1_fast
    data = OrderInput(customer="C0217", lines=[LineInput(sku="BRK-PAD-F-2231", qty=Decimal(200))],
                      required_date=datetime(2026, 3, 4).date(), remarks=REMARK, channel="api", external_ref="R-1")
    with clock.frozen(MONDAY_10):
        first = order_services.order_create(data=data, actor=company["actors"]["manager"])
    with clock.frozen(datetime(2026, 3, 3, 10, 0, tzinfo=SH)):   # later: triage counts differently
        again = order_services.order_create(data=data, actor=company["actors"]["manager"])
    assert first.created and not again.created and again.order.pk == first.order.pk
    assert AuditEvent.objects.filter(action="intake.triage_alert").count() == 1
    with clock.frozen(MONDAY_10):
        raw = order_services.order_create(data=OrderInput(**{**data.__dict__, "external_ref": "R-2"}),
                                          actor=company["actors"]["manager"], filtered=True)
    assert raw.order.urgency == "green" and raw.order.tags == []

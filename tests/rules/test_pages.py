"""Rules, firing log and ticket pages; the order page's deadline, ladder and tickets."""

from datetime import date, datetime

import pytest
from django.test import Client

from orderhub.core import clock
from orderhub.orders import services
from orderhub.orders.models import Ticket
from orderhub.rules.models import Rule, RuleFiring
from orderhub.rules.services import rule_save
from tests.conftest import SH, order_input

pytestmark = [pytest.mark.django_db]


def login(role: str) -> Client:
    c = Client()
    assert c.login(username=role, password="pw-" + role)
    return c


@pytest.mark.smoke
def test_rule_editor_shows_each_fault_next_to_its_field_and_saves(company):
    c = login("admin")
    assert c.get("/rules/new/").status_code == 200
    bad = c.post("/rules/new/", {"name": "triage", "trigger": "field_changed", "trigger_arg": "colour",
                                 "condition": "totl > 5", "enabled": "on",
                                 "actions": "- type: set_urgency\n  value: purple\n"})
    assert bad.status_code == 400
    html = bad.content.decode()
    # each message sits under its own input (invalid-feedback after the field)
    for field, word in (("trigger_arg", "colour"), ("condition", "totl"), ("actions", "purple")):
        part = html.split(f'name="{field}"', 1)[1].split("form-label", 1)[0]
        assert "invalid-feedback" in part and word in part, field
    assert not Rule.objects.exists()
    ok = c.post("/rules/new/", {"name": "triage", "trigger": "order_created", "condition": "total > 5000",
                                "enabled": "on",
                                "actions": "- type: notify\n  roles: [planning_supervisor]\n  severity: red\n"})
    assert ok.status_code == 302
    rule = Rule.objects.get(name="triage")
    assert rule.actions == [{"type": "notify", "roles": ["planning_supervisor"], "users": [], "customer": False,
                             "channels": None, "severity": "red", "message": ""}]
    page = c.get("/rules/").content.decode()
    assert "triage" in page and "total &gt; 5000" in page
    assert "触发记录" in page and "工单" in page          # Chinese from the rules catalog


def test_people_without_the_permission_cannot_edit_rules(company):
    assert login("sales").get("/rules/new/").status_code == 403
    assert login("sales").get("/rules/").status_code == 200


@pytest.mark.postgres
def test_firing_log_shows_inputs(company):
    rule_save(data={"name": "big", "trigger": "order_created", "condition": "total > 5000",
                    "actions": [{"type": "notify", "roles": ["planner"]}]}, actor=company["actors"]["admin"])
    order = services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    assert RuleFiring.objects.count() == 1
    html = login("sales").get("/rules/firings/").content.decode()
    assert order.number in html and "订单金额(元)</span>：12000" in html and "<code>total</code>" not in html


@pytest.mark.postgres
def test_ticket_pages_and_the_order_page(company):
    a = company["actors"]
    with clock.frozen(datetime(2026, 11, 23, 9, 0, tzinfo=SH)):
        order = services.order_create(data=order_input(workflow="T4", required_date=date(2026, 11, 27)),
                                      actor=a["sales"]).order
        for to, who in (("design", "sales"), ("quote_confirmed", "designer"), ("material_purchase", "sales")):
            assert services.order_transition(order=order.number, to=to, actor=a[who]).ok
    c = login("sales")
    page = c.get(f"/orders/{order.number}/").content.decode()
    assert 'data-testid="due-state"' in page
    assert page.count('data-state="pending"') == 2 and "not_started_72h" in page
    resp = c.post(f"/orders/{order.number}/tickets", {"kind": "exception", "title": "板材色差",
                                                      "owner_role": "production"})
    ticket = Ticket.objects.get(order=order)
    assert resp.status_code == 302 and resp["Location"] == f"/tickets/{ticket.pk}/"
    assert "板材色差" in c.get("/tickets/").content.decode()
    # sales does not own it: no resolve form, and a forged post is refused
    assert 'data-testid="ticket-resolve"' not in c.get(f"/tickets/{ticket.pk}/").content.decode()
    c.post(f"/tickets/{ticket.pk}/resolve", {"resolution": "x"})
    ticket.refresh_from_db()
    assert ticket.status == "open"
    p = login("production")
    assert 'data-testid="ticket-resolve"' in p.get(f"/tickets/{ticket.pk}/").content.decode()
    p.post(f"/tickets/{ticket.pk}/resolve", {"resolution": "换同批次板材"})
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.resolved_by == "production"
    assert "换同批次板材" in p.get(f"/tickets/{ticket.pk}/").content.decode()

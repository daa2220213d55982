"""The demo's portal: contacts of two customers loaded through the services, opens and a call
behind the self-query rate, and sign-in usable without a mail server (the code on the page in
demo mode only; without it, no code is ever shown)."""

import re

import pytest
from django.test import Client

from orderhub.core.actors import Actor
from orderhub.demo.loader import load_demo
from orderhub.portal.models import Contact, Message
from orderhub.portal.selectors import self_query_rate

pytestmark = pytest.mark.django_db


def test_demo_contacts_sign_in_in_demo_mode_and_only_there(settings, capsys):
    from orderhub.demo.portal import print_portal

    load_demo(orders=24)
    print_portal("127.0.0.1", 8000)
    banner = capsys.readouterr().out
    assert "http://127.0.0.1:8000/portal/login/" in banner and "buyer@portal.example" in banner
    assert Contact.objects.count() == 3 and Contact.objects.values("customer").distinct().count() == 2
    buyer = Contact.objects.get(email="buyer@portal.example")
    rate = self_query_rate(actor=Actor.system("test"), customer=buyer.customer.code)
    assert rate["orders"] >= 3, rate
    assert rate["opened"] == 2 and rate["calls"] == 1
    settings.ORDERHUB_PORTAL_SHOW_CODES = False
    c = Client()
    resp = c.post("/portal/login/", {"identifier": "buyer@portal.example"})
    assert resp.status_code == 503   # no mail endpoint: says so, shows nothing
    settings.ORDERHUB_PORTAL_SHOW_CODES = True
    page = c.post("/portal/login/", {"identifier": "buyer@portal.example"}, follow=True).content.decode()
    assert "演示模式" in page
    code = re.search(r"<strong>(\d{6})</strong>", page).group(1)
    assert c.post("/portal/login/code/", {"code": code}).status_code == 302
    orders = c.get("/portal/").content.decode()
    assert "王采购" in orders and 'data-number="' in orders
    asked = Message.objects.get(side="customer")  # the demo's thread: asked from the portal, answered
    page = c.get(f"/portal/orders/{asked.order.number}/").content.decode()
    assert "请问这批货能否提前两天发出？" in page and "可以，我们安排本周五发货" in page


def test_demo_has_coei_and_survey_answers():
    from orderhub.kpis.selectors import KpiFilter, portal
    from orderhub.portal.coei import customer_coei
    from orderhub.portal.models import CustomerSetting, SurveyAnswer

    summary = load_demo(orders=40)
    assert summary["coei"]["surveys"] == SurveyAnswer.objects.count() >= 3
    assert set(SurveyAnswer.objects.values_list("stars", flat=True)) >= {5, 4}
    assert CustomerSetting.objects.filter(update_hours=24).exists()
    buyer = Contact.objects.get(email="buyer@portal.example")
    got = customer_coei(buyer.customer_id)
    assert got["coei"] is not None and 0 < got["coei"] < 100 and got["update_hours"] == 24
    figures = portal(KpiFilter.build(start=None, end=None))
    assert figures["coei"] is not None and figures["coei_orders"] > 0

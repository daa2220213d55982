"""Tracking links: signed and expiring, showing only stage, ETA and last update without sign-in,
each open recorded; a one-click inbound call log; the self-query rate (web and API)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client

from orderhub.core import clock
from orderhub.portal.models import InboundCall, Visit
from orderhub.portal.services import TRACK_SALT

pytestmark = pytest.mark.django_db


def staff(username: str) -> Client:
    c = Client()
    c.force_login(get_user_model().objects.get(username=username))
    return c


def test_staff_issue_a_link_with_qr_and_anyone_opens_it(two_customers):
    order = two_customers["orders"]["A"][0]
    resp = staff("service").post(f"/orders/{order.number}/tracking-link")
    assert resp.status_code == 200
    page = resp.content.decode()
    assert "<svg" in page and 'data-testid="qr"' in page
    url = re.search(r'data-testid="track-url">([^<]+)<', page).group(1)
    path = url.split("testserver", 1)[1]
    anon = Client()
    shown = anon.get(path)
    assert shown.status_code == 200
    text = shown.content.decode()
    assert order.number in text and "待确认" in text and "2027-03-10" in text
    for secret in ("内部备注", "传感器壳体", "120.00", "PO-A-1", two_customers["orders"]["A"][1].number):
        assert secret not in text, secret   # stage, ETA and last update only: no lines, no prices
    anon.get(path)
    assert Visit.objects.filter(order=order, kind="track").count() == 2
    api = anon.get("/api/portal/track/" + path.rsplit("/", 1)[1]).json()
    assert set(api) == {"number", "reference", "stage", "note", "eta", "eta_promised", "last_update", "closed"}
    assert Visit.objects.filter(order=order, kind="track").count() == 3


def test_links_expire_and_cannot_be_forged(two_customers, company):
    from orderhub.portal.services import tracking_link_issue

    a, b = two_customers["orders"]["A"][0], two_customers["orders"]["B"][0]
    token, expires = tracking_link_issue(order=a.number, actor=company["actors"]["service"], days=1)
    assert Client().get(f"/track/{token}").status_code == 200
    with clock.frozen(expires + timedelta(seconds=1)):
        resp = Client().get(f"/track/{token}")
        assert resp.status_code == 404 and "已过期" in resp.content.decode()
    # the payload is readable but not forgeable: another order's id with the same signature fails
    payload = signing.loads(token, salt=TRACK_SALT)
    forged = token.replace(signing.b64_encode(signing.JSONSerializer().dumps(payload)).decode(),
                           signing.b64_encode(signing.JSONSerializer().dumps({**payload, "o": b.pk})).decode())
    assert forged != token
    for bad in (forged, token[:-2] + "xx", "no-such", signing.dumps({"o": b.pk, "e": 9999999999}, salt="other")):
        assert Client().get(f"/track/{bad}").status_code == 404
        assert Client().get(f"/api/portal/track/{bad}").status_code == 404
    assert not Visit.objects.filter(order=b).exists()


def test_call_log_in_one_click_and_the_self_query_rate(two_customers, company):
    a0, a1 = two_customers["orders"]["A"]
    sales = staff("service")
    page = sales.get(f"/orders/{a0.number}/").content.decode()
    assert 'data-testid="log-call"' in page and 'data-testid="tracking-link"' in page
    assert sales.post(f"/orders/{a0.number}/calls").status_code == 302
    assert InboundCall.objects.filter(order=a0).count() == 1
    assert "来电查询 1 次" in sales.get(f"/orders/{a0.number}/").content.decode()
    # the customer opens a1's link: 1 of A's 2 orders self-queried, 1 phoned about
    from orderhub.portal.services import tracking_link_issue

    token, _ = tracking_link_issue(order=a1.number, actor=company["actors"]["service"])
    Client().get(f"/track/{token}")
    from orderhub.core.tokens import token_create

    _, raw = token_create(user=get_user_model().objects.get(username="manager"), name="t")
    auth = {"Authorization": f"Bearer {raw}"}
    rate = Client().get("/api/portal/self-query", {"customer": "C001"}, headers=auth).json()
    assert rate == {"orders": 2, "opened": 1, "called": 1, "calls": 1, "self_query_rate": 0.5, "calls_per_order": 0.5}
    r = Client().post(f"/api/portal/orders/{a1.number}/calls", {"note": "问发货"}, content_type="application/json",
                      headers=auth)
    assert r.status_code == 201 and r.json()["note"] == "问发货"
    assert Client().get("/api/portal/self-query", headers=auth).json()["calls"] == 2
    link = Client().post(f"/api/portal/orders/{a1.number}/tracking-link", {"days": 7}, content_type="application/json",
                         headers=auth)
    assert link.status_code == 201 and link.json()["qr_svg"].startswith("<?xml") and "/track/" in link.json()["url"]
    contacts = staff("admin").get("/settings/customers/C001/portal/").content.decode()
    assert "自助查询率" in contacts and "50%" in contacts


def test_self_query_page_per_customer(two_customers, company):
    from orderhub.portal.services import tracking_link_issue

    a0 = two_customers["orders"]["A"][0]
    token, _ = tracking_link_issue(order=a0.number, actor=company["actors"]["service"])
    Client().get(f"/track/{token}")
    page = staff("planner").get("/self-query/").content.decode()
    rows = re.search(r'data-testid="self-query-rows">(.*?)</tbody>', page, re.S).group(1)
    assert re.search(r"C001 · [^<]+</td><td>2</td><td>1</td><td>50%</td>", rows), rows
    assert re.search(r"C002 · [^<]+</td><td>2</td><td>0</td><td>0%</td>", rows), rows


def test_the_kpi_dashboard_reads_the_self_query_rate(two_customers, company):
    from orderhub.kpis.selectors import KpiFilter, portal
    from orderhub.portal.services import tracking_link_issue

    token, _ = tracking_link_issue(order=two_customers["orders"]["B"][1].number, actor=company["actors"]["service"])
    Client().get(f"/track/{token}")
    assert portal(KpiFilter.build())["self_query_rate"] == 0.25           # 1 of 4 orders
    assert portal(KpiFilter.build(customer="C002"))["self_query_rate"] == 0.5
    assert portal(KpiFilter.build(customer="C001"))["self_query_rate"] == 0.0


def test_sales_manage_contacts_of_their_own_customers_only(two_customers, company):
    """A contact sees every order of its customer: a sales rep who sees only their own
    customers' orders cannot add one (nor list, invite or end sessions) elsewhere (404)."""
    from orderhub.core.tokens import token_create

    sales = staff("sales")                       # C001's sales owner; C002 has none
    assert sales.get("/settings/customers/C001/portal/").status_code == 200
    assert sales.get("/settings/customers/C002/portal/").status_code == 404
    assert sales.post("/settings/customers/C002/portal/", {"name": "内鬼", "email": "me@evil.example"}).status_code == 404
    b = two_customers["contacts"]["B"]
    assert sales.post(f"/settings/customers/C002/portal/{b.pk}", {"action": "logout_all"}).status_code == 404
    _, raw = token_create(user=get_user_model().objects.get(username="sales"), name="t")
    auth = {"Authorization": f"Bearer {raw}"}
    r = Client().post("/api/portal/customers/C002/contacts", {"name": "内鬼", "email": "me@evil.example"},
                      content_type="application/json", headers=auth)
    assert r.status_code == 404
    assert Client().get("/api/portal/customers/C002/contacts", headers=auth).status_code == 404
    for path in (f"/api/portal/contacts/{b.pk}/invite", f"/api/portal/contacts/{b.pk}/logout-everywhere"):
        assert Client().post(path, headers=auth).status_code == 404, path
    assert Client().patch(f"/api/portal/contacts/{b.pk}", {"email": "me@evil.example"}, content_type="application/json",
                          headers=auth).status_code == 404
    r = Client().post("/api/portal/customers/C001/contacts", {"name": "新联系人", "mobile": "13900000009"},
                      content_type="application/json", headers=auth)
    assert r.status_code == 201 and r.json()["customer"] == "C001"
    from orderhub.portal.models import Contact

    assert not Contact.objects.filter(email="me@evil.example").exists()

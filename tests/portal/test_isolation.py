"""Isolation, proven by a crawl: signed in as customer A, every portal page, every portal API
operation, every page and operation of the hub and every download is requested with every
number and id of customer B's orders, contacts, attachments (and guessed ones) in every path
parameter and search → zero leaks: no answer carries anything of B's, no open of B's orders is
recorded, and nothing but the contact's own orders is ever 200."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.core import signing
from django.test import Client
from django.urls import URLPattern

from orderhub.core.actors import Actor
from orderhub.core.audit import AuditEvent
from orderhub.orders.models import ChangeRequest, Order
from orderhub.orders.services import order_attach
from orderhub.portal.models import Message, SurveyAnswer, Visit
from orderhub.portal.services import TRACK_SALT
from orderhub.portal.sessions import SALT

from .conftest import sign_in

pytestmark = pytest.mark.django_db

API_BODY = ('{"body": "探测", "reason": "探测", "quantities": {"1": "99"}, "required_date": "2027-12-01", '
            '"due_date": "2027-12-01", "stars": 5, "comment": "探测", "lines": [{"sku": "HSG-100", "qty": "1"}]}')
FORM_BODY = {"body": "探测", "reason": "探测", "qty_1": "99", "required_date": "2027-12-01", "due_date": "2027-12-01",
             "stars": "5", "comment": "探测", "sku": "HSG-100", "qty": "1"}
PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\{(\w+)\}")


def _web_patterns():
    from orderhub.web import urls

    return [str(p.pattern) for p in urls.urlpatterns if isinstance(p, URLPattern)]


def _api_paths():
    from orderhub.api.api import api

    return [(m.upper(), p) for p, ops in api.get_openapi_schema()["paths"].items() for m in ops]


def _b_values(world) -> dict[str, list[str]]:
    """What goes into each kind of path parameter: B's real ones, then guesses."""
    b_orders = [o.number for o in world["orders"]["B"]]
    a_last = world["orders"]["A"][-1].number
    prefix, seq = a_last.rsplit("-", 1)
    guesses = [f"{prefix}-{int(seq) + k:06d}" for k in (1, 2, 3, 10)] + [f"{prefix}-000000", b_orders[0].lower(),
                                                                          quote(b_orders[0] + "/../")]
    ids = [str(world["contacts"]["B"].pk), str(world["b_attachment"]), "1", "2", "0", "999999"]
    tokens = [world["b_forged_track"], world["b_other_salt"], world["b_session_as_track"], world["b_track_as_survey"],
              "x"]
    codes = ["C002", "C001"]
    return {"number": b_orders + guesses, "pk": ids, "contact_id": ids, "token": tokens, "code": codes,
            "customer": codes, "sku": ["HSG-100"], "username": ["sales"], "event": ["order.created"],
            "channel": ["all"], "kind": ["svg", "delivery-note", "packing-list"], "message_id": ids,
            "shipment": [world["b_shipment"], world["b_shipment"].lower(), "1"], "job_id": ids, "draft_id": ids, "rule_id": ids}


def _fill(path: str, values: dict[str, list[str]]) -> list[str]:
    names = [a or b for a, b in PARAM.findall(path)]
    if not names:
        return [path]
    out = [path]
    for name in names:
        nxt = []
        for p in out:
            for v in values.get(name, ["1"]):
                nxt.append(PARAM.sub(lambda m, name=name, v=v: v if (m.group(1) or m.group(2)) == name else m.group(0),
                                     p, count=1))
        out = nxt
    return out


@pytest.fixture
def world(two_customers, mail_endpoint, tmp_path, settings, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    b0 = two_customers["orders"]["B"][0]
    att = order_attach(order=b0.number, name="B-drawing.pdf", content=b"%PDF-1.4 secret-of-B",
                       content_type="application/pdf", actor=Actor.system("test"))
    a_token = signing.loads(signing.dumps({"o": 1, "e": 1}, salt=TRACK_SALT), salt=TRACK_SALT)  # shape check
    assert a_token == {"o": 1, "e": 1}
    from orderhub.portal.messages import message_post
    from orderhub.portal.services import contact_actor

    cb = two_customers["contacts"]["B"]
    message_post(order=b0.number, body="B的秘密留言", contact=cb, actor=contact_actor(cb))  # B's thread
    from orderhub.shipping.services import ShipmentInput, shipment_create, shipment_ship

    warehouse = Actor.system("test")
    b_ship = shipment_create(order=b0.number, actor=warehouse, data=ShipmentInput(
        quantities={1: Decimal("3")}, carrier="顺丰速运", waybill="SF-B-SECRET"))   # B's shipment, left
    shipment_ship(shipment=b_ship.number, actor=warehouse)
    customer = Client()
    sign_in(customer, "buyer@a.example", mail_endpoint, django_capture_on_commit_callbacks)
    session = customer.cookies["oh_portal"].value
    return {**two_customers, "client": customer, "b_attachment": att.pk, "b_shipment": b_ship.number,
            "b_forged_track": signing.dumps({"o": b0.pk, "e": 9999999999}, salt=SALT),
            "b_other_salt": signing.dumps({"o": b0.pk, "e": 9999999999}, salt="orderhub.intake.quick"),
            "b_session_as_track": session,
            # a survey token's shape signed with the tracking salt: opens no survey (nor a tracking page)
            "b_track_as_survey": signing.dumps({"o": b0.pk}, salt=TRACK_SALT)}


def _markers(world) -> list[str]:
    b = world["orders"]["B"]
    return [o.number for o in b] + [o.external_ref for o in b] + ["宁波海顺五金", "李经理", "boss@b.example",
                                                                 "secret-of-B", "内部备注B", "B的秘密留言",
                                                                 world["b_shipment"], "SF-B-SECRET"]


def test_customer_a_sees_nothing_of_customer_b(world):
    c: Client = world["client"]
    values = _b_values(world)
    markers = _markers(world)
    a_numbers = {o.number for o in world["orders"]["A"]}
    requests, leaks, ok_reads = 0, [], []
    targets = [("GET", "/" + p) for p in _web_patterns()] + [("POST", "/" + p) for p in _web_patterns()]
    targets += [(m, p) for m, p in _api_paths()]
    for method, pattern in targets:
        for url in _fill(pattern, values):
            for query in ("", "?q=" + quote(world["orders"]["B"][0].number), "?q=PO-B", "?status=open",
                          "?from=" + quote(world["orders"]["B"][0].number)):
                if method != "GET" and query:
                    continue
                if method == "GET":
                    resp = c.get(url + query)
                elif url.startswith("/api/"):  # a body every portal write would take: only the lookup may refuse it
                    resp = c.generic(method, url, API_BODY.encode(), content_type="application/json")
                else:
                    resp = c.post(url, FORM_BODY)
                requests += 1
                body = b"".join(resp.streaming_content) if hasattr(resp, "streaming_content") else resp.content
                text = body.decode("utf-8", "replace")
                if query.startswith("?q="):   # the search box shows what A typed: not a leak
                    typed = query[3:]
                    text = text.replace(f'value="{typed}"', "").replace(f"q={typed}", "")
                found = [m for m in markers if m in text]
                if found:
                    leaks.append((method, url + query, resp.status_code, found))
                if resp.status_code == 200 and method == "GET":
                    ok_reads.append(url)
    print(f"isolation crawl: {requests} requests as customer A, leaks: {len(leaks)}")
    assert leaks == []
    # nothing was written against B's orders: no change request, no survey answer, no reorder
    b_ids = [o.pk for o in world["orders"]["B"]]
    assert not ChangeRequest.objects.filter(order_id__in=b_ids).exists()
    assert not SurveyAnswer.objects.filter(order_id__in=b_ids).exists()
    assert Order.objects.filter(customer=world["customers"]["B"]).count() == 2
    assert not AuditEvent.objects.filter(action="portal.reorder", data__reorder_of__in=[
        o.number for o in world["orders"]["B"]]).exists()
    assert not Visit.objects.filter(customer=world["customers"]["B"]).exists()
    assert list(Message.objects.filter(customer=world["customers"]["B"]).values_list("body", flat=True)) == ["B的秘密留言"]
    # the only 200s that name an order are A's own
    named = {u.split("/orders/", 1)[1].split("/")[0] for u in ok_reads if "/orders/" in u} - {"new"}  # the order form
    assert named <= a_numbers, named - a_numbers
    assert requests > 500


def test_customer_a_opens_own_order_and_b_s_is_404(world):
    c = world["client"]
    a0, b0 = world["orders"]["A"][0], world["orders"]["B"][0]
    assert c.get(f"/portal/orders/{a0.number}/").status_code == 200
    assert c.get(f"/portal/orders/{b0.number}/").status_code == 404
    assert c.get(f"/api/portal/me/orders/{b0.number}").status_code == 404
    assert c.get(f"/api/portal/me/orders/{b0.number}/messages").status_code == 404
    assert c.post(f"/portal/orders/{b0.number}/messages", {"body": "探测"}).status_code == 404
    missing = c.get("/portal/orders/SO-000000-999999/")
    assert missing.status_code == 404   # B's number answers exactly as a number that does not exist
    assert c.get(f"/orders/{b0.number}/files/{world['b_attachment']}")["Location"].startswith("/login/")

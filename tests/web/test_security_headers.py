"""Every page of the URL conf carries the strict Content-Security-Policy, and every response that
is neither a page nor JSON is a download (``core.downloads``): a view that forgets either fails
here. A new URL pattern without sample arguments below fails too, so it gets checked."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image

from orderhub.core import clock
from orderhub.core.downloads import DOWNLOAD_POLICY
from orderhub.floor.services import floor_ticket_open
from orderhub.intake import services as intake
from orderhub.intake.models import Draft
from orderhub.orders.inputs import LineInput
from orderhub.orders.services import order_attach, order_create, ticket_open
from orderhub.shipping.services import ShipmentInput, shipment_create
from tests.conftest import order_input
from tests.web.test_downloads import HTML, PNG, SVG
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db

STRICT = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "font-src 'self'; connect-src 'self'; frame-src 'none'; object-src 'none'; base-uri 'none'; "
          "frame-ancestors 'none'; form-action 'self'")


def _policy(header: str) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in
            (p.strip() for p in header.split(";")) if d}


def _patterns(resolver=None, prefix="", ns=None):
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p, prefix + str(p.pattern), p.namespace or ns)
        elif isinstance(p, URLPattern):
            yield (f"{ns}:{p.name}" if ns else p.name), prefix + str(p.pattern)


@pytest.fixture
def objects(master, intake_actor, tmp_path, settings):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path
    actors = master["actors"]
    order = order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("5"))]),
                         actor=actors["service"]).order
    att = order_attach(order=order.number, name="x.html", content=HTML, content_type="text/html",
                       actor=actors["planner"])
    msg = intake.inbound_receive(channel="miniprogram", kind="api", payload=SVG, actor=intake_actor,
                                 content_type="image/svg+xml", filename="x.svg")
    scan = intake.inbound_receive(channel="email", kind="attachment", payload=PNG, actor=intake_actor,
                                  content_type="image/png", filename="po.png")
    draft = Draft.objects.create(message=scan, data={"customer": "C001"}, confidence={}, created_at=clock.now())
    job = intake.upload_receive(channel="taobao", filename="a.csv", content=b"a\r\n1\r\n", actor=actors["admin"],
                                content_type="text/csv")
    ticket = ticket_open(order=order.number, kind="exception", title="t", owner_role="qc", actor=actors["admin"])
    photo = io.BytesIO()
    Image.new("RGB", (40, 30), (9, 9, 9)).save(photo, format="JPEG")
    floor = floor_ticket_open(order=order.number, problem_type="size", body="t", actor=actors["admin"],
                              photos=[("p.jpg", photo.getvalue())])
    floor_photo = floor.photos.get().pk
    token = intake.quick_link_issue(customer="C001", actor=actors["admin"])
    shipment = shipment_create(order=order.number, data=ShipmentInput(quantities={1: Decimal("2")}),
                               actor=actors["warehouse"])
    return {"shipment": shipment.number, "number": order.number, "attachment": att.pk, "message": msg.pk,
            "scan": scan.pk, "draft": draft.pk, "job": job.pk, "ticket": ticket.pk, "token": token,
            "floor": floor.pk, "photo": floor_photo}


def _samples(o: dict) -> dict[str, dict[str, str]]:
    """Arguments to fill each pattern with, by URL name (a pattern missing here fails the test)."""
    order = {"number": o["number"]}
    return {
        "web:board": {"code": "T1"}, "web:board_columns": {"code": "T1"},
        "web:kpi_dashboard": {"audience": "operations"}, "web:kpi_export": {"panel": "stage-times"},
        **{f"web:{n}": order for n in ("order_detail", "order_move", "order_override", "order_hold",
                                       "order_resume", "order_cancel", "order_attach", "ticket_open", "order_edit",
                                       "order_lines", "order_restore", "change_request_new")},
        "web:change_request": {**order, "pk": "999999"},
        **{f"api:{n}": order for n in ("raise_change_request", "list_change_requests")},
        **{f"api:{n}": {**order, "request_id": "999999"} for n in ("get_change_request", "approve_change_request",
                                                                   "reject_change_request")},
        "web:attachment": {**order, "pk": o["attachment"]},
        "web:intake_job": {"pk": o["job"]}, "web:intake_job_resume": {"pk": o["job"]}, "web:intake_draft": {"pk": o["draft"]},
        "web:intake_message": {"pk": o["message"]}, "web:intake_raw": {"pk": o["message"]},
        "web:intake_preview": {"pk": o["scan"]}, "web:intake_replay": {"pk": o["message"]},
        "web:quick_link": {"code": "C001"}, "web:quick_order": {"token": o["token"]},
        "web:config_workflow": {"code": "T1"}, "web:config_workflow_guard_test": {"code": "T1"},
        "web:config_customer": {"code": "C001"}, "web:config_customer_addresses": {"code": "C001"}, "web:config_customer_prices": {"code": "C001"},
        **{f"api:{n}": {"code": "C001"} for n in ("list_addresses", "add_address", "list_prices", "put_prices")},
        **{f"api:{n}": {"code": "C001", "address_id": "999999"} for n in ("change_address", "delete_address")},
        "web:config_product": {"sku": "HSG-100"}, "web:user_unlock": {"username": "planner"},
        "web:notify_resend": {"pk": "999999"}, "web:notify_endpoint": {"code": "nope"},
        "web:notify_template": {"event": "order.created", "channel": "all"},
        "web:ticket_photo": {"pk": o["floor"], "photo": o["photo"]},
        "web:ticket_photo_thumb": {"pk": o["floor"], "photo": o["photo"]},
        **{f"api:{n}": {"ticket_id": o["floor"]} for n in ("get_ticket", "resolve_ticket")},
        **{f"api:{n}": {"ticket_id": o["floor"], "photo_id": o["photo"]} for n in ("ticket_photo", "ticket_photo_thumbnail")},
        "web:rule_edit": {"pk": "999999"}, "web:ticket": {"pk": o["ticket"]}, "web:ticket_resolve": {"pk": o["ticket"]},
        **{f"api:{n}": order for n in ("get_order", "update_order", "change_lines", "restore", "transition", "override", "hold", "resume",
                                       "cancel", "events", "snapshots", "order_messages", "reply_message",
                                       "my_messages", "write_message")},
        "api:get_workflow": {"code": "T1"}, "api:save_workflow": {"code": "T1"}, "api:guard_test": {"code": "T1"},
        "api:get_rule": {"rule_id": "999999"}, "api:save_rule": {"rule_id": "999999"}, "api:save_role": {"code": "sales"},
        "api:get_endpoint": {"code": "nope"}, "api:save_endpoint": {"code": "nope"},
        **{f"api:{n}": {"message_id": o["message"]} for n in ("get_message", "get_payload", "replay")},
        "api:upload_progress": {"job_id": o["job"]}, "api:resume_upload": {"job_id": o["job"]},
        **{f"api:{n}": {"draft_id": o["draft"]} for n in ("get_draft", "confirm_draft", "discard_draft")},
        "api:issue_quick_link": {"customer": "C001"}, "api:quick_who": {"token": o["token"]},
        "api:quick_order": {"token": o["token"]}, "api:quick_qr": {"token": o["token"], "kind": "svg"},
        "api:webhook": {"channel": "miniprogram"},
        **{f"web:{n}": {"number": "PO-0001"} for n in ("purchase_order", "purchase_order_receive")},
        "web:purchase_request_approve": {"number": "PR-0001"}, "web:purchase_request": {"number": "PR-0001"},
        **{f"api:{n}": {"number": "PO-0001"} for n in ("get_purchase_order", "receive_goods")},
        **{f"api:{n}": {"number": "PR-0001"} for n in ("approve_request", "reject_request", "get_request")},
        "api:save_supplier": {"code": "S01"},
        "web:order_purchase_request": order,
        **{f"web:{n}": order for n in ("planning_rush", "planning_rush_apply")},
        **{f"api:{n}": order for n in ("order_plan", "rush", "rush_insert")},
        "api:save_line": {"code": "L1"},
        **{f"api:{n}": order for n in ("order_shortage_list", "raise_shortage_request", "order_safety_alerts")},
        "web:intake_mapping": {"code": "miniprogram"}, "web:intake_channel_secret": {"code": "miniprogram"},
        "web:intake_customer_aliases": {"code": "C001"},
        **{f"api:{n}": {"code": "miniprogram"} for n in ("create_channel", "change_channel", "rotate_secret",
                                                          "mapping_versions", "try_mapping")},
        **{f"api:{n}": {"code": "C001"} for n in ("get_aliases", "put_aliases")},
        **{f"web:{n}": order for n in ("order_shipment_create",)},
        "web:order_document": {**order, "kind": "confirmation"},
        **{f"web:{n}": {"number": o["shipment"]} for n in ("shipment_detail", "shipment_ship", "shipment_pod",
                                                            "shipment_pod_file", "shipment_accept")},
        "web:shipment_document": {"number": o["shipment"], "kind": "delivery-note"},
        "web:document_template": {"kind": "delivery-note"},
        **{f"api:{n}": order for n in ("order_shipments", "create_shipment")},
        "api:order_document": {**order, "kind": "quotation"},
        **{f"api:{n}": {"number": o["shipment"]} for n in ("get_shipment", "ship", "upload_pod", "download_pod",
                                                            "accept")},
        "api:shipment_document": {"number": o["shipment"], "kind": "packing-list"},
        **{f"api:{n}": {"kind": "delivery-note"} for n in ("get_template", "put_template")},
        # the customer portal: staff's side, the customer's pages (signed out here) and links
        **{f"web:{n}": order for n in ("portal_tracking_link", "portal_call_log", "portal_order",
                                               "portal_message_reply", "portal_message")},
        "web:portal_contacts": {"code": "C001"}, "web:portal_contact": {"code": "C001", "pk": "999999"},
        "web:portal_track": {"token": "no-such-link"},
        "web:portal_survey": order, "web:survey_link": {"token": "no-such-link"}, "web:portal_change": order, "web:portal_order_document": order,
        "web:portal_shipment_document": {**order, "shipment": "SH-none", "kind": "delivery-note"},
        "api:my_shipments": order, "api:my_confirmation": order,
        "api:my_shipment_document": {**order, "shipment": "SH-none", "kind": "delivery-note"},
        **{f"api:{n}": order for n in ("reorder", "ask_change")},
        "web:portal_update_hours": {"code": "C001"},
        **{f"api:{n}": order for n in ("order_coei", "my_survey", "answer_my_survey")},
        **{f"api:{n}": {"customer": "C001"} for n in ("customer_coei", "customer_update_hours")},
        **{f"api:{n}": {"token": "no-such-link"} for n in ("link_survey", "answer_link_survey")},
        **{f"api:{n}": {"customer": "C001"} for n in ("list_contacts", "add_contact")},
        **{f"api:{n}": {"contact_id": "999999"} for n in ("change_contact", "invite_contact", "end_contact_sessions")},
        **{f"api:{n}": order for n in ("issue_tracking_link", "log_call", "my_order")},
        "api:track": {"token": "no-such-link"},
        # finance (issue 19 items 4, 5, 7)
        "web:finance_payment_apply": {"number": "SK-none"}, "web:finance_customer": {"code": "C001"},
        **{f"web:{n}": {"number": "FP-none"} for n in ("finance_invoice", "finance_invoice_promise")},
        "web:finance_invoice_issue": {"number": o["shipment"]},
        **{f"web:{n}": order for n in ("finance_order_card", "return_create")},
        **{f"web:{n}": {"number": "R-none"} for n in ("return_detail", "return_qc", "return_qc_file", "return_receive")},
        **{f"api:{n}": {"number": "FP-none"} for n in ("get_invoice", "create_promise")},
        "api:issue_invoice": {"number": o["shipment"]}, "api:apply_payment": {"number": "SK-none"},
        "api:customer_finance": {"code": "C001"}, "api:export_vouchers": {"system": "kingdee"},
        **{f"api:{n}": {"number": "R-none"} for n in ("get_return", "record_qc", "qc_file", "receive_return")},
        "api:create_return": order, **{f"api:{n}": {"code": "C001"} for n in ("get_billing", "put_billing", "get_customer", "put_customer")},
        # circuit breakers: a trip and a disruption that do not exist, a breaker's configuration
        "api:breaker_config_put": {"kind": "stock"}, "api:breaker_trip_reset": {"trip_id": "999999"},
        "api:disruption_clear": {"disruption_id": "999999"},
        "web:breaker_reset": {"pk": "999999"}, "web:disruption_clear": {"pk": "999999"},
    }


def _urls(objects) -> list[tuple[str, str]]:
    samples = _samples(objects)
    out, missing = [], []
    for name, pattern in _patterns():
        if name and name.startswith("admin:"):
            continue  # the admin: its index and login below (every model page is the same template set)
        params = re.findall(r"<(?:\w+:)?(\w+)>", pattern)
        path = pattern.lstrip("^").rstrip("$")
        if params:
            given = samples.get(name)
            if given is None or set(params) - set(given):
                missing.append(f"{name} ({pattern})")
                continue
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m, given=given: str(given[m.group(1)]), path)
        out.append((name, "/" + path))
    assert not missing, f"URL patterns with no sample arguments in this test: {missing}"
    return sorted(set(out + [("admin:index", "/admin/"), ("admin:login", "/admin/login/")]))


def test_every_page_has_the_strict_policy_and_everything_else_is_json_or_a_download(objects):
    admin = login("admin")
    root = get_user_model().objects.create_superuser("root", password="pw-root")  # sees the admin itself
    staff = Client()
    staff.force_login(root)
    pages = downloads = 0
    for name, path in _urls(objects):
        for who, client in (("anonymous", Client()), ("admin", staff if name.startswith("admin:") else admin)):
            resp = client.get(path)
            ctype = resp.get("Content-Type", "")
            csp = resp.get("Content-Security-Policy")
            assert csp, f"{who} GET {path} ({name}): no Content-Security-Policy"
            if ctype.startswith("text/html") and resp.status_code not in (204, 304):
                pages += 1
                policy = _policy(csp)
                assert policy == _policy(STRICT), f"{who} GET {path}: {csp}"
                assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
                assert policy["object-src"] == policy["base-uri"] == policy["frame-ancestors"] == "'none'"
                assert policy["script-src"] == "'self'" and policy["form-action"] == "'self'"
                assert resp["X-Frame-Options"] == "DENY" and resp["X-Content-Type-Options"] == "nosniff"
            elif resp.status_code == 200 and not ctype.startswith("application/json"):
                downloads += 1
                assert resp["Content-Disposition"].startswith("attachment;"), f"{path} is not a download"
                assert resp["X-Content-Type-Options"] == "nosniff" and csp == DOWNLOAD_POLICY, path
    assert pages > 80 and downloads >= 5, (pages, downloads)


def test_the_policy_is_the_one_the_browser_test_runs_under(settings):
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    resp = Client().get("/login/")
    assert _policy(resp["Content-Security-Policy"]) == _policy(STRICT)

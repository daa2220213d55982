"""Hostile text in the web workspace: refused at the forms naming the field; text stored before
the rules (or by a path that skipped them) never crashes a page or an export; spreadsheet
formulas typed into fields stay text in the Excel export."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client
from openpyxl import load_workbook

from orderhub.catalog.models import Customer
from orderhub.orders.models import Order, OrderLine
from tests.web.test_pages import login, make_order

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("http://evil.example/x","点我查看")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]
# one-line fields refuse tab and CR at input: these two can only be there from before the rules
STORED_FORMULAS = ["\t=1+1", "\r=1+1"]


def _export_rows(client: Client, query: str = ""):
    resp = client.get("/orders/export.xlsx" + query)
    assert resp.status_code == 200, resp.status_code
    wb = load_workbook(io.BytesIO(resp.content))  # not read-only: cell types and styles are read
    return wb.active


def test_formulas_typed_into_fields_are_exported_as_text(company):
    for text in FORMULAS:
        make_order(company, external_ref=text)
    for text in STORED_FORMULAS:
        Order.objects.filter(pk=make_order(company).pk).update(external_ref=text)
    ws = _export_rows(login("planner"))
    header = [c.value for c in ws[2]]
    col = header.index("外部单号") + 1
    cells = [row[col - 1] for row in ws.iter_rows(min_row=3) if str(row[0].value or "").startswith("SO-")]
    by_value = {c.value: c for c in cells}
    expected = [t.replace("\r", "\n") for t in FORMULAS + STORED_FORMULAS]  # XML reads CR back as LF
    assert set(by_value) == set(expected)
    for text in expected:
        cell = by_value[text]
        assert cell.data_type == "s", (text, cell.data_type)  # a string, never a formula ("f")
        assert cell.quotePrefix, text  # Excel keeps it text even after the cell is edited
    ordinary = [c for row in ws.iter_rows(min_row=3) for c in row if c.value == "C001"]
    assert ordinary and not ordinary[0].quotePrefix  # plain text is left alone


def test_text_stored_before_the_rules_never_crashes_pages_or_exports(company):
    """Rows written before control characters were refused (or by a path that skipped the
    rules): every page, the export and the API still answer, the text shown escaped or replaced."""
    order = make_order(company, tags=["ok"])
    Order.objects.filter(pk=order.pk).update(tags=["急\u000b单", "a\u0000b"[:1] + "\u001fb"],
                                             external_ref="PO\u000b4711", remarks="备注\u0007\u0085")
    Customer.objects.filter(pk=company["customer"].pk).update(name="苏州\u000b博锐<script>x</script>")
    OrderLine.objects.filter(order=order).update(remarks="\u001b[31m")
    planner = login("planner")
    for path in ("/", "/orders/", f"/orders/{order.number}/", "/board/T1/", "/board/T1/columns",
                 "/orders/?tag=%E6%80%A5%0B%E5%8D%95", "/orders/?q=PO%0B4711"):
        resp = planner.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        assert "<script>x</script>" not in resp.content.decode()
    _export_rows(planner, "?q=%0B%3DA1")  # a control character in the filters (audited with the export)
    ws = _export_rows(planner)
    values = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "PO\ufffd4711" in values  # replaced, not dropped: the reader sees something was there
    assert any(v.startswith("#急\ufffd单") for v in values)
    assert not any("\u000b" in v for v in values)
    api = Client()
    api.force_login(company["users"]["planner"])
    resp = api.get(f"/api/orders/{order.number}")
    assert resp.status_code == 200 and json.loads(resp.content)["external_ref"] == "PO\u000b4711"


def test_the_new_order_form_refuses_control_characters_naming_the_field(company):
    c = login("service")
    resp = c.post("/orders/new/", {"customer": "C001", "required_date": "2026-12-20", "urgency": "green",
                                   "remarks": "第一行\r\n第二行", "tags": "#急\u000b单",
                                   "line_sku": ["HSG-100"], "line_qty": ["5"]})
    assert resp.status_code == 400
    page = resp.content.decode()
    assert "U+000B" in page and 'name="tags"' in page
    assert not Order.objects.exists()
    resp = c.post("/orders/new/", {"customer": "C001", "required_date": "2026-12-20", "urgency": "green",
                                   "line_sku": ["HSG-100"], "line_qty": ["5"], "line_remarks": ["\u001b[31m"]})
    assert resp.status_code == 400 and "U+001B" in resp.content.decode()
    assert not Order.objects.exists()


def test_a_mobile_longer_than_its_column_is_refused_under_the_field(company):
    """/settings/customers/_new/ with a 33+ character mobile was a 500 (DataError)."""
    admin = login("admin")
    resp = admin.post("/settings/customers/_new/", {"code": "C900", "name": "新客户", "tier": "B",
                                                     "mobile": "1" * 40, "is_active": "1"})
    assert resp.status_code == 400
    page = resp.content.decode()
    assert "32" in page and "is-invalid" in page
    assert not Customer.objects.filter(code="C900").exists()
    for field, value in (("email", "not-an-e-mail"), ("name", "x" * 201), ("name", "博\u000b锐"),
                         ("credit_limit", "1" + "0" * 20)):
        data = {"code": "C901", "name": "新客户", "tier": "B", "is_active": "1", field: value}
        assert admin.post("/settings/customers/_new/", data).status_code == 400, field
    assert not Customer.objects.filter(code="C901").exists()


def test_the_inbox_page_of_a_webhook_message_with_a_problem_and_no_rows(master, intake_actor):
    """/intake/<id>/ of any JSON-webhook message with a problem (empty ``rows``) was a 500."""
    from orderhub.intake.services import inbound_process, inbound_receive

    body = json.dumps({"order_id": "WX-EMPTY", "items": []}).encode()
    msg = inbound_receive(channel="miniprogram", kind="webhook", payload=body, actor=intake_actor,
                          content_type="application/json")
    msg = inbound_process(message=msg, actor=intake_actor)
    assert msg.status == "failed" and msg.report["items"][0]["rows"] == []
    resp = login("service").get(f"/intake/{msg.pk}/")
    assert resp.status_code == 200
    assert "WX-EMPTY" in resp.content.decode() and 'data-testid="row-report"' in resp.content.decode()

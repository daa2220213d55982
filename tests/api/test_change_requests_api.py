"""Change requests over the API: raise (impact in the answer), list, read, approve, reject; a move
while one is pending answers 409 with "变更审批中"."""

from __future__ import annotations

import pytest

from orderhub.orders.models import Order
from tests.api.conftest import order_body

pytestmark = pytest.mark.django_db


def test_raise_approve_applies_and_a_move_meanwhile_is_refused(api_as):
    sales, service = api_as("sales"), api_as("service")
    number = sales.post("/api/orders", order_body()).json()["number"]      # T1 pending: owner service
    resp = sales.post(f"/api/orders/{number}/change-requests", {
        "header": {"required_date": "2099-06-30", "urgency": "red"},
        "lines": [{"op": "update", "line_no": 1, "qty": 90}], "reason": "客户改量"})
    assert resp.status_code == 201, resp.content
    cr = resp.json()
    assert cr["status"] == "pending" and cr["approvers"] == ["service", "finance"]
    assert cr["impact"]["credit"]["amount_changes"] and cr["impact"]["deadlines"][0]["field"] == "required_date"
    assert cr["may_decide"] == [] and cr["pending_roles"] == ["service", "finance"]
    # frozen: the move is refused with the reason
    resp = service.post(f"/api/orders/{number}/transition", {"to": "scheduled"})
    assert resp.status_code == 409 and resp.json()["code"] == "change_pending"
    assert "变更审批中" in resp.json()["message"]
    # listed and readable
    assert [c["id"] for c in sales.get(f"/api/orders/{number}/change-requests").json()] == [cr["id"]]
    one = service.get(f"/api/orders/{number}/change-requests/{cr['id']}").json()
    assert one["may_decide"] == ["service"]
    # a decision needs a comment; the warehouse is no approver here
    assert service.post(f"/api/orders/{number}/change-requests/{cr['id']}/approve", {"comment": ""}).status_code == 422
    resp = api_as("warehouse").post(f"/api/orders/{number}/change-requests/{cr['id']}/approve", {"comment": "好"})
    assert resp.status_code == 403
    resp = service.post(f"/api/orders/{number}/change-requests/{cr['id']}/approve", {"comment": "客户已确认"})
    assert resp.status_code == 200 and resp.json()["pending_roles"] == ["finance"]
    resp = api_as("finance").post(f"/api/orders/{number}/change-requests/{cr['id']}/approve", {"comment": "额度够"})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["status"] == "approved" and body["applied_version"] == 2
    order = Order.objects.get(number=number)
    assert order.version == 2 and order.urgency == "red" and str(order.required_date) == "2099-06-30"
    assert order.lines.get(line_no=1).qty == 90
    assert service.post(f"/api/orders/{number}/transition", {"to": "scheduled"}).status_code == 200


def test_reject_with_a_reason(api_as):
    sales, service = api_as("sales"), api_as("service")
    number = sales.post("/api/orders", order_body()).json()["number"]
    cr = sales.post(f"/api/orders/{number}/change-requests", {"header": {"remarks": "改备注"}}).json()
    assert cr["approvers"] == ["service"]
    resp = service.post(f"/api/orders/{number}/change-requests/{cr['id']}/reject", {"comment": "客户未确认"})
    assert resp.status_code == 200 and resp.json()["status"] == "rejected"
    assert resp.json()["decisions"][0]["comment"] == "客户未确认"
    assert Order.objects.get(number=number).remarks != "改备注"
    assert sales.post(f"/api/orders/{number}/change-requests", {"header": {}}).status_code == 409   # nothing to change
    assert api_as("warehouse").post(f"/api/orders/{number}/change-requests",
                                    {"header": {"remarks": "x"}}).status_code == 403

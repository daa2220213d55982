"""API answers read as UTF-8: Chinese text as it is, not \\uXXXX escapes."""

import pytest

from orderhub.core.tokens import token_create
from orderhub.orders.services import order_create
from tests.api.conftest import ApiClient
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def test_an_order_reads_in_utf8(company):
    order = order_create(data=order_input(), actor=company["actors"]["service"]).order
    api = ApiClient(token_create(user=company["users"]["planner"], name="t")[1])
    resp = api.get(f"/api/orders/{order.number}")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/json; charset=utf-8"
    raw = resp.content
    assert "苏州博锐精工".encode() in raw and b"\\u" not in raw

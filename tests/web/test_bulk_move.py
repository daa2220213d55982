"""Bulk moves from the board: tick orders, move them together, read a summary in Chinese."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderhub.catalog.models import Customer
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order
from orderhub.orders.services import order_create, order_transition
from tests.conftest import order_input
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db


def _scheduled(company, sku: str, qty: str) -> str:
    a = company["actors"]
    number = order_create(data=order_input(lines=[LineInput(sku=sku, qty=Decimal(qty))]),
                          actor=a["sales"]).order.number
    assert order_transition(order=number, to="scheduled", actor=a["service"]).ok
    return number


def test_the_board_offers_ticks_and_the_move_form(company):
    number = _scheduled(company, "M8X30", "10")
    page = login("planner").get("/board/T1/").content.decode()
    assert 'data-testid="bulk-move"' in page and "移动勾选的订单" in page
    assert f'class="form-check-input bulk-check" name="numbers" value="{number}" form="bulk-move"' in page
    assert '<option value="materials_ready">物料齐套</option>' in page


def test_a_bulk_move_summarises_moved_blocked_and_refused_in_chinese(company):
    ok = _scheduled(company, "M8X30", "10")
    short = _scheduled(company, "HSG-100", "1000")   # 600 kg of bar, 80 kg in stock
    other = Customer.objects.create(code="C002", name="别人的客户", credit_limit=1_000_000)
    hidden = order_create(data=order_input(customer=other.code), actor=company["actors"]["manager"]).order.number
    resp = login("planner").post("/orders/bulk-move", {"numbers": [ok, short, "SO-NOPE"], "to": "materials_ready",
                                                      "board": "T1"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "已移动 1 张，受阻 1 张，被拒 1 张。" in html
    assert f"{ok}（物料齐套）" in html
    blocked = html.split('data-testid="bulk-blocked"')[1].split("</ul>")[0]
    assert short in blocked and "物料未齐套: 6061铝棒 缺" in blocked
    assert "SO-NOPE：订单 SO-NOPE 不存在" in html.replace("。", "")
    assert Order.objects.get(number=ok).stage == "materials_ready"
    assert Order.objects.get(number=short).blocked_reasons[0]["code"] == "bom_kitted"
    # sales sees only its own customers' orders: another's order is answered as not found
    resp = login("sales").post("/orders/bulk-move", {"numbers": [hidden], "to": "scheduled"},
                               headers={"HX-Request": "true"})
    assert "被拒 1 张" in resp.content.decode() and Order.objects.get(number=hidden).stage == "pending"


def test_without_script_the_summary_comes_as_messages_on_the_board(company):
    short = _scheduled(company, "HSG-100", "1000")
    c = login("planner")
    resp = c.post("/orders/bulk-move", {"numbers": [short], "to": "materials_ready", "board": "T1"})
    assert resp.status_code == 302 and resp["Location"] == "/board/T1/"
    page = c.get("/board/T1/").content.decode()
    assert "已移动 0 张，受阻 1 张，被拒 0 张。" in page and f"{short} 受阻：物料未齐套" in page
    resp = c.post("/orders/bulk-move", {"to": "materials_ready"}, headers={"HX-Request": "true"})
    assert "请先勾选要移动的订单。" in resp.content.decode()

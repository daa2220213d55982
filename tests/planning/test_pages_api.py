"""The planning pages (Chinese, human words) and the API under /api/planning."""

from datetime import date

import pytest
from django.test import Client

from orderhub.core.tokens import token_create
from tests.planning.test_promise import confirm

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]   # the demo serves these on SQLite


def _client(company, role="planner"):
    c = Client()
    c.force_login(company["users"][role])
    return c


def test_capacity_board_colours_load_per_line_and_day(company, lines, monday_morning):
    confirm(company, qty="100")               # L1: Monday full (8/8), Tuesday 2/8
    page = _client(company, "manager").get("/planning/").content.decode()
    assert 'data-testid="capacity-board"' in page and "一号线" in page
    assert 'data-level="full"' in page and 'data-level="low"' in page and 'data-level="off"' in page
    assert "8/8" in page and "100%" in page and "None" not in page
    assert 'data-testid="reschedule"' not in page    # managers see, planners plan
    assert 'data-testid="reschedule"' in _client(company).get("/planning/").content.decode()


def test_rush_page_and_apply_from_the_order(company, lines, monday_morning):
    [confirm(company, qty="160") for _ in range(2)]
    rush = confirm(company, qty="80")
    c = _client(company)
    assert 'data-testid="rush-options-link"' in c.get(f"/orders/{rush.number}/").content.decode()
    page = c.get(f"/orders/{rush.number}/rush/").content.decode()
    assert page.count('data-testid="rush-option"') == 3 and "推迟 1 天" in page and "11月27日" in page
    r = c.post(f"/orders/{rush.number}/rush/apply", {"line": "L1", "reason": "客户急单"}, follow=True)
    assert "已按急单插入" in r.content.decode()


def test_lines_page_saves_a_line_with_routings(company, lines, monday_morning):
    c = _client(company, "production")
    r = c.post("/planning/lines/save", {"code": "L9", "name": "九号线", "hours": "6", "rows": "5",
                                        "sku-0": "HSG-100", "seq-0": "20", "op-0": "去毛刺", "rate-0": "0.02",
                                        "pref-0": "on"}, follow=True)
    body = r.content.decode()
    assert "九号线" in body and "去毛刺" in body
    refused = c.post("/planning/lines/save", {"code": "L9", "name": "九号线", "hours": "30"}, follow=True)
    assert "0 到 24" in refused.content.decode()


def test_risk_page_lists_reasons_and_the_score(company, lines, monday_morning):
    confirm(company, qty="10")
    from datetime import datetime

    from orderhub.core import clock
    from tests.conftest import SH
    with clock.frozen(datetime(2026, 11, 24, 11, 0, tzinfo=SH)):
        page = _client(company).get("/planning/risks/").content.decode()
    assert 'data-testid="risk-row"' in page and "当前环节已超时" in page and 'data-testid="risk-score"' in page


def test_api_board_rush_and_risks(company, lines, monday_morning):
    booked = [confirm(company, qty="160") for _ in range(2)]
    rush = confirm(company, qty="80")
    c = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=company['users']['planner'], name='t')[1]}")
    board = c.get("/api/planning/board?days=7").json()
    l1 = next(r for r in board["lines"] if r["line"] == "L1")
    assert l1["cells"][0] == {"day": "2026-11-23", "hours": "8.00", "capacity": "8.00", "percent": 100, "orders": 1}
    opts = c.get(f"/api/planning/orders/{rush.number}/rush-options").json()
    assert opts["before"] == "2026-11-27" and [o["line"] for o in opts["options"]] == ["L2", "L1", "L3"]
    applied = c.post(f"/api/planning/orders/{rush.number}/rush", {"line": "L1"}, content_type="application/json")
    assert applied.status_code == 200 and applied.json()["moved"] >= 3
    plan = c.get(f"/api/planning/orders/{booked[1].number}").json()
    assert plan["expected_date"] == "2026-11-27" and plan["operations"][0]["line"] == "L1"
    lines_out = c.get("/api/planning/lines").json()
    assert {x["code"] for x in lines_out} == {"L1", "L2", "L3"}
    assert c.get("/api/planning/risks").status_code == 200
    assert c.get("/api/planning/risks/score").json()["orders"] == 0
    assert date(2026, 11, 23)

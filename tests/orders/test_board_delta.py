"""The board's delta protocol against PostgreSQL: per-column fingerprints from
``orders.boards.board_index``, and a poll that sends only the columns that changed."""

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orderhub.core import clock
from orderhub.orders.boards import board_index
from orderhub.orders.inputs import LineInput
from orderhub.orders.selectors import OrderFilter
from orderhub.orders.services import order_create, order_hold, order_transition
from tests.conftest import SH, order_input

pytestmark = pytest.mark.django_db


def _order(company, **kw):
    kw.setdefault("lines", [LineInput(sku="M8X30", qty=Decimal(1))])
    return order_create(data=order_input(**kw), actor=company["actors"]["service"]).order


def _move(company, order, to="scheduled"):
    order_transition(order=order.number, to=to, actor=company["actors"]["service"])


def _index(company, per_column=30):
    cols = board_index("T1", OrderFilter(), actor=company["actors"]["planner"], per_column=per_column)
    return {c.code: c for c in cols}


def _fps(cols):
    return {code: c.fingerprint for code, c in cols.items()}


def test_a_move_changes_the_fingerprints_of_the_two_columns_it_touches_and_no_other(company):
    a, b = _order(company), _order(company)
    _move(company, b)
    before = _index(company)
    assert _fps(_index(company)) == _fps(before)  # nothing changed: same fingerprints
    assert [k[0] for k in before["pending"].keys] == [a.pk]
    _move(company, a)
    after = _index(company)
    changed = {code for code in before if before[code].fingerprint != after[code].fingerprint}
    assert changed == {"pending", "scheduled"}
    assert after["pending"].keys == [] and after["pending"].count == 0
    assert {k[0] for k in after["scheduled"].keys} == {a.pk, b.pk}


def test_an_edit_in_place_changes_only_its_own_column(company):
    a = _order(company)
    b = _order(company)
    _move(company, b)
    before = _index(company)
    order_hold(order=b.number, reason="客户要求暂停", actor=company["actors"]["admin"])
    after = _index(company)
    changed = {code for code in before if before[code].fingerprint != after[code].fingerprint}
    assert changed == {"scheduled"}
    assert after["pending"].keys == before["pending"].keys and after["pending"].keys[0][0] == a.pk


def test_cards_stay_sorted_red_first_then_nearest_deadline(company):
    green, red, yellow = (_order(company, urgency=u) for u in ("green", "red", "yellow"))
    keys = [k[0] for k in _index(company)["pending"].keys]
    assert keys == [red.pk, yellow.pk, green.pk]


def test_the_column_limit_does_not_hide_a_new_urgent_order(company):
    """Past its limit a column still shows every red order: a red order arriving last, with
    the latest deadline, is on the board."""
    for _ in range(3):
        _order(company)  # calm ones fill the column's limit of 2
    early_reds = [_order(company, urgency="red") for _ in range(2)]
    cols = _index(company, per_column=2)
    assert [k[0] for k in cols["pending"].keys] == [r.pk for r in early_reds]
    late_red = _order(company, urgency="red", required_date=clock.now().date().replace(year=2027))
    cols = _index(company, per_column=2)
    shown = [k[0] for k in cols["pending"].keys]
    assert late_red.pk in shown and len(shown) == 3 and cols["pending"].count == 6


def _login(role="planner") -> Client:
    c = Client()
    assert c.login(username=role, password="pw-" + role)
    return c


def _state(html: str) -> tuple[str, dict[str, str]]:
    stamp = re.search(r'id="board-stamp" value="([^"]+)"', html).group(1)
    return stamp, dict(re.findall(r'name="fp-([a-z_]+)" value="([0-9a-f]+)"', html))


def _poll(c, stamp, fps):
    return c.get("/board/T1/columns", {"stamp": stamp, **{f"fp-{k}": v for k, v in fps.items()}})


def test_a_poll_sends_only_the_changed_columns_and_renders_only_the_changed_card(company, settings):
    settings.ORDERHUB_BOARD_INDEX_SECONDS = 0  # every change is read at once (the interval: below)
    many = [_order(company) for _ in range(12)]
    for o in many[:6]:
        _move(company, o)
    c = _login()
    stamp, fps = _state(c.get("/board/T1/").content.decode())
    assert {"pending", "scheduled", "qc"} <= fps.keys()
    # nothing changed: 204, and not one query over the orders' rows
    with CaptureQueriesContext(connection) as q:
        assert _poll(c, stamp, fps).status_code == 204
    assert not any("safety" in x["sql"].lower() for x in q.captured_queries)
    # the session, the user, their roles, and the change stamp's two walks of the updated_at index
    assert len(q) == 5, [x["sql"][:80] for x in q.captured_queries]

    moved = many[8]
    _move(company, moved)
    with CaptureQueriesContext(connection) as q:
        resp = _poll(c, stamp, fps)
    body = resp.content.decode()
    assert resp.status_code == 200
    sections = re.findall(r'<section class="board-col" id="board-col-([a-z_]+)"[^>]*hx-swap-oob="true"', body)
    assert sorted(sections) == ["pending", "scheduled"]
    assert 'id="board-stamp"' in body and 'hx-swap-oob="true"' in body
    pending = body.split('id="board-col-pending"')[1].split("</section>")[0]
    scheduled = body.split('id="board-col-scheduled"')[1].split("</section>")[0]
    assert moved.number in scheduled and moved.number not in pending
    assert all(o.number in pending for o in many[6:] if o != moved)
    # the other 11 cards come from the card cache: only the moved card's row is read
    rows = [x["sql"] for x in q.captured_queries if '"orders_order"."id" IN (' in x["sql"]]
    assert len(rows) == 1
    assert re.search(r'"orders_order"\."id" IN \((\d+)\)', rows[0]).group(1) == str(moved.pk)

    # the viewer now holds the new state: the next poll is 204 again
    stamp2, fps2 = _state(body)
    fps.update(fps2)
    assert _poll(c, stamp2, fps).status_code == 204


def test_a_viewer_without_fingerprints_gets_every_column(company):
    _order(company)
    c = _login()
    body = c.get("/board/T1/columns").content.decode()
    assert len(re.findall(r'hx-swap-oob="true"', body)) == 1 + len(_index(company))
    cache.clear()
    assert c.get("/board/T1/").status_code == 200


def test_a_busy_board_reads_its_index_at_most_once_per_interval(company, settings):
    """During a peak the stamp changes many times a second; the index is read again only once
    the interval has passed. Until then a poll gets the newest index with its own stamp (204
    for a viewer who holds it), and the change arrives with the first poll after the interval."""
    settings.ORDERHUB_BOARD_INDEX_SECONDS = 1
    t0 = datetime(2026, 11, 23, 9, 0, 10, tzinfo=SH)
    with clock.frozen(t0):
        a, b = _order(company), _order(company)
        c = _login()
        stamp, fps = _state(c.get("/board/T1/").content.decode())
        _move(company, a)
    with clock.frozen(t0 + timedelta(seconds=0.5)), CaptureQueriesContext(connection) as q:
        assert _poll(c, stamp, fps).status_code == 204
        other = _login("admin").get("/board/T1/columns").content.decode()
    assert not any("safety" in x["sql"].lower() for x in q.captured_queries)  # no board query
    assert _state(other)[0] == stamp                 # another viewer: the newest index, its stamp
    with clock.frozen(t0 + timedelta(seconds=1.5)):
        body = _poll(c, stamp, fps).content.decode()
    scheduled = body.split('id="board-col-scheduled"')[1].split("</section>")[0]
    assert a.number in scheduled and b.number not in scheduled and _state(body)[0] != stamp

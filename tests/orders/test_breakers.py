"""Circuit breakers (issue 15.6): stock, credit and carrier, each tripping (the order paused with
the reason through its one hold, a ticket for the configured role, the history in Chinese) and
resetting (by itself when the condition clears, or by hand with a reason), configured as data."""

from decimal import Decimal as D

import pytest

from orderhub.catalog.services import customer_save
from orderhub.core.errors import ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.inventory.services import stock_adjust, stock_receive
from orderhub.orders import events, services
from orderhub.orders.breakers.configure import breaker_config_save
from orderhub.orders.breakers.credit import recheck_customer
from orderhub.orders.breakers.trips import apply_pending, breaker_reset
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import BreakerTrip, Order, Ticket
from orderhub.orders.services.lines import LineChange
from orderhub.orders.tasks import breakers_apply_job
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def _order(company, sku, qty, **kw):
    return services.order_create(data=order_input(lines=[LineInput(sku=sku, qty=D(qty))], **kw),
                                 actor=company["actors"]["sales"]).order


def _adjust(company, qty, *, wh="wh1"):
    return stock_adjust(product_id=company["bar"].pk, warehouse_id=company[wh].pk, qty=D(qty),
                        actor=company["actors"]["admin"], note="盘点")


def _actions(order):
    return list(AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("seq")
                .values_list("action", flat=True))


def _active(kind="stock"):
    return set(BreakerTrip.objects.filter(kind=kind, reset_at__isnull=True).values_list("order__number", flat=True))


@pytest.fixture
def waiting(company, monday_morning):
    """6061 bar: 80 kg free. Waiting orders needing 70 kg and 50 kg directly, 66 kg through the
    housing's BOM (110 × 0.6), and one needing bolts only."""
    return {"big": _order(company, "AL6061-BAR", "70"), "small": _order(company, "AL6061-BAR", "50"),
            "bom": _order(company, "HSG-100", "110"), "bolts": _order(company, "M8X30", "50")}


def test_stock_change_trips_exactly_the_orders_it_can_no_longer_cover_and_resets_when_stock_returns(
        company, waiting, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _adjust(company, "-20")                                       # 60 kg free
    assert _active() == {waiting["big"].number, waiting["bom"].number}
    big = Order.objects.get(pk=waiting["big"].pk)
    assert big.on_hold and big.hold_reason.startswith("熔断：") and "6061铝棒" in big.hold_reason
    assert not Order.objects.get(pk=waiting["small"].pk).on_hold
    trip = BreakerTrip.objects.get(order=big)
    assert trip.holds and D(trip.detail["need"]) == 70 and D(trip.detail["free"]) == 60
    # the substitute is offered with its stock, in the ticket purchasing gets
    [sub] = trip.detail["substitutes"]
    assert sub["sku"] == "AL6063-BAR" and D(sub["available"]) == 500
    ticket = trip.ticket
    assert ticket.owner_role == "purchaser" and ticket.kind == "breaker" and ticket.status == "open"
    assert "6063铝棒" in ticket.body and "库存熔断" in ticket.title
    assert _actions(big)[-2:] == [events.ORDER_BREAKER_TRIPPED, events.TICKET_OPENED]
    ev = AuditEvent.objects.get(subject_id=big.pk, action=events.ORDER_BREAKER_TRIPPED)
    assert ev.changes["on_hold"] == [False, True] and "可用库存 60" in ev.reason
    # a paused order cannot move on
    res = services.order_transition(order=big.number, to="scheduled", actor=company["actors"]["service"])
    assert not res.ok
    # a further change keeps the trip, nothing is tripped twice
    with django_capture_on_commit_callbacks(execute=True):
        _adjust(company, "-1")                                        # 59
    assert BreakerTrip.objects.filter(order=big).count() == 1
    # stock back: 67 covers the BOM order (66) but not 70
    with django_capture_on_commit_callbacks(execute=True):
        stock_receive(product_id=company["bar"].pk, warehouse_id=company["wh2"].pk, qty=D("8"),
                      actor=company["actors"]["warehouse"])
    assert _active() == {waiting["big"].number}
    bom = Order.objects.get(pk=waiting["bom"].pk)
    assert not bom.on_hold and bom.hold_reason == ""
    assert _actions(bom)[-2:] == [events.TICKET_RESOLVED, events.ORDER_BREAKER_RESET]
    assert Ticket.objects.get(order=bom, kind="breaker").status == "resolved"
    with django_capture_on_commit_callbacks(execute=True):
        _adjust(company, "3", wh="wh2")                               # 70
    assert _active() == set()
    assert not Order.objects.get(pk=big.pk).on_hold


def test_another_orders_reservation_trips_and_a_hand_hold_is_never_released_by_the_breaker(
        company, waiting, django_capture_on_commit_callbacks):
    a = company["actors"]
    services.order_hold(order=waiting["small"].number, actor=a["finance"], reason="税号有误")
    taker = _order(company, "AL6061-BAR", "40")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.order_transition(order=taker, to="scheduled", actor=a["service"]).ok
        assert services.order_transition(order=taker, to="materials_ready", actor=a["planner"]).ok  # 40 left
    assert _active() == {waiting["big"].number, waiting["bom"].number, waiting["small"].number}
    small = Order.objects.get(pk=waiting["small"].pk)
    assert small.hold_reason == "税号有误"                            # the hand hold stays as it was
    assert not BreakerTrip.objects.get(order=small).holds
    # the taker gives its stock back (cancelled): every trip resets; the hand hold stays
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order=taker.number, actor=a["manager"], reason="客户取消")
    assert _active() == set()
    small.refresh_from_db()
    assert small.on_hold and small.hold_reason == "税号有误"
    assert events.ORDER_BREAKER_RESET in _actions(small)
    assert not Order.objects.get(pk=waiting["big"].pk).on_hold


def test_reset_by_hand_needs_a_reason_and_keeps_another_breakers_hold(
        company, waiting, django_capture_on_commit_callbacks):
    a = company["actors"]
    with django_capture_on_commit_callbacks(execute=True):
        _adjust(company, "-20")
    trip = BreakerTrip.objects.get(order=waiting["big"])
    with pytest.raises(ValidationFailed):
        breaker_reset(trip=trip.pk, actor=a["planner"], reason=" ")
    done = breaker_reset(trip=trip.pk, actor=a["planner"], reason="已改用 6063 替代料")
    assert done.reset_by == "planner" and done.reset_reason == "已改用 6063 替代料"
    big = Order.objects.get(pk=waiting["big"].pk)
    assert not big.on_hold
    ev = AuditEvent.objects.filter(subject_id=big.pk, action=events.ORDER_BREAKER_RESET).get()
    assert ev.reason == "已改用 6063 替代料" and ev.changes["on_hold"] == [True, False]


def test_stage_range_and_switching_off_are_configuration(company, waiting, django_capture_on_commit_callbacks):
    admin = company["actors"]["admin"]
    with pytest.raises(ValidationFailed):
        breaker_config_save(kind="stock", data={"stages": ["nowhere"]}, actor=admin)
    with pytest.raises(ValidationFailed):
        breaker_config_save(kind="stock", data={"ticket_role": "nobody"}, actor=admin)
    breaker_config_save(kind="stock", data={"stages": ["scheduled"]}, actor=admin)
    with django_capture_on_commit_callbacks(execute=True):
        _adjust(company, "-20")
    assert _active() == set()                                          # every waiting order is at "pending"
    breaker_config_save(kind="stock", data={"stages": []}, actor=admin)
    with django_capture_on_commit_callbacks(execute=True):
        _adjust(company, "-1")
    assert _active() == {waiting["big"].number, waiting["bom"].number}
    breaker_config_save(kind="stock", data={"enabled": False}, actor=admin)
    assert _active() == set()
    assert not Order.objects.filter(on_hold=True).exists()


def test_the_one_statement_check_finds_what_its_orm_twin_finds(company, waiting, settings):
    """The stock check's fast twin (configuration, BOM, free stock, the waiting orders' needs and
    the active trips in one statement) against the ORM queries, stage range and switch included."""
    from django.db import connection

    from orderhub.catalog.models import Product
    from orderhub.orders.breakers import stock

    if connection.vendor != "postgresql":
        pytest.skip("the one-statement check is PostgreSQL's")
    admin = company["actors"]["admin"]
    _adjust(company, "-20")                                            # 60 kg free: two trips recorded
    pids = set(Product.objects.filter(sku__in=["AL6061-BAR", "HSG-100", "M8X30"]).values_list("pk", flat=True))

    def orm(stages):
        short, _free = stock.short_orders(pids, stages=stages)
        active = {(oid, int(subj.split(":")[1])): pk for pk, oid, subj in BreakerTrip.objects.filter(
            kind="stock", reset_at__isnull=True).values_list("pk", "order_id", "subject")}
        return short, active

    for stages in ([], ["pending"], ["scheduled"]):
        breaker_config_save(kind="stock", data={"stages": stages}, actor=admin)
        fast = stock._check_fast(pids)
        assert fast == orm(stages), stages
        assert fast[0] or stages == ["scheduled"]                      # something is short at "pending"
    breaker_config_save(kind="stock", data={"enabled": False}, actor=admin)
    assert stock._check_fast(pids) is None


def test_pending_trips_left_by_a_crash_are_applied_by_the_job(company, waiting):
    _adjust(company, "-20")              # no on-commit here: the trips are recorded, not applied
    assert _active() == {waiting["big"].number, waiting["bom"].number}
    assert not Order.objects.filter(on_hold=True).exists()
    assert sorted(apply_pending()) == sorted([waiting["big"].pk, waiting["bom"].pk])
    assert set(Order.objects.filter(on_hold=True).values_list("number", flat=True)) == _active()


# --------------------------------------------------------------------------- credit

def test_credit_below_zero_pauses_the_customers_open_orders_and_resets_when_paid(company, monday_morning):
    a = company["actors"]
    first, second = _order(company, "HSG-100", "50"), _order(company, "M8X30", "100")   # 6,000 + 10
    customer_save(code="C001", data={"unpaid_external": D("90000")}, actor=a["admin"])        # 3,990 left
    assert _active("credit") == set()
    customer_save(code="C001", data={"unpaid_external": D("95000")}, actor=a["admin"])        # -1,010
    assert _active("credit") == {first.number, second.number}
    o = Order.objects.get(pk=first.pk)
    assert o.on_hold and "可用信用 -1,010.00" in o.hold_reason
    t = BreakerTrip.objects.get(order=o)
    assert t.ticket.owner_role == "finance" and "信用熔断" in t.ticket.title
    # the limit raised: the breaker resets itself and the orders resume
    customer_save(code="C001", data={"credit_limit": D("120000")}, actor=a["admin"])
    assert _active("credit") == set()
    assert not Order.objects.filter(pk__in=[first.pk, second.pk], on_hold=True).exists()
    assert _actions(o)[-3:] == [events.TICKET_OPENED, events.TICKET_RESOLVED, events.ORDER_BREAKER_RESET]


def test_an_orders_own_amount_trips_the_credit_breaker_and_a_cancelled_order_resets_it(
        company, monday_morning, django_capture_on_commit_callbacks):
    """Not only the customer's figures move the available credit: an edit that raises an open
    order's total trips the breaker once the edit commits, and the credit an order frees when it
    is cancelled resets it at the periodic job's next run."""
    a = company["actors"]
    first, second = _order(company, "HSG-100", "50"), _order(company, "M8X30", "100")   # 6,000 + 10
    customer_save(code="C001", data={"unpaid_external": D("90000")}, actor=a["admin"])        # 3,990 left
    with django_capture_on_commit_callbacks(execute=True):
        services.order_lines_change(order=first.number, actor=a["sales"],
                                    changes=[LineChange(op="update", line_no=1, qty=D("90"))])  # +4,800
    assert _active("credit") == {first.number, second.number}
    assert "可用信用 -810.00" in Order.objects.get(pk=second.pk).hold_reason
    services.order_cancel(order=first.number, actor=a["admin"], reason="客户取消")
    assert _active("credit") == {first.number, second.number}      # nothing rechecks at once
    breakers_apply_job()
    assert _active("credit") == set()
    assert not Order.objects.get(pk=second.pk).on_hold


def test_recheck_customer_is_idempotent_and_leaves_customers_without_a_limit_alone(company, monday_morning):
    a = company["actors"]
    order = _order(company, "HSG-100", "50")
    company["customer"].unpaid_amount = D("99000")
    company["customer"].save()
    assert recheck_customer(company["customer"].pk, actor=a["finance"]) == [order.pk]
    assert recheck_customer(company["customer"].pk, actor=a["finance"]) == []
    assert BreakerTrip.objects.filter(kind="credit").count() == 1
    company["customer"].credit_limit = D("0")                          # no limit set: not watched
    company["customer"].save()
    assert recheck_customer(company["customer"].pk, actor=a["finance"]) == [order.pk]
    assert not Order.objects.get(pk=order.pk).on_hold


# --------------------------------------------------------------------------- 24 connections at once

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_24_connections_reserving_at_once_trip_exactly_the_orders_that_can_no_longer_be_covered(company):
    """24 T2 orders of one material (needs 1..24 units, 60 on hand) move into picking at once,
    each on its own connection; the ones that reserved hold stock, the others wait. Afterwards
    exactly the waiting orders needing more than the free stock are tripped and paused."""
    import threading

    from django.db import connection

    from orderhub.catalog.models import Product
    from orderhub.inventory.models import StockLevel

    widget = Product.objects.create(sku="RACE-1", name="抢料件", unit="件", list_price=D("5"))
    StockLevel.objects.create(product=widget, warehouse=company["wh1"], on_hand=D("35"))
    StockLevel.objects.create(product=widget, warehouse=company["wh2"], on_hand=D("25"))
    a = company["actors"]
    numbers = {services.order_create(data=order_input(workflow="T2", lines=[LineInput(sku="RACE-1", qty=D(n))]),
                                     actor=a["sales"]).order.number: n for n in range(1, 25)}
    barrier = threading.Barrier(len(numbers))
    errors = []

    def client(number):
        try:
            barrier.wait(timeout=30)
            services.order_transition(order=number, to="picking", actor=a["service"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    apply_pending()                     # nothing is left pending: every trip was applied after its commit
    free = sum(lv.on_hand - lv.reserved for lv in StockLevel.objects.filter(product=widget))
    reserved = set(Order.objects.filter(reservations__status="active").values_list("number", flat=True))
    waiting = {n: q for n, q in numbers.items() if n not in reserved}
    assert reserved and waiting and sum(numbers[n] for n in reserved) == 60 - free
    expected = {n for n, q in waiting.items() if q > free}
    assert expected, "the race must leave orders that cannot be covered"
    assert _active() == expected
    assert set(Order.objects.filter(on_hold=True).values_list("number", flat=True)) == expected
    assert not BreakerTrip.objects.filter(applied_at__isnull=True).exists()


def test_pausing_shows_on_the_board_the_order_page_its_history_and_the_breakers_page(
        company, waiting, django_capture_on_commit_callbacks):
    from django.test import Client

    with django_capture_on_commit_callbacks(execute=True):
        _adjust(company, "-20")
    big = waiting["big"].number
    c = Client()
    c.force_login(company["users"]["planner"])
    board = c.get("/board/T1/").content.decode()
    def card(number):
        start = board.index(f'data-number="{number}"')
        return board[start:board.index("</a>", start)]

    card_big = card(big)
    assert 'data-testid="breaker-paused"' in card_big and "熔断暂停" in card_big
    assert "breaker-paused" not in card(waiting["small"].number)
    detail = c.get(f"/orders/{big}/").content.decode()
    assert 'data-testid="breaker-trips"' in detail and "6063铝棒" in detail
    assert "熔断暂停" in detail and "可用库存 60 kg" in detail
    page = c.get("/breakers/").content.decode()
    assert f'data-testid="trip-{big}"' in page and "库存熔断" in page
    trip = BreakerTrip.objects.get(order__number=big)
    assert c.post(f"/breakers/{trip.pk}/reset", {"reason": ""}).status_code == 422
    assert c.post(f"/breakers/{trip.pk}/reset", {"reason": "改用替代料"}).status_code == 302
    assert not Order.objects.get(number=big).on_hold
    history = c.get(f"/orders/{big}/").content.decode()
    assert "熔断复位" in history and "改用替代料" in history


def test_breaker_api_lists_resets_and_configures(company, waiting, django_capture_on_commit_callbacks):
    from django.test import Client

    with django_capture_on_commit_callbacks(execute=True):
        _adjust(company, "-20")
    c = Client()
    c.force_login(company["users"]["planner"])
    trips = c.get("/api/breakers/trips").json()
    assert {t["order"] for t in trips} == {waiting["big"].number, waiting["bom"].number}
    assert all(t["label"] == "库存熔断" and t["holds"] for t in trips)
    assert c.post(f"/api/breakers/trips/{trips[0]['id']}/reset", {"reason": ""},
                  content_type="application/json").status_code == 422
    done = c.post(f"/api/breakers/trips/{trips[0]['id']}/reset", {"reason": "已调货"},
                  content_type="application/json").json()
    assert done["reset_reason"] == "已调货" and done["reset_by"] == "planner"
    assert c.put("/api/breakers/config/stock", {"enabled": False}, content_type="application/json").status_code == 403
    admin = Client()
    admin.force_login(company["users"]["admin"])
    cfg = admin.put("/api/breakers/config/credit", {"ticket_role": "manager", "stages": ["pending", "scheduled"]},
                    content_type="application/json").json()
    assert cfg["ticket_role"] == "manager" and cfg["stages"] == ["pending", "scheduled"]
    bad = admin.put("/api/breakers/config/credit", {"alternatives": {"A": "B"}}, content_type="application/json")
    assert bad.status_code == 422
    page = admin.get("/settings/breakers/").content.decode()
    assert "信用熔断" in page and 'data-testid="save-carrier"' in page
    resp = admin.post("/settings/breakers/", {"kind": "carrier", "enabled": "on", "ticket_role": "logistics",
                                              "ticket_hours": "2", "alternatives": "顺丰速运 = 德邦物流"})
    assert resp.status_code == 302
    assert admin.get("/api/breakers/config").json()[2]["alternatives"] == {"顺丰速运": "德邦物流"}


def _flags(order):
    return set(order.lines.values_list("waiting", flat=True))


def _stale_false():
    """Lines marked not waiting whose order is open and holds nothing: must never exist (the
    stock breaker would miss the order)."""
    from django.db.models import Exists, OuterRef

    from orderhub.inventory.models import Reservation
    from orderhub.orders.models import OrderLine
    holding = Reservation.objects.filter(order_id=OuterRef("order_id"), status="active")
    return list(OrderLine.objects.filter(waiting=False, order__status="open").exclude(Exists(holding))
                .values_list("order__number", "line_no"))


def test_a_lines_waiting_flag_follows_its_orders_reservations_and_status(company, monday_morning):
    """OrderLine.waiting (kept by PostgreSQL triggers, migration orders 0022): false exactly while
    the order is closed or holds an active reservation; the breaker reads only the true ones."""
    from django.db import connection

    from orderhub.inventory.services import stock_consume, stock_release

    if connection.vendor != "postgresql":
        pytest.skip("the flag is kept by PostgreSQL triggers (SQLite: always true)")
    a = company["actors"]
    order = _order(company, "AL6061-BAR", "10")
    other = _order(company, "AL6061-BAR", "5")
    assert _flags(order) == {True}
    assert services.order_transition(order=order, to="scheduled", actor=a["service"]).ok
    assert services.order_transition(order=order, to="materials_ready", actor=a["planner"]).ok
    assert _flags(order) == {False} and _flags(other) == {True}      # holding stock: not waiting
    stock_release(order_id=order.pk, actor=a["admin"], note="test")
    assert _flags(order) == {True} and _stale_false() == []          # open, holding nothing: waiting again
    third = _order(company, "AL6061-BAR", "3")
    assert services.order_transition(order=third, to="scheduled", actor=a["service"]).ok
    assert services.order_transition(order=third, to="materials_ready", actor=a["planner"]).ok
    assert _flags(third) == {False}
    stock_consume(order_id=third.pk, actor=a["admin"], note="test")
    assert _flags(third) == {True} and _stale_false() == []          # consumed while still open
    services.order_cancel(order=other.number, actor=a["manager"], reason="客户取消")
    assert _flags(other) == {False}                                  # closed
    Order.objects.filter(pk=other.pk).update(status="open")          # reopened (no service does it yet)
    assert _flags(other) == {True} and _stale_false() == []


def test_the_breaker_still_trips_an_order_that_released_its_stock(company, waiting,
                                                                  django_capture_on_commit_callbacks):
    """An order that gave its stock back waits again (its flag set again by the trigger), so the
    breaker sees it."""
    from orderhub.inventory.services import stock_release

    a = company["actors"]
    taker = _order(company, "AL6061-BAR", "75")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.order_transition(order=taker, to="scheduled", actor=a["service"]).ok
        assert services.order_transition(order=taker, to="materials_ready", actor=a["planner"]).ok  # 5 left
    assert taker.number not in _active()
    with django_capture_on_commit_callbacks(execute=True):
        stock_release(order_id=taker.pk, actor=a["admin"], note="test")       # 80 free: taker waits again
        _adjust(company, "-10")                                               # 70 free
    assert taker.number in _active() and waiting["big"].number not in _active()

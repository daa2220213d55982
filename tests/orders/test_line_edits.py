"""Editing an order's lines after creation (issue 15.1): add, remove, quantity, price; stock
re-evaluated in the same transaction, never oversold; audited with a snapshot and a version."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from orderhub.catalog.models import Product
from orderhub.core.errors import DomainError, PermissionDenied, ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.inventory.models import Reservation, StockLevel
from orderhub.orders import events, services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import Order, OrderLine, Snapshot
from orderhub.orders.services import LineChange
from tests.conftest import order_input

pytestmark = pytest.mark.django_db

D = Decimal


def _held(number: str) -> dict[str, Decimal]:
    rows = (Reservation.objects.filter(order__number=number, status="active")
            .values("product__sku").annotate(q=Sum("qty")))
    return {r["product__sku"]: r["q"] for r in rows}


def _picking(company, lines) -> str:
    """A T2 order in picking (its stock reserved)."""
    a = company["actors"]
    number = services.order_create(data=order_input(workflow="T2", lines=lines), actor=a["sales"]).order.number
    res = services.order_transition(order=number, to="picking", actor=a["service"])
    assert res.ok, res.reasons
    return number


def test_add_change_remove_before_any_reservation_keeps_a_snapshot_and_a_version(company):
    sales = company["actors"]["sales"]
    number = services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=D("10")),
                                                            LineInput(sku="M8X30", qty=D("50"))]),
                                   actor=sales).order.number
    order = services.order_lines_change(order=number, actor=sales, reason="客户加单", changes=[
        LineChange("update", line_no=1, qty=D("12")),
        LineChange("remove", line_no=2),
        LineChange("add", sku="AL6061-BAR", qty=D("3")),
    ])
    assert order.version == 2
    lines = list(OrderLine.objects.filter(order=order).order_by("line_no"))
    assert [(ln.line_no, ln.product.sku, ln.qty) for ln in lines] == [(1, "HSG-100", D("12")), (3, "AL6061-BAR", D("3"))]
    order.refresh_from_db()
    assert order.total_amount == D("12") * 120 + D("3") * 32 and order.version == 2
    snap = Snapshot.objects.get(order=order, version=2)
    content = json.loads(snap.content)
    assert [ln["sku"] for ln in content["lines"]] == ["HSG-100", "AL6061-BAR"]
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("-seq").first()
    assert ev.action == events.ORDER_LINES_CHANGED and ev.reason == "客户加单"
    assert ev.changes["version"] == [1, 2]
    touched = {d["line_no"]: (d["before"] is None, d["after"] is None) for d in ev.data["lines"]}
    assert touched == {1: (False, False), 2: (False, True), 3: (True, False)}
    assert not Reservation.objects.filter(order=order).exists()   # T1 pending reserves nothing


def test_price_change_needs_the_price_permission(company):
    a = company["actors"]
    number = services.order_create(data=order_input(), actor=a["sales"]).order.number
    with pytest.raises(PermissionDenied) as exc:
        services.order_lines_change(order=number, actor=a["sales"],
                                    changes=[LineChange("update", line_no=1, unit_price=D("99"))])
    assert exc.value.code == "price_not_allowed"
    assert exc.value.problems[0].field == "changes[0].unit_price"
    with pytest.raises(PermissionDenied):   # an added line at another price, too
        services.order_lines_change(order=number, actor=a["sales"],
                                    changes=[LineChange("add", sku="M8X30", qty=D("5"), unit_price=D("0.01"))])
    assert Order.objects.get(number=number).version == 1
    # a quantity change keeps the price as it is: allowed
    services.order_lines_change(order=number, actor=a["sales"], changes=[LineChange("update", line_no=1, qty=D("7"))])
    order = services.order_lines_change(order=number, actor=a["manager"],
                                        changes=[LineChange("update", line_no=1, unit_price=D("99"))])
    assert order.total_amount == D("693.00") and order.version == 3


def test_refused_at_a_stage_that_locks_edits(company):
    a = company["actors"]
    number = _picking(company, [LineInput(sku="M8X30", qty=D("10"))])
    res = services.order_transition(order=number, to="shipped", actor=a["warehouse"])
    assert res.ok, res.reasons
    with pytest.raises(DomainError) as exc:
        services.order_lines_change(order=number, actor=a["admin"], changes=[LineChange("update", line_no=1, qty=D("5"))])
    assert exc.value.code == "not_editable" and "已出库" in exc.value.message


def test_validation_names_each_change(company):
    sales = company["actors"]["sales"]
    number = services.order_create(data=order_input(), actor=sales).order.number
    with pytest.raises(ValidationFailed) as exc:
        services.order_lines_change(order=number, actor=sales, changes=[
            LineChange("update", line_no=9, qty=D("1")), LineChange("add", sku="NOPE", qty=D("1")),
            LineChange("update", line_no=1, qty=D("0")), LineChange("add", sku="M8X30", qty=D("1"), unit="桶")])
    assert [p.field for p in exc.value.problems] == [
        "changes[0].line_no", "changes[1].sku", "changes[2].qty", "changes[3].unit"]
    with pytest.raises(ValidationFailed):
        services.order_lines_change(order=number, actor=sales, changes=[LineChange("remove", line_no=1)])
    with pytest.raises(DomainError) as nothing:
        services.order_lines_change(order=number, actor=sales, changes=[LineChange("update", line_no=1, qty=D("100"))])
    assert nothing.value.code == "no_change"
    with pytest.raises(PermissionDenied):
        services.order_lines_change(order=number, actor=company["actors"]["warehouse"],
                                    changes=[LineChange("update", line_no=1, qty=D("5"))])


@pytest.mark.parametrize("path", ["fast", "orm"])
def test_reservations_follow_the_new_quantities(company, settings, path):
    """On both twins of the line and stock writes (``ORDERHUB_SQL_PATH``)."""
    settings.ORDERHUB_SQL_PATH = path
    a = company["actors"]
    number = _picking(company, [LineInput(sku="AL6061-BAR", qty=D("60")), LineInput(sku="M8X30", qty=D("100"))])
    assert _held(number) == {"AL6061-BAR": D("60"), "M8X30": D("100")}
    # less of the bar (frees from the second warehouse first), the bolts removed, a new line reserved
    services.order_lines_change(order=number, actor=a["sales"], changes=[
        LineChange("update", line_no=1, qty=D("45")), LineChange("remove", line_no=2),
        LineChange("add", sku="AL6063-BAR", qty=D("20"))])
    assert _held(number) == {"AL6061-BAR": D("45"), "AL6063-BAR": D("20")}
    bar = StockLevel.objects.filter(product=company["bar"]).aggregate(r=Sum("reserved"))["r"]
    bolt = StockLevel.objects.get(product=company["bolt"])
    assert bar == D("45") and bolt.reserved == 0
    # the removed line's reservation stays in the history, without the deleted line
    assert Reservation.objects.filter(order__number=number, product=company["bolt"], status="released",
                                      line__isnull=True).exists()
    # more than there is: refused, nothing changed
    with pytest.raises(DomainError) as exc:
        services.order_lines_change(order=number, actor=a["sales"], changes=[LineChange("update", line_no=1, qty=D("81"))])
    assert exc.value.code == "stock_short" and "6061铝棒" in exc.value.message
    assert _held(number) == {"AL6061-BAR": D("45"), "AL6063-BAR": D("20")}
    assert Order.objects.get(number=number).version == 3
    # up to the last unit: allowed
    services.order_lines_change(order=number, actor=a["sales"], changes=[LineChange("update", line_no=1, qty=D("80"))])
    assert _held(number)["AL6061-BAR"] == D("80")
    assert all(lv.reserved <= lv.on_hand for lv in StockLevel.objects.all())


def test_kitting_guard_rechecked_at_a_kitted_stage(company):
    """T1 materials_ready reserves the BOM (housing → 0.6 kg bar each); its kitting guard still
    has to hold after the edit."""
    a = company["actors"]
    number = services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=D("100"))]),
                                   actor=a["sales"]).order.number
    for to, who in (("scheduled", "service"), ("materials_ready", "planner")):
        res = services.order_transition(order=number, to=to, actor=a[who])
        assert res.ok, res.reasons
    assert _held(number) == {"AL6061-BAR": D("60.0000")}
    services.order_lines_change(order=number, actor=a["sales"], changes=[LineChange("update", line_no=1, qty=D("120"))])
    assert _held(number) == {"AL6061-BAR": D("72.0000")}
    with pytest.raises(DomainError) as exc:
        services.order_lines_change(order=number, actor=a["sales"], changes=[LineChange("update", line_no=1, qty=D("200"))])
    assert exc.value.code == "stock_short"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_line_edit_and_reservation_never_oversell(company):
    """Order A holds 5 of the last 10 units and asks for 5 more while order B moves into picking
    wanting 5 too, and C wants 3: whatever the interleaving, no more than 10 are reserved and the
    losers are refused with stock_short."""
    widget = Product.objects.create(sku="LAST-UNIT", name="最后几件", unit="件", list_price=D("5"))
    StockLevel.objects.create(product=widget, warehouse=company["wh1"], on_hand=D("6"))
    StockLevel.objects.create(product=widget, warehouse=company["wh2"], on_hand=D("4"))
    a = company["actors"]
    line = [LineInput(sku="LAST-UNIT", qty=D("5"))]
    first = _picking(company, line)
    others = [services.order_create(data=order_input(workflow="T2", lines=ln), actor=a["sales"]).order.number
              for ln in (line, [LineInput(sku="LAST-UNIT", qty=D("3"))])]
    barrier = threading.Barrier(3)
    outcome: dict[str, object] = {}

    def edit():
        try:
            barrier.wait(timeout=30)
            services.order_lines_change(order=first, actor=a["sales"],
                                        changes=[LineChange("update", line_no=1, qty=D("10"))])
            outcome["edit"] = True
        except DomainError as exc:
            outcome["edit"] = exc.code
        finally:
            connection.close()

    def move(number):
        try:
            barrier.wait(timeout=30)
            res = services.order_transition(order=number, to="picking", actor=a["service"])
            outcome[number] = True if res.ok else [r.code for r in res.reasons]
        finally:
            connection.close()

    threads = [threading.Thread(target=edit)] + [threading.Thread(target=move, args=(n,)) for n in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(outcome) == 3, outcome
    levels = StockLevel.objects.filter(product=widget)
    reserved = sum(lv.reserved for lv in levels)
    assert all(0 <= lv.reserved <= lv.on_hand for lv in levels)
    assert Reservation.objects.filter(product=widget, status="active").aggregate(s=Sum("qty"))["s"] == reserved
    held = {"edit": D("10") if outcome["edit"] is True else D("5"),
            others[0]: D("5") if outcome[others[0]] is True else D("0"),
            others[1]: D("3") if outcome[others[1]] is True else D("0")}
    assert sum(held.values()) == reserved <= D("10")
    assert outcome["edit"] in (True, "stock_short")
    assert all(v is True or v == ["stock_short"] for k, v in outcome.items() if k != "edit")
    # with 5 free, at most one of the edit (+5) and B (5) can win
    assert not (outcome["edit"] is True and outcome[others[0]] is True)

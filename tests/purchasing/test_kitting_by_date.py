"""Kitting by date: open PO quantities due before the stage needs them (the materials_ready
deadline, 72 h after the move) count towards the order's materials, named in the history; a PO
due too late, or serving another order, does not count."""

from datetime import date
from decimal import Decimal

import pytest

from orderhub.core.models import AuditEvent
from orderhub.inventory.models import Reservation
from orderhub.orders import events as order_events
from orderhub.orders import services
from orderhub.orders.guardcheck import guards_test
from orderhub.orders.inputs import LineInput
from orderhub.purchasing.services import LineIn, po_place, supplier_save
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def _order(company, qty="200"):
    """200 housings need 120 kg of bar; 80 kg are on hand: 40 kg short."""
    a = company["actors"]
    order = services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal(qty))]),
                                  actor=a["sales"]).order
    assert services.order_transition(order=order, to="scheduled", actor=a["service"]).ok
    return order


def _po(company, due, qty="50", serves=None):
    a = company["actors"]
    sup = supplier_save(actor=a["purchaser"], code="S01", name="无锡铝材")
    return po_place(actor=a["purchaser"], supplier_id=sup.pk,
                    lines=[LineIn(company["bar"].pk, Decimal(qty), due, orders=serves or {})])


def test_a_po_due_in_time_covers_the_shortage_and_is_named(company, monday_morning):
    order = _order(company)
    po = _po(company, date(2026, 11, 25))      # the 72 h deadline falls on Thursday 26th
    a = company["actors"]
    check = guards_test(number=order.number, workflow="T1", stage="materials_ready", actor=a["planner"])
    assert check.passed, check.reasons
    assert check.notes == [f"6061铝棒：由采购单 {po.number} (11月25日到货) 补足 40 kg"]
    res = services.order_transition(order=order, to="materials_ready", actor=a["planner"])
    assert res.ok, res.reasons
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk,
                                   action=order_events.ORDER_TRANSITIONED).latest("seq")
    notes = ev.data["actions"]["covered_by_po"]
    assert notes == [f"6061铝棒：由采购单 {po.number} (11月25日到货) 补足 40 kg"]
    from django.test import Client

    viewer = Client()
    viewer.force_login(company["users"]["planner"])
    page = viewer.get(f"/orders/{order.number}/").content.decode()
    assert 'data-testid="covered-by-po"' in page and f"由采购单 {po.number} (11月25日到货) 补足 40 kg" in page
    held = sum(r.qty for r in Reservation.objects.filter(order=order, status="active"))
    assert held == Decimal("80")                # what is on hand; the PO's 40 kg when it arrives


def test_a_po_due_too_late_does_not_count(company, monday_morning):
    order = _order(company)
    po = _po(company, date(2026, 11, 30))
    res = services.order_transition(order=order, to="materials_ready", actor=company["actors"]["planner"])
    assert not res.ok
    [reason] = res.reasons
    assert reason.code == "bom_kitted" and Decimal(reason.data["missing"]) == 40
    assert f"采购单 {po.number} (11月30日到货) 晚于需要日期，不计入" in reason.message
    assert not Reservation.objects.filter(order=order).exists()


def test_a_po_partly_covering_is_named_in_the_reason(company, monday_morning):
    order = _order(company)
    po = _po(company, date(2026, 11, 24), qty="25")
    res = services.order_transition(order=order, to="materials_ready", actor=company["actors"]["planner"])
    assert not res.ok
    [reason] = res.reasons
    assert (Decimal(reason.data["missing"]), Decimal(reason.data["covered_by_po"])) == (15, 25)
    assert f"由采购单 {po.number} (11月24日到货) 补足 25 kg" in reason.message


def test_a_po_serving_another_order_does_not_count_for_this_one(company, monday_morning):
    other = _order(company, qty="10")
    order = _order(company)
    _po(company, date(2026, 11, 25), serves={other.pk: Decimal("50")})
    a = company["actors"]
    assert not services.order_transition(order=order, to="materials_ready", actor=a["planner"]).ok
    # and the order it serves may count on it
    assert services.order_transition(order=other, to="materials_ready", actor=a["planner"]).ok

"""Restoring an earlier snapshot as the next version (issue 15.3): header, ship-to, dates and
lines come back through the line edit, stock follows, earlier snapshots stay byte for byte."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from orderhub.core.errors import DomainError, PermissionDenied, ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.inventory.models import Reservation
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


def _lines(number: str) -> list[tuple]:
    return [(ln.line_no, ln.product.sku, ln.qty, ln.unit_price)
            for ln in OrderLine.objects.filter(order__number=number).order_by("line_no")]


def test_restore_after_lines_changed(company):
    a = company["actors"]
    number = services.order_create(data=order_input(workflow="T2", lines=[
        LineInput(sku="AL6061-BAR", qty=D("20")), LineInput(sku="M8X30", qty=D("100"))]), actor=a["sales"]).order.number
    assert services.order_transition(order=number, to="picking", actor=a["service"]).ok
    v2 = _lines(number)
    services.order_update(order=number, actor=a["sales"], changes={"ship_to_address": "旧地址改成新地址",
                                                                     "required_date": date(2026, 12, 28)})
    services.order_lines_change(order=number, actor=a["sales"], changes=[
        LineChange("remove", line_no=1), LineChange("update", line_no=2, qty=D("300")),
        LineChange("add", sku="AL6063-BAR", qty=D("40"))])
    assert _held(number) == {"M8X30": D("300"), "AL6063-BAR": D("40")}
    before = {s.version: (s.content, s.sha256, s.mac) for s in Snapshot.objects.filter(order__number=number)}
    assert sorted(before) == [1, 2, 3, 4]
    order = services.order_restore(order=number, version=2, actor=a["sales"], reason="客户撤回变更")
    assert order.version == 5
    assert _lines(number) == v2                                   # same numbers, SKUs, quantities, prices
    order.refresh_from_db()
    assert order.ship_to_address == "" and order.required_date == date(2026, 12, 20)
    assert _held(number) == {"AL6061-BAR": D("20"), "M8X30": D("100")}     # stock follows
    after = {s.version: (s.content, s.sha256, s.mac) for s in Snapshot.objects.filter(order__number=number)}
    assert {v: after[v] for v in before} == before                # earlier snapshots unchanged
    restored, old = (json.loads(after[v][0]) for v in (5, 2))
    for key in ("lines", "ship_to", "required_date", "promised_date", "urgency", "remarks", "tags", "total_amount"):
        assert restored[key] == old[key], key
    assert restored["version"] == 5 and restored["stage"] == "picking"
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("-seq").first()
    assert ev.action == events.ORDER_RESTORED and ev.data["from_version"] == 2 and ev.reason == "客户撤回变更"
    assert ev.changes["ship_to_address"] == ["旧地址改成新地址", ""]
    with pytest.raises(DomainError) as same:
        services.order_restore(order=number, version=2, actor=a["sales"])
    assert same.value.code == "no_change"


def test_restore_is_refused_where_an_edit_would_be(company):
    a = company["actors"]
    number = services.order_create(data=order_input(), actor=a["sales"]).order.number
    services.order_lines_change(order=number, actor=a["manager"],
                                changes=[LineChange("update", line_no=1, unit_price=D("99"))])
    services.order_lines_change(order=number, actor=a["manager"],
                                changes=[LineChange("update", line_no=1, unit_price=D("120"))])
    with pytest.raises(PermissionDenied):          # version 2 carries a price sales may not set
        services.order_restore(order=number, version=2, actor=a["sales"])
    with pytest.raises(ValidationFailed):
        services.order_restore(order=number, version=3, actor=a["sales"])   # not earlier
    with pytest.raises(PermissionDenied):
        services.order_restore(order=number, version=1, actor=a["warehouse"])
    assert services.order_restore(order=number, version=2, actor=a["manager"]).total_amount == D("9900.00")
    assert Order.objects.get(number=number).version == 4

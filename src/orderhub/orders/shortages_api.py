"""Shortage lists over the API (mounted at /api/shortages): overall (materials the open orders
without stock need beyond free stock and open POs) and per order, and raising a purchase request
for what an order is missing. The orders app owns it because the lists read orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ninja import Router, Schema, Status
from pydantic import Field

from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, STRICT, BizDate, Line, Text

from .safety import order_alerts, safety_overview
from .selectors import get_order
from .shortages import order_shortages, raise_for_shortage, shortage_overview

router = Router(tags=["purchasing"])


class IncomingOut(Schema):
    po: str
    qty: Decimal
    expected_date: date


class SubstituteOut(Schema):
    sku: str
    name: str
    unit: str
    available: Decimal
    note: str
    enough: bool = Field(description="Enough in stock to replace what is missing")
    cost_diff: Decimal = Field(description="Cost per unit replaced: substitute × ratio − original (list prices)")


class ShortageOut(Schema):
    sku: str
    name: str
    unit: str
    needed: Decimal
    free: Decimal = Field(description="Free stock (per order: plus what the order holds)")
    on_order: Decimal = Field(description="Open purchase-order quantity counted")
    missing: Decimal = Field(description="Needed − free − on order (0: the POs make it up)")
    moq: Decimal
    lead_time_days: int
    orders: list[str]
    earliest: date | None = Field(description="The earliest required date of those orders")
    purchase_orders: list[IncomingOut]
    substitutes: list[SubstituteOut]


class ShortageRequestIn(Schema):
    model_config = STRICT
    sku: Line = Field(max_length=64)
    qty: Decimal | None = Field(None, gt=0, max_digits=18, decimal_places=4,
                                description="Default: what is missing (at least the MOQ)")
    needed_by: BizDate | None = Field(None, description="Default: the order's promised or required date")
    reason: Text = Field("", max_length=300)


class RequestRaisedOut(Schema):
    number: str
    sku: str
    qty: Decimal
    status: str


@router.get("", auth=requires("purchasing.view"), response={200: list[ShortageOut], **ERRORS})
def all_shortages(request: ActorRequest) -> list[dict[str, Any]]:
    """Every material short for the open orders that hold no stock yet: earliest required date
    first, those the POs make up last."""
    return [r.as_dict() for r in shortage_overview()]


class SafetyAlertOut(Schema):
    sku: str
    name: str
    unit: str
    free: Decimal = Field(description="Free stock now (on hand − reserved, every warehouse)")
    safety_stock: Decimal
    since: datetime = Field(description="When a stock change crossed below the safety stock")
    orders: list[str] = Field(description="The not-yet-started orders flagged (required date first)")
    substitutes: list[SubstituteOut]


@router.get("/safety", auth=requires("purchasing.view"), response={200: list[SafetyAlertOut], **ERRORS})
def safety_alerts(request: ActorRequest) -> list[dict[str, Any]]:
    """Materials below safety stock, the not-yet-started orders flagged red for each, and the
    substitute offer (stock, cost difference per unit replaced)."""
    return [a.as_dict() for a in safety_overview()]


@router.get("/{number}/safety", auth=requires("orders.view"), response={200: list[SafetyAlertOut], **ERRORS})
def order_safety_alerts(request: ActorRequest, number: str) -> list[dict[str, Any]]:
    """The order's materials below safety stock (it is flagged red for them) with the substitute offer."""
    order = get_order(number, actor=request.actor)
    return [a.as_dict() | {"orders": [order.number]} for a in order_alerts(order)]


@router.get("/{number}", auth=requires("orders.view"), response={200: list[ShortageOut], **ERRORS})
def order_shortage_list(request: ActorRequest, number: str) -> list[dict[str, Any]]:
    """The order's components short on stock (counting what it holds) and the POs it may count on."""
    return [r.as_dict() for r in order_shortages(get_order(number, actor=request.actor))]


@router.post("/{number}/requests", auth=requires("purchasing.request"),
             response={201: RequestRaisedOut, **ERRORS})
def raise_shortage_request(request: ActorRequest, number: str, payload: ShortageRequestIn) -> Status:
    """Raise a purchase request for what the order is missing of a material (default quantity:
    what is missing, at least the MOQ); it awaits approval like any other."""
    pr = raise_for_shortage(actor=request.actor, number=number, sku=payload.sku, qty=payload.qty,
                            needed_by=payload.needed_by, reason=payload.reason)
    return Status(201, {"number": pr.number, "sku": payload.sku, "qty": pr.qty, "status": pr.status})

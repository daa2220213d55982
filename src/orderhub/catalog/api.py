"""Catalog API (mounted at /api/catalog): finding customers and products for order forms."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from ninja import Router, Schema
from pydantic import AfterValidator, Field

from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, Line

from . import picking

router = Router(tags=["catalog"])

PickQuery = Annotated[Line, Field(max_length=50), AfterValidator(str.strip)]


class PickOut(Schema):
    """A customer or product found by code, name or pinyin initials (苏州博锐 → ``szbr``)."""

    code: str = Field(description="Customer code or product SKU")
    name: str
    initials: str = Field(description="Pinyin initials of the name, lower case")
    unit: str = Field("", description="Products: the base unit")
    price: Decimal | None = Field(None, description="Products: the list price")
    credit_limit: Decimal | None = Field(None, description="Customers: the credit limit (0: none set)")


def _picks(rows: list[picking.Pick]) -> list[dict[str, Any]]:
    return [{"code": p.code, "name": p.name, "initials": p.initials, "unit": p.unit, "price": p.price,
             "credit_limit": p.credit_limit} for p in rows]


@router.get("/customers", auth=requires("orders.create"), response={200: list[PickOut], **ERRORS})
def pick_customers(request: ActorRequest, q: PickQuery = "") -> list[dict[str, Any]]:
    """Active customers for an order form's picker: code, a piece of the name, or the pinyin
    initials of the name (`szbr` finds 苏州博锐精工); at most 20, best match first."""
    return _picks(picking.customers_pick(q=q))


@router.get("/products", auth=requires("orders.create"), response={200: list[PickOut], **ERRORS})
def pick_products(request: ActorRequest, q: PickQuery = "") -> list[dict[str, Any]]:
    """Active products by SKU, a piece of the name or its pinyin initials (`ls` finds 螺栓),
    with base unit and list price; at most 20, best match first."""
    return _picks(picking.products_pick(q=q))

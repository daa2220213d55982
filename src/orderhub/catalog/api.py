"""Catalog API (mounted at /api/catalog): finding customers and products for order forms, and
customers' ship-to addresses and price lists."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from django.db import transaction
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import AfterValidator, Field

from orderhub.core import permissions
from orderhub.core.errors import NotFound
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, STRICT, Line

from . import picking, services
from .models import Customer
from .prices import customer_prices
from .selectors import customer_addresses

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
    initials of the name (`szbr` finds 苏州博锐精工); at most 20, best match first. A rep who
    sees only their own customers' orders is offered only the customers they look after."""
    own = permissions.order_scope(request.actor) == permissions.OrderScope.OWN_CUSTOMERS
    owner = request.actor.user.pk if own and request.actor.user is not None else None
    return _picks(picking.customers_pick(q=q, sales_owner_id=owner))


@router.get("/products", auth=requires("orders.create"), response={200: list[PickOut], **ERRORS})
def pick_products(request: ActorRequest, q: PickQuery = "") -> list[dict[str, Any]]:
    """Active products by SKU, a piece of the name or its pinyin initials (`ls` finds 螺栓),
    with base unit and list price; at most 20, best match first."""
    return _picks(picking.products_pick(q=q))


# --------------------------------------------------------------------------- ship-to addresses

CustomerCode = Annotated[Line, Field(min_length=1, max_length=32)]


class AddressOut(Schema):
    id: int
    label: str
    receiver: str
    phone: str
    address: str
    is_default: bool


class AddressIn(Schema):
    """Only the fields sent are changed (all but ``address`` optional when adding).
    ``is_default: true`` makes it the customer's default (the previous one stops being it)."""

    model_config = STRICT

    label: Line = Field(default=None, max_length=50)  # type: ignore[assignment]
    receiver: Line = Field(default=None, max_length=100)  # type: ignore[assignment]
    phone: Line = Field(default=None, max_length=32)  # type: ignore[assignment]
    address: Line = Field(default=None, max_length=300)  # type: ignore[assignment]
    is_default: bool = None  # type: ignore[assignment]


def _address(a: Any) -> dict[str, Any]:
    return {"id": a.pk, "label": a.label, "receiver": a.receiver, "phone": a.phone, "address": a.address,
            "is_default": a.is_default}


def _addresses(code: str) -> list[dict[str, Any]]:
    customer = Customer.objects.filter(code=code.strip().upper()).first()
    if customer is None:
        raise NotFound("customer_not_found", _("Unknown customer '%(code)s'.") % {"code": code})
    return [_address(a) for a in customer_addresses(customer)]


@router.get("/customers/{code}/addresses", auth=requires("orders.create"),
            response={200: list[AddressOut], **ERRORS})
def list_addresses(request: ActorRequest, code: CustomerCode) -> list[dict[str, Any]]:
    """The customer's ship-to addresses, the default first (the new-order form offers them)."""
    return _addresses(code)


@router.post("/customers/{code}/addresses", auth=requires("settings.customers"),
             response={201: AddressOut, **ERRORS})
def add_address(request: ActorRequest, code: CustomerCode, payload: AddressIn) -> Status:
    """Add a ship-to address; the customer's first address is its default. 422: no `address`,
    text too long or with control characters; 404: unknown customer."""
    with transaction.atomic():
        addr = services.customer_address_save(customer=code, data=payload.model_dump(exclude_unset=True),
                                              actor=request.actor)
    return Status(201, _address(addr))


@router.put("/customers/{code}/addresses/{address_id}", auth=requires("settings.customers"),
            response={200: AddressOut, **ERRORS})
def change_address(request: ActorRequest, code: CustomerCode, address_id: int,
                   payload: AddressIn) -> dict[str, Any]:
    """Change a ship-to address (orders already made keep the copy they were made with)."""
    with transaction.atomic():
        addr = services.customer_address_save(customer=code, address_id=address_id,
                                              data=payload.model_dump(exclude_unset=True), actor=request.actor)
    return _address(addr)


@router.post("/customers/{code}/addresses/{address_id}/delete", auth=requires("settings.customers"),
               response={200: list[AddressOut], **ERRORS})
def delete_address(request: ActorRequest, code: CustomerCode, address_id: int) -> list[dict[str, Any]]:
    """Delete a ship-to address; the oldest remaining one becomes the default if it was. Returns
    the addresses left."""
    with transaction.atomic():
        services.customer_address_delete(customer=code, address_id=address_id, actor=request.actor)
    return _addresses(code)


# --------------------------------------------------------------------------- customer prices


class PriceRow(Schema):
    """One price: ``unit_price`` for ``sku`` from ``min_qty`` base units up, valid from/to the
    dates (inclusive; null: open)."""

    model_config = STRICT

    sku: Annotated[Line, Field(min_length=1, max_length=64)]
    min_qty: Decimal = Field(Decimal("0"), ge=0, description="Quantity break, in the product's base unit")
    unit_price: Decimal = Field(ge=0)
    valid_from: date | None = None
    valid_to: date | None = None


def _price_rows(code: str) -> list[dict[str, Any]]:
    customer = Customer.objects.filter(code=code.strip().upper()).first()
    if customer is None:
        raise NotFound("customer_not_found", _("Unknown customer '%(code)s'.") % {"code": code})
    return [{"sku": r.product.sku, "min_qty": r.min_qty, "unit_price": r.unit_price,
             "valid_from": r.valid_from, "valid_to": r.valid_to} for r in customer_prices(customer)]


@router.get("/customers/{code}/prices", auth=requires("settings.customers"),
            response={200: list[PriceRow], **ERRORS})
def list_prices(request: ActorRequest, code: CustomerCode) -> list[dict[str, Any]]:
    """The customer's price list (expired and future rows too): the default unit price of its
    order lines and the price that needs no `orders.change_price`."""
    return _price_rows(code)


@router.put("/customers/{code}/prices", auth=requires("settings.customers"),
            response={200: list[PriceRow], **ERRORS})
def put_prices(request: ActorRequest, code: CustomerCode, payload: list[PriceRow]) -> list[dict[str, Any]]:
    """Replace the customer's price list. 422: unknown SKU, negative number, end before start;
    404: unknown customer."""
    with transaction.atomic():
        services.customer_prices_save(customer=code, rows=[r.model_dump() for r in payload], actor=request.actor)
    return _price_rows(code)


# --------------------------------------------------------------------------- invoice details

BILLING_FIELDS = ("tax_no", "bank_name", "bank_account", "billing_address", "billing_phone")


class BillingDetails(Schema):
    """What the customer's VAT invoices carry: tax number (纳税人识别号), bank (开户银行, 银行账号),
    address and phone (专票 needs all of them)."""

    model_config = STRICT

    tax_no: Line = Field(default="", max_length=32)
    bank_name: Line = Field(default="", max_length=100)
    bank_account: Line = Field(default="", max_length=64)
    billing_address: Line = Field(default="", max_length=200)
    billing_phone: Line = Field(default="", max_length=32)


def _billing(code: str) -> dict[str, Any]:
    customer = Customer.objects.filter(code=code.strip().upper()).first()
    if customer is None:
        raise NotFound("customer_not_found", _("Unknown customer '%(code)s'.") % {"code": code})
    return {f: getattr(customer, f) for f in BILLING_FIELDS}


@router.get("/customers/{code}/billing", auth=requires("settings.customers"),
            response={200: BillingDetails, **ERRORS})
def get_billing(request: ActorRequest, code: CustomerCode) -> dict[str, Any]:
    """The customer's invoice details (copied onto each invoice finance issues)."""
    return _billing(code)


@router.put("/customers/{code}/billing", auth=requires("settings.customers"),
            response={200: BillingDetails, **ERRORS})
def put_billing(request: ActorRequest, code: CustomerCode, payload: BillingDetails) -> dict[str, Any]:
    """Replace the customer's invoice details (each change in the customer's history). 404:
    unknown customer."""
    _billing(code)
    services.customer_save(code=code, data={f: getattr(payload, f).strip() for f in BILLING_FIELDS},
                           actor=request.actor)
    return _billing(code)


# --------------------------------------------------------------------------- the customer itself

Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]


class CustomerIn(Schema):
    """A customer as the settings page edits it; the code is in the path. Every field may be
    left out of a change (kept as it is); a new customer needs a name."""

    model_config = STRICT

    name: Annotated[Line, Field(min_length=1, max_length=200)] | None = None
    tier: Customer.Tier | None = None
    credit_limit: Money | None = Field(None, description="0: no limit set (the credit guard and breaker "
                                                         "leave the customer alone)")
    unpaid_external: Money | None = Field(None, description="What the customer owes outside OrderHub (invoices "
                                                            "issued in the ERP, opening balance); the open "
                                                            "invoices OrderHub issued are added to it")
    sales_owner: Annotated[Line, Field(max_length=150)] | None = Field(
        None, description="The sales owner's login name; empty: none")
    mobile: Annotated[Line, Field(max_length=32)] | None = None
    email: Annotated[Line, Field(max_length=254)] | None = None
    is_active: bool | None = None


class CustomerOut(Schema):
    code: str
    name: str
    tier: str
    credit_limit: Decimal
    unpaid_external: Decimal
    unpaid_amount: Decimal = Field(description="What available credit counts: unpaid_external plus the open "
                                               "balances of the invoices OrderHub issued")
    sales_owner: str | None
    mobile: str
    email: str
    is_active: bool


def _customer(code: str) -> dict[str, Any]:
    c = Customer.objects.select_related("sales_owner").filter(code=code.strip().upper()).first()
    if c is None:
        raise NotFound("customer_not_found", _("Unknown customer '%(code)s'.") % {"code": code})
    return {"code": c.code, "name": c.name, "tier": c.tier, "credit_limit": c.credit_limit,
            "unpaid_external": c.unpaid_external, "unpaid_amount": c.unpaid_amount,
            "sales_owner": c.sales_owner.get_username() if c.sales_owner else None, "mobile": c.mobile,
            "email": c.email, "is_active": c.is_active}


@router.get("/customers/{code}", auth=requires("settings.customers"), response={200: CustomerOut, **ERRORS})
def get_customer(request: ActorRequest, code: CustomerCode) -> dict[str, Any]:
    """One customer: tier, credit limit, what they owe, sales owner, contact. 404: unknown."""
    return _customer(code)


@router.put("/customers/{code}", auth=requires("settings.customers"), response={200: CustomerOut, **ERRORS})
def put_customer(request: ActorRequest, code: CustomerCode, payload: CustomerIn) -> dict[str, Any]:
    """Create the customer, or change the fields given (each change in the customer's history; a
    new credit limit or outside unpaid amount rechecks the credit breaker at once)."""
    data = payload.model_dump(exclude_none=True)
    if "sales_owner" in data:
        data["sales_owner"] = services.sales_owner_by_username(data["sales_owner"].strip() or None)
    for key in ("name", "mobile", "email"):
        if key in data:
            data[key] = data[key].strip()
    services.customer_save(code=code, data=data, actor=request.actor)
    return _customer(code)

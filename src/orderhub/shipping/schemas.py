"""Request and response shapes of the shipping API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from orderhub.core.http.schemas import STRICT, Line, Text

ShipmentNumber = Annotated[Line, Field(min_length=1, max_length=40)]
ShipmentStatus = Literal["planned", "shipped"]
OrderDocument = Literal["confirmation", "quotation"]
ShipmentDocument = Literal["delivery-note", "packing-list"]
DocumentKind = Literal["confirmation", "quotation", "delivery-note", "packing-list"]


class ShipmentLineIn(Schema):
    model_config = STRICT

    line_no: int = Field(ge=1, le=100000)
    qty: Decimal = Field(ge=0, lt=Decimal("1e14"), decimal_places=4)


class ShipmentIn(Schema):
    """Quantities per order line (lines not named stay open), how it travels."""

    model_config = STRICT

    lines: list[ShipmentLineIn] = Field(min_length=1, max_length=5000)
    carrier: Line = Field(default="", max_length=100)
    waybill: Line = Field(default="", max_length=64)
    packages: int = Field(default=1, ge=1, le=100000)
    weight_kg: Decimal | None = Field(default=None, ge=0, lt=Decimal("1e9"), decimal_places=3)
    remarks: Text = Field(default="", max_length=500)


class ShipIn(Schema):
    model_config = STRICT

    carrier: Line | None = Field(default=None, max_length=100)
    waybill: Line | None = Field(default=None, max_length=64)


class ShipmentLineOut(Schema):
    line_no: int
    sku: str
    name: str
    unit: str
    qty: Decimal


class ShipmentOut(Schema):
    number: str
    order: str
    status: str = Field(description="planned | shipped")
    carrier: str
    waybill: str
    packages: int
    weight_kg: Decimal | None
    ship_to_contact: str
    ship_to_phone: str
    ship_to_address: str
    remarks: str
    created_at: datetime
    created_by: str
    notice_at: datetime | None = Field(description="when the shipping notice was queued to the customer")
    shipped_at: datetime | None
    shipped_by: str
    pod_name: str = Field(description="the proof of delivery's file name (\"\": none yet)")
    pod_at: datetime | None
    accepted_at: datetime | None
    accepted_by: str
    acceptance_note: str
    invoice_refusal: str = Field(description="why no invoice may be issued for it yet (\"\": it may)")
    lines: list[ShipmentLineOut]


class LineProgressOut(Schema):
    line_no: int
    sku: str
    name: str
    unit: str
    qty: Decimal
    planned: Decimal
    shipped: Decimal
    open: Decimal = Field(description="ordered less planned and shipped: the backorder")


class OrderShipmentsOut(Schema):
    order: str
    lines: list[LineProgressOut]
    shipments: list[ShipmentOut]


class ShipmentPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ShipmentOut]


class LetterheadIn(Schema):
    model_config = STRICT

    name: Line = Field(default="", max_length=200)
    address: Line = Field(default="", max_length=300)
    phone: Line = Field(default="", max_length=64)
    logo_base64: str | None = Field(default=None, max_length=1_500_000)
    remove_logo: bool = False


class LetterheadOut(Schema):
    name: str
    address: str
    phone: str
    has_logo: bool


class TemplateIn(Schema):
    model_config = STRICT

    body: Text | None = Field(max_length=50_000)


class TemplateOut(Schema):
    kind: str
    body: str
    custom: bool = Field(description="false: the shipped template")


class AcceptanceIn(Schema):
    model_config = STRICT

    accepted_by: Line = Field(min_length=1, max_length=100)
    note: Text = Field(default="", max_length=500)

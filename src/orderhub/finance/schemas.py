"""Request and response shapes of the finance API (names prefixed ``Fin`` where generic)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from orderhub.core.http.schemas import STRICT, BizDate, Line, Text

DocNumber = Annotated[Line, Field(min_length=1, max_length=40)]
CustomerCode = Annotated[Line, Field(min_length=1, max_length=32)]
Money = Annotated[Decimal, Field(gt=0, lt=Decimal("1e13"), decimal_places=2)]
InvoiceKind = Literal["normal", "special"]
VoucherSystem = Literal["kingdee", "yonyou"]
InvoiceStatus = Literal["open", "paid"]
ReturnStatus = Literal["requested", "checked", "rejected", "received"]


class FinInvoiceIn(Schema):
    """``kind``: normal (增值税普通发票) or special (增值税专用发票)."""

    model_config = STRICT

    kind: InvoiceKind
    tax_rate: Decimal = Field(default=Decimal("0.13"), ge=0, lt=1, decimal_places=4)
    due_days: int = Field(default=30, ge=0, le=365)


class FinInvoiceOut(Schema):
    number: str
    shipment: str
    order: str
    customer: str
    customer_name: str
    kind: str = Field(description="normal 普票 | special 专票")
    title: str
    tax_no: str
    bank_name: str
    bank_account: str
    address_phone: str
    amount: Decimal = Field(description="价税合计 (tax included)")
    tax_rate: Decimal
    tax_amount: Decimal
    settled: Decimal = Field(description="settled by payments and credit notes")
    balance: Decimal
    issued_on: date
    due_on: date
    issued_by: str


class FinPaymentIn(Schema):
    model_config = STRICT

    customer: CustomerCode
    amount: Money
    received_on: BizDate
    kind: Literal["payment", "deposit"] = "payment"
    order: Line | None = Field(default=None, max_length=40)
    payer: Line = Field(default="", max_length=200)
    memo: Line = Field(default="", max_length=300)
    invoice: Line | None = Field(default=None, max_length=40, description="settle this invoice at once")


class FinPaymentOut(Schema):
    number: str
    customer: str | None
    kind: str
    source: str = Field(description="manual | bank")
    amount: Decimal
    applied: Decimal
    unapplied: Decimal
    received_on: date
    payer: str
    memo: str
    bank_ref: str
    order: str | None


class FinApplyIn(Schema):
    model_config = STRICT

    invoice: DocNumber
    amount: Money | None = Field(default=None, description="default: as much as both allow")


class FinAllocationOut(Schema):
    invoice: str
    payment: str
    amount: Decimal
    invoice_balance: Decimal
    payment_unapplied: Decimal


class FinBankRowOut(Schema):
    row: int
    ref: str
    amount: str
    payer: str
    payment: str
    result: str = Field(description="matched | unmatched (left for a person to match)")
    invoice: str
    applied: str
    message: str


class FinBankImportOut(Schema):
    id: int
    name: str
    rows: int
    matched: int
    unmatched: int
    created_at: datetime
    created_by: str
    results: list[FinBankRowOut]


class FinPromiseIn(Schema):
    model_config = STRICT

    promised_on: BizDate
    amount: Money | None = None
    note: Line = Field(default="", max_length=300)


class FinPromiseOut(Schema):
    id: int
    invoice: str
    customer: str
    amount: Decimal
    promised_on: date
    note: str
    kept_at: datetime | None
    alerted_at: datetime | None
    balance: Decimal


class FinReturnLineIn(Schema):
    model_config = STRICT

    line_no: int = Field(ge=1, le=100000)
    qty: Decimal = Field(ge=0, lt=Decimal("1e14"), decimal_places=4)


class FinReturnIn(Schema):
    model_config = STRICT

    lines: list[FinReturnLineIn] = Field(min_length=1, max_length=5000)
    reason: Text = Field(min_length=1, max_length=500)


class FinReturnLineOut(Schema):
    line_no: int
    sku: str
    qty: Decimal
    amount: Decimal
    warehouse: str | None = Field(description="where it went back on receipt")


class FinQCOut(Schema):
    passed: bool
    remark: str
    file_name: str
    recorded_by: str
    recorded_at: datetime


class FinCreditRefOut(Schema):
    number: str
    amount: Decimal
    applied: Decimal


class FinReturnOut(Schema):
    number: str
    order: str
    customer: str
    status: str = Field(description="requested | checked | rejected | received")
    reason: str
    created_at: datetime
    received_at: datetime | None
    lines: list[FinReturnLineOut]
    qc: FinQCOut | None
    credit_note: FinCreditRefOut | None


class FinCreditNoteOut(Schema):
    number: str
    customer: str
    return_order: str
    amount: Decimal
    tax_amount: Decimal
    applied: Decimal
    issued_on: date


class FinCustomerOut(Schema):
    code: str
    name: str
    credit_limit: Decimal
    unpaid_amount: Decimal = Field(description="what available credit counts: the open balances of the invoices "
                                               "OrderHub issued plus unpaid_external")
    unpaid_external: Decimal = Field(description="unpaid outside OrderHub (invoices issued in the ERP, opening "
                                                 "balance), set on the customer")
    open_balance: Decimal
    overdue_balance: Decimal
    unapplied_payments: Decimal
    tax_no: str
    bank_name: str
    bank_account: str
    billing_address: str
    billing_phone: str


class FinInvoicePage(Schema):
    count: int
    items: list[FinInvoiceOut]


class FinPaymentPage(Schema):
    count: int
    items: list[FinPaymentOut]

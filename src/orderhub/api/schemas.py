from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Schema
from pydantic import Field


class LineIn(Schema):
    sku: str = Field(min_length=1, max_length=64)
    qty: Decimal = Field(gt=0, max_digits=18, decimal_places=4)
    unit: str | None = Field(default=None, max_length=16)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=4)
    remarks: str = Field(default="", max_length=500)


class OrderIn(Schema):
    customer: str = Field(min_length=1, max_length=32)
    lines: list[LineIn] = Field(min_length=1, max_length=5000)
    required_date: date
    promised_date: date | None = None
    urgency: Literal["red", "yellow", "green"] = "green"
    channel: str = Field(default="api", pattern=r"^[a-z0-9_.-]{1,32}$")
    external_ref: str | None = Field(default=None, min_length=1, max_length=128)
    remarks: str = Field(default="", max_length=5000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    workflow: str | None = Field(default=None, max_length=32)
    owner: str | None = Field(default=None, max_length=150)


class OrderPatch(Schema):
    promised_date: date | None = None
    required_date: date | None = None
    urgency: Literal["red", "yellow", "green"] | None = None
    remarks: str | None = Field(default=None, max_length=5000)
    tags: list[str] | None = Field(default=None, max_length=50)
    reason: str = Field(default="", max_length=1000)


class TransitionIn(Schema):
    to: str = Field(min_length=1, max_length=40)
    reason: str = Field(default="", max_length=1000)


class ReasonIn(Schema):
    reason: str = Field(default="", max_length=1000)


class LineOut(Schema):
    line_no: int
    sku: str
    name: str
    qty: Decimal
    unit: str
    base_qty: Decimal
    base_unit: str
    unit_price: Decimal
    amount: Decimal
    remarks: str


class StageOut(Schema):
    code: str
    name: str
    owner_role: str
    entered_at: datetime | None = None
    due_at: datetime | None = None
    exited_at: datetime | None = None
    forced: bool = False


class OrderOut(Schema):
    number: str
    channel: str
    external_ref: str | None
    customer: str
    customer_name: str
    workflow: str
    workflow_version: int
    stage: str
    stage_name: str
    stage_owner_role: str
    stage_entered_at: datetime
    stage_due_at: datetime | None
    overdue: bool
    status: str
    on_hold: bool
    hold_reason: str
    required_date: date
    promised_date: date | None
    urgency: str
    currency: str
    total_amount: Decimal
    remarks: str
    tags: list[str]
    owner: str | None
    version: int
    forced: bool
    blocked_reasons: list[dict[str, Any]]
    next_stages: list[str]
    created_at: datetime
    updated_at: datetime
    lines: list[LineOut] | None = None
    stages: list[StageOut] | None = None


class OrderPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[OrderOut]


class EventOut(Schema):
    seq: int
    at: datetime
    action: str
    actor_kind: str
    actor: str
    ip: str | None
    user_agent: str
    request_id: str
    changes: dict[str, Any]
    data: dict[str, Any]
    reason: str
    forced: bool
    prev_hash: str
    hash: str


class SnapshotOut(Schema):
    version: int
    stage: str
    taken_at: datetime
    sha256: str
    content: dict[str, Any]


class ProblemOut(Schema):
    code: str
    message: str
    field: str | None = None
    data: dict[str, Any] | None = None


class ErrorOut(Schema):
    code: str
    message: str
    errors: list[ProblemOut] | None = None


class BlockedOut(Schema):
    code: str
    message: str
    order: OrderOut
    reasons: list[ProblemOut]


class WorkflowOut(Schema):
    code: str
    version: int
    name: str
    is_current: bool
    spec: dict[str, Any]
    created_at: datetime
    created_by: str

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field

from orderhub.core.text import unstorable

# Inputs are strict: an unknown field is refused (422 naming it) rather than silently dropped,
# so a misspelt `promise_date` cannot vanish without a trace.
STRICT = ConfigDict(extra="forbid")

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)


def _storable(value: str) -> str:
    # refuse here, naming the field, what the database cannot store (instead of a 500)
    if unstorable(value):
        raise ValueError("must be text without NUL (\\u0000) or lone surrogate characters")
    return value


def _plausible(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


Text = Annotated[str, AfterValidator(_storable)]
Tag = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_storable)]
BizDate = Annotated[date, AfterValidator(_plausible)]


class LineIn(Schema):
    model_config = STRICT

    sku: Text = Field(min_length=1, max_length=64)
    # 15 significant digits: exact on every database (SQLite keeps decimals as doubles)
    qty: Decimal = Field(gt=0, max_digits=15, decimal_places=4, allow_inf_nan=False)
    unit: Text | None = Field(default=None, max_length=16)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=15, decimal_places=4,
                                       allow_inf_nan=False)
    remarks: Text = Field(default="", max_length=500)


class OrderIn(Schema):
    model_config = STRICT

    customer: Text = Field(min_length=1, max_length=32)
    lines: list[LineIn] = Field(min_length=1, max_length=5000)
    required_date: BizDate
    promised_date: BizDate | None = None
    urgency: Literal["red", "yellow", "green"] = "green"
    channel: str = Field(default="api", pattern=r"^[a-z0-9_.-]{1,32}$")
    external_ref: Text | None = Field(default=None, min_length=1, max_length=128)
    remarks: Text = Field(default="", max_length=5000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    workflow: Text | None = Field(default=None, max_length=32)
    owner: Text | None = Field(default=None, max_length=150)


class OrderPatch(Schema):
    """Only the fields sent are changed. ``promised_date`` may be cleared with null; the other
    fields cannot be null (the order always has them)."""

    model_config = STRICT

    promised_date: BizDate | None = None
    # typed without None on purpose: absent means "unchanged", an explicit null is refused
    required_date: BizDate = None  # type: ignore[assignment]
    urgency: Literal["red", "yellow", "green"] = None  # type: ignore[assignment]
    remarks: Text = Field(default=None, max_length=5000)  # type: ignore[assignment]
    tags: list[Tag] = Field(default=None, max_length=50)  # type: ignore[assignment]
    reason: Text = Field(default="", max_length=1000)


class TransitionIn(Schema):
    model_config = STRICT

    to: Text = Field(min_length=1, max_length=40)
    reason: Text = Field(default="", max_length=1000)


class ReasonIn(Schema):
    model_config = STRICT

    reason: Text = Field(default="", max_length=1000)


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


class DifferenceOut(Schema):
    field: str
    existing: Any = None
    incoming: Any = None


class ErrorOut(Schema):
    code: str
    message: str
    errors: list[ProblemOut] | None = None
    # a 409 duplicate_conflict: the existing order and how the incoming content differs
    order: str | None = None
    differences: list[DifferenceOut] | None = None


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

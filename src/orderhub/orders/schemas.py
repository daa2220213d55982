"""Request and response shapes of the orders API. The field types and the error shape every
API shares are in ``orderhub.core.http.schemas``."""

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from orderhub.core.http.schemas import STRICT, BizDate, Line, ProblemOut, RequiredReason, Tag, Text
from orderhub.workflow.schemas import StageCode, WorkflowCode

from .models import Order
from .models import Urgency as UrgencyChoice

OrderNumber = Annotated[Line, Field(min_length=1, max_length=32)]
# the choices of the models, so the OpenAPI lists exactly what the database holds
if TYPE_CHECKING:  # a Literal built at run time is a str to the type checker
    Urgency = str
    OrderStatus = str
else:
    Urgency = Literal[tuple(UrgencyChoice.values)]
    OrderStatus = Literal[tuple(Order.Status.values)]


class LineIn(Schema):
    model_config = STRICT

    sku: Line = Field(min_length=1, max_length=64)
    # 15 significant digits: exact on every database (SQLite keeps decimals as doubles)
    qty: Decimal = Field(gt=0, max_digits=15, decimal_places=4, allow_inf_nan=False)
    unit: Line | None = Field(default=None, max_length=16)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=15, decimal_places=4,
                                       allow_inf_nan=False)
    remarks: Text = Field(default="", max_length=500)


class ShipToIn(Schema):
    """A ship-to address typed for this order."""

    model_config = STRICT

    contact: Line = Field(default="", max_length=100)
    phone: Line = Field(default="", max_length=32)
    address: Line = Field(min_length=1, max_length=300)


class OrderIn(Schema):
    """``ship_to_address_id`` (one of the customer's addresses, ``GET
    /api/catalog/customers/{code}/addresses``) or ``ship_to`` (typed for this order); neither:
    the customer's default address."""

    model_config = STRICT

    customer: Line = Field(min_length=1, max_length=32)
    lines: list[LineIn] = Field(min_length=1, max_length=5000)
    required_date: BizDate
    promised_date: BizDate | None = None
    urgency: Urgency = "green"
    channel: str = Field(default="api", pattern=r"^[a-z0-9_.-]{1,32}$")
    external_ref: Line | None = Field(default=None, min_length=1, max_length=128)
    remarks: Text = Field(default="", max_length=5000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    workflow: WorkflowCode | None = None
    owner: Line | None = Field(default=None, max_length=150)
    ship_to_address_id: int | None = Field(default=None, ge=1)
    ship_to: ShipToIn | None = None


class OrderPatch(Schema):
    """Only the fields sent are changed. ``promised_date`` may be cleared with null; the other
    fields cannot be null (the order always has them). ``ship_to_address_id`` takes the
    contact, phone and address from one of the customer's addresses."""

    model_config = STRICT

    promised_date: BizDate | None = None
    # typed without None on purpose: absent means "unchanged", an explicit null is refused
    required_date: BizDate = None  # type: ignore[assignment]
    urgency: Urgency = None  # type: ignore[assignment]
    remarks: Text = Field(default=None, max_length=5000)  # type: ignore[assignment]
    tags: list[Tag] = Field(default=None, max_length=50)  # type: ignore[arg-type]
    ship_to_contact: Line = Field(default=None, max_length=100)  # type: ignore[assignment]
    ship_to_phone: Line = Field(default=None, max_length=32)  # type: ignore[assignment]
    ship_to_address: Line = Field(default=None, max_length=300)  # type: ignore[assignment]
    # one of the customer's addresses: sets the three ship-to fields from it
    ship_to_address_id: int = Field(default=None, ge=1)  # type: ignore[assignment]
    reason: Text = Field(default="", max_length=1000)


class LineChangeIn(Schema):
    """One change of ``POST /api/orders/{number}/lines``: ``add`` (``sku``, ``qty``; ``unit``,
    ``unit_price`` (default: the list price), ``remarks``), ``remove`` (``line_no``) or
    ``update`` (``line_no`` and any of ``qty``, ``unit``, ``unit_price``, ``remarks``)."""

    model_config = STRICT

    op: Literal["add", "remove", "update"]
    line_no: int | None = Field(default=None, ge=1, le=1_000_000)
    sku: Line = Field(default="", max_length=64)
    qty: Decimal | None = Field(default=None, gt=0, max_digits=15, decimal_places=4, allow_inf_nan=False)
    unit: Line | None = Field(default=None, max_length=16)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=15, decimal_places=4,
                                       allow_inf_nan=False)
    remarks: Text | None = Field(default=None, max_length=500)


class LinesChangeIn(Schema):
    model_config = STRICT

    changes: list[LineChangeIn] = Field(min_length=1, max_length=5000)
    reason: Text = Field(default="", max_length=1000)


class RestoreIn(Schema):
    model_config = STRICT

    version: int = Field(ge=1, le=1_000_000)
    reason: Text = Field(default="", max_length=1000)


class TransitionIn(Schema):
    """``to``: the code of a next stage of the order's workflow (its ``next_stages``)."""

    model_config = STRICT

    to: StageCode
    reason: Text = Field(default="", max_length=1000)


class BatchTransitionIn(TransitionIn):
    """Many orders to one stage: ``numbers`` (1–1000, each moved as on its own)."""

    numbers: list[OrderNumber] = Field(min_length=1, max_length=1000)


class BatchMoveOut(Schema):
    """One order's outcome: ``moved``; ``blocked`` (``reasons``: every reason, kept on the
    order and in its history); ``refused`` (``reasons``: why — ``order_closed``,
    ``invalid_transition``, ``permission_denied`` (not the stage owner's role),
    ``order_not_found``, ``duplicate``). ``stage``: where the order stands now (null: not found)."""

    number: str
    outcome: Literal["moved", "blocked", "refused"]
    stage: str | None
    reasons: list[ProblemOut]


class BatchTransitionOut(Schema):
    moved: int
    blocked: int
    refused: int
    results: list[BatchMoveOut]


class OverrideIn(TransitionIn):
    """A forced move: ``reason`` is required (at least one visible character)."""

    reason: RequiredReason


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
    ship_to_contact: str
    ship_to_phone: str
    ship_to_address: str
    edit_refusal: str | None = Field(description="Why the header and ship-to cannot be edited now "
                                                  "(a closed order, a final or shipped stage); null "
                                                  "while PATCH may change them.")
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


class BlockedOut(Schema):
    """Every 409 of a move (transition, override): ``code`` says which — ``blocked`` (guards
    refused: every reason), ``order_closed`` (completed or cancelled), ``invalid_transition``
    (not a next stage of the current one) — always with at least one reason and the order as it
    stands, so a client parses one shape."""

    code: str
    message: str
    order: OrderOut
    reasons: list[ProblemOut]


class PreviewLineOut(Schema):
    line_no: int
    sku: str
    name: str
    qty: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal


class PreviewOut(Schema):
    """What the order would be if it were created now. ``ok``: no errors (it can be created).
    ``errors``: every problem at once, named by field as a create would name them.
    ``warnings``: what a person should confirm first (``past_date``, ``credit_exceeded``,
    ``credit_guard``: a workflow guard on credit that will stop it at a later stage)."""

    ok: bool
    customer: str | None
    customer_name: str | None
    credit_available: Decimal | None
    currency: str
    total: Decimal
    lines: list[PreviewLineOut]
    errors: list[ProblemOut]
    warnings: list[ProblemOut]


class GuardIn(Schema):
    """One check as the workflow definition writes it (``stages[].guards[]``)."""

    code: Line = Field(min_length=1, max_length=40)
    expr: Text | None = Field(default=None, max_length=2000)
    check: Literal["kitting"] | None = None
    scope: Literal["order", "line"] = "order"
    message: Text | None = Field(default=None, max_length=500)


class GuardTestIn(Schema):
    """Try a stage's checks on an order without moving it: the saved checks, or ``guards`` as
    drafted (an editor's unsaved text)."""

    order: OrderNumber
    stage: StageCode
    guards: list[GuardIn] | None = Field(default=None, max_length=50)


class GuardTestOut(Schema):
    order: str
    workflow: str
    stage: str
    stage_name: str
    passed: bool
    reasons: list[ProblemOut]
    values: dict[str, Any]        # the order facts the checks read (name → value)
    guards: list[str]             # codes of the checks tried
    notes: list[str] = Field(default_factory=list,
                             description="Kitting by date: the purchase orders counted, e.g. "
                                         "`6061铝棒：由采购单 PO-0007 (12月5日到货) 补足 80 kg`")

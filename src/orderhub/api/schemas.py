"""Request and response shapes of the JSON API, with the rules every input follows.

Text: ``Text`` is multi-line (remarks, reasons: tab, line feed and carriage return allowed),
``Line`` is one line (codes, references, names, tags); both refuse NUL, lone surrogates and every
other control character, with a 422 naming the field. Dates are ISO dates (``2026-12-20``) and
nothing else: a number is not read as a Unix time. ``ERRORS`` documents every refusal an
operation may answer; all routers use it."""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from orderhub.core.text import text_fault
from orderhub.orders.models import Order
from orderhub.orders.models import Urgency as UrgencyChoice
from orderhub.workflow.spec import CODE_RE, WORKFLOW_CODE_RE

# Inputs are strict: an unknown field is refused (422 naming it) rather than silently dropped,
# so a misspelt `promise_date` cannot vanish without a trace.
STRICT = ConfigDict(extra="forbid")

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _multiline(value: str) -> str:
    # refuse here, naming the field, what the database cannot store or a page/export would
    # choke on (instead of a 500 or a broken spreadsheet later)
    fault = text_fault(value, multiline=True)
    if fault:
        raise ValueError(fault)
    return value


def _single_line(value: str) -> str:
    fault = text_fault(value, multiline=False)
    if fault:
        raise ValueError(fault)
    return value


def _iso_only(value: Any) -> Any:
    # pydantic reads 0 or "0" as a Unix time (1970-01-01): a date is written YYYY-MM-DD
    if isinstance(value, datetime) or not isinstance(value, str | date) or (
            isinstance(value, str) and not _ISO_DATE.fullmatch(value)):
        raise ValueError(_("Enter a date written YYYY-MM-DD, e.g. 2026-12-20."))
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError(_("A reason is required."))
    return value


def _plausible(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(_("Must be between %(first)s and %(last)s.") % {"first": EARLIEST_DATE,
                                                                          "last": LATEST_DATE})
    return value


Text = Annotated[str, AfterValidator(_multiline)]
Line = Annotated[str, AfterValidator(_single_line)]
Tag = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_single_line)]
#: an ISO date (filters)
IsoDate = Annotated[date, BeforeValidator(_iso_only)]
#: an ISO date an order can plausibly carry (2000-01-01 … 2099-12-31)
BizDate = Annotated[date, BeforeValidator(_iso_only), AfterValidator(_plausible)]
StageCode = Annotated[str, Field(min_length=1, max_length=40, pattern=CODE_RE)]
WorkflowCode = Annotated[str, Field(min_length=1, max_length=32, pattern=WORKFLOW_CODE_RE)]
OrderNumber = Annotated[Line, Field(min_length=1, max_length=32)]
#: a reason a person must give (hold, cancel, override): at least one visible character
RequiredReason = Annotated[Text, Field(max_length=1000, json_schema_extra={"minLength": 1, "pattern": r"\S"}),
                           AfterValidator(_not_blank)]
# the choices of the models, so the OpenAPI lists exactly what the database holds
Urgency = Literal[tuple(UrgencyChoice.values)]  # type: ignore[valid-type]
OrderStatus = Literal[tuple(Order.Status.values)]  # type: ignore[valid-type]


class LineIn(Schema):
    model_config = STRICT

    sku: Line = Field(min_length=1, max_length=64)
    # 15 significant digits: exact on every database (SQLite keeps decimals as doubles)
    qty: Decimal = Field(gt=0, max_digits=15, decimal_places=4, allow_inf_nan=False)
    unit: Line | None = Field(default=None, max_length=16)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=15, decimal_places=4,
                                       allow_inf_nan=False)
    remarks: Text = Field(default="", max_length=500)


class OrderIn(Schema):
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


class OrderPatch(Schema):
    """Only the fields sent are changed. ``promised_date`` may be cleared with null; the other
    fields cannot be null (the order always has them)."""

    model_config = STRICT

    promised_date: BizDate | None = None
    # typed without None on purpose: absent means "unchanged", an explicit null is refused
    required_date: BizDate = None  # type: ignore[assignment]
    urgency: Urgency = None  # type: ignore[assignment]
    remarks: Text = Field(default=None, max_length=5000)  # type: ignore[assignment]
    tags: list[Tag] = Field(default=None, max_length=50)  # type: ignore[assignment]
    reason: Text = Field(default="", max_length=1000)


class TransitionIn(Schema):
    """``to``: the code of a next stage of the order's workflow (its ``next_stages``)."""

    model_config = STRICT

    to: StageCode
    reason: Text = Field(default="", max_length=1000)


class OverrideIn(TransitionIn):
    """A forced move: ``reason`` is required (at least one visible character)."""

    reason: RequiredReason


class ReasonIn(Schema):
    model_config = STRICT

    reason: Text = Field(default="", max_length=1000)


class RequiredReasonIn(Schema):
    """``reason`` is required (at least one visible character)."""

    model_config = STRICT

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
    """Every 409 of a move (transition, override): ``code`` says which — ``blocked`` (guards
    refused: every reason), ``order_closed`` (completed or cancelled), ``invalid_transition``
    (not a next stage of the current one) — always with at least one reason and the order as it
    stands, so a client parses one shape."""

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
    stage: Line = Field(min_length=1, max_length=40)
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


#: Every refusal an operation may answer, documented on every operation. One dict for every
#: router: a new kind of refusal (e.g. 429 from a rate limit) is added here once.
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
                          413: ErrorOut, 422: ErrorOut}
#: What each refusal means, written into the OpenAPI (``api.OrderHubAPI``) where an operation
#: says nothing more specific.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed JSON body (`code: malformed`).",
    401: "No valid credentials: send `Authorization: Bearer <token>` or use a session "
         "(`code: unauthorized`; intake webhooks: a missing or wrong signature).",
    403: "The credentials are valid but their roles do not allow this (`code: permission_denied`).",
    404: "The order, message, draft, job, workflow or link named in the path does not exist.",
    409: "The request conflicts with the current state (e.g. a closed order, a decided draft, the "
         "same key with different content); `code` names the case.",
    413: "The request body is larger than the server accepts (`ORDERHUB_MAX_BODY_BYTES`, 2 MiB by "
         "default; uploads: `ORDERHUB_INTAKE_MAX_FILE_BYTES`).",
    422: "Invalid input, every fault named by its field in `errors[].field`: unknown fields, text "
         "with control characters (only remarks and reasons may hold tab/line breaks), dates not "
         "written YYYY-MM-DD or outside 2000-01-01…2099-12-31, numbers out of range, codes not "
         "matching their pattern, a required reason left blank.",
}

"""Request and response shapes of the JSON API, with the rules every input follows.

Text: ``Text`` is multi-line (remarks, reasons: tab, line feed and carriage return allowed),
``Line`` is one line (codes, references, names, tags); both refuse NUL, lone surrogates and every
other control character, with a 422 naming the field. Dates are ISO dates (``2026-12-20``) and
nothing else: a number is not read as a Unix time. ``ERRORS`` documents every refusal an
operation may answer; all routers use it."""

import re
from datetime import date, datetime
from typing import Annotated, Any

from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from orderhub.core.text import text_fault

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
#: a reason a person must give (hold, cancel, override): at least one visible character
RequiredReason = Annotated[Text, Field(max_length=1000, json_schema_extra={"minLength": 1, "pattern": r"\S"}),
                           AfterValidator(_not_blank)]


class ReasonIn(Schema):
    model_config = STRICT

    reason: Text = Field(default="", max_length=1000)


class RequiredReasonIn(Schema):
    """``reason`` is required (at least one visible character)."""

    model_config = STRICT

    reason: RequiredReason


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


#: Every refusal an operation may answer, documented on every operation. One dict for every
#: router: a new kind of refusal (e.g. 429 from a rate limit) is added here once.
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
                          413: ErrorOut, 422: ErrorOut, 429: ErrorOut}
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
    429: "Too many requests from the client address (`code: rate_limited`), e.g. too many with "
         "an unknown bearer token (`ORDERHUB_RATE_API_TOKEN_REFUSED`); `Retry-After` says when "
         "to try again.",
}

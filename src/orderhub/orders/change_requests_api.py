"""Change requests over the API (mounted at /api/orders): raise, list, read, approve, reject."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, Line, Text

from . import services
from .change_request_reads import change_request_of, change_requests_of
from .schemas import LineChangeIn, OrderNumber, OrderPatch
from .selectors import check_visible

router = Router(tags=["change requests"])


class ChangeRequestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    header: OrderPatch | None = Field(default=None, description="header fields to change, as `PATCH "
                                      "/api/orders/{number}` takes them (its `reason` is ignored)")
    lines: list[LineChangeIn] = Field(default=[], max_length=1000,
                                      description="line changes, as `POST /api/orders/{number}/lines` takes them")
    reason: Text = Field(default="", max_length=1000)


class ChangeDecisionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    comment: Text = Field(min_length=1, max_length=1000, description="required, for approval and rejection")
    role: Line | None = Field(default=None, max_length=32, description="the approver role to decide as "
                              "(default: the first undecided one the caller may act for)")


class ChangeRequestOut(Schema):
    id: int
    order: str
    status: str = Field(description="pending / approved / rejected")
    header: dict[str, Any] = Field(description="proposed header values")
    lines: list[dict[str, Any]] = Field(description="proposed line changes")
    reason: str
    impact: dict[str, Any] = Field(description="computed when raised: stock (per product held, needed, freed, "
                                   "to reserve, free, short), kitting, guards, deadlines, credit, lines")
    base_version: int
    approvers: list[str]
    pending_roles: list[str]
    may_decide: list[str] = Field(description="the pending roles the caller may decide as")
    decisions: list[dict[str, Any]]
    requested_by: str
    requested_at: datetime
    decided_at: datetime | None
    applied_version: int | None
    ticket: int | None


@router.post("/{number}/change-requests", auth=requires("orders.change_request"),
             response={201: ChangeRequestOut, **ERRORS})
def raise_change_request(request: ActorRequest, number: OrderNumber, payload: ChangeRequestIn) -> Status:
    """Propose header and line changes; their impact is computed now and the order is frozen
    (moves and edits refused with 409 `change_pending`, "变更审批中") until the approvers decide.
    422: a bad field or line change (named as in the edits); 403: a price the caller may not
    set; 409: `not_editable` (closed, final, a stage locking edits, or already frozen), `no_change`."""
    header = payload.header.model_dump(exclude_unset=True) if payload.header is not None else {}
    header.pop("reason", None)
    changes = [services.LineChange(op=c.op, line_no=c.line_no, sku=c.sku, qty=c.qty, unit=c.unit,
                                   unit_price=c.unit_price, remarks=c.remarks) for c in payload.lines]
    check_visible(number, request.actor)
    with transaction.atomic():
        cr = services.change_request_raise(order=number, actor=request.actor, header=header, lines=changes,
                                           reason=payload.reason)
        return Status(201, change_request_of(number, cr.pk, request.actor))


@router.get("/{number}/change-requests", auth=requires("orders.view"), response={200: list[ChangeRequestOut], **ERRORS})
def list_change_requests(request: ActorRequest, number: OrderNumber) -> list[dict[str, Any]]:
    """The order's change requests, newest first."""
    return change_requests_of(number, request.actor)


@router.get("/{number}/change-requests/{request_id}", auth=requires("orders.view"),
            response={200: ChangeRequestOut, **ERRORS})
def get_change_request(request: ActorRequest, number: OrderNumber, request_id: int) -> dict[str, Any]:
    return change_request_of(number, request_id, request.actor)


def _decide(request: ActorRequest, number: str, request_id: int, payload: ChangeDecisionIn, approve: bool) -> dict[str, Any]:
    change_request_of(number, request_id, request.actor)    # visible, and of this order (404 otherwise)
    with transaction.atomic():
        services.change_request_decide(request=request_id, approve=approve, comment=payload.comment,
                                       actor=request.actor, role=payload.role)
        return change_request_of(number, request_id, request.actor)


@router.post("/{number}/change-requests/{request_id}/approve", auth=requires("orders.change_decide"),
             response={200: ChangeRequestOut, **ERRORS})
def approve_change_request(request: ActorRequest, number: OrderNumber, request_id: int,
                           payload: ChangeDecisionIn) -> dict[str, Any]:
    """Approve as one approver role, with a comment. The last approval applies every change as
    the order's next version (stock re-reserved; 409 `stock_short` / `blocked` when it no longer
    can, nothing recorded). 403: not an approver role; 409: already decided."""
    return _decide(request, number, request_id, payload, True)


@router.post("/{number}/change-requests/{request_id}/reject", auth=requires("orders.change_decide"),
             response={200: ChangeRequestOut, **ERRORS})
def reject_change_request(request: ActorRequest, number: OrderNumber, request_id: int,
                          payload: ChangeDecisionIn) -> dict[str, Any]:
    """Reject as one approver role, with the reason (told to the requester); the order is no
    longer frozen."""
    return _decide(request, number, request_id, payload, False)

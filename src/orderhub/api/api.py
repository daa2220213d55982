"""The JSON API. Handlers are thin: parse, call one service or selector, render."""

from __future__ import annotations

import json
import logging
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DataError, transaction
from django.utils.translation import gettext as _
from ninja import Body, NinjaAPI, Query, Router, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from orderhub.core.errors import DomainError, Problem
from orderhub.orders import selectors, services
from orderhub.orders.inputs import LineInput, OrderInput
from orderhub.workflow import services as wf_services
from orderhub.workflow.models import WorkflowDefinition

from .auth import BearerToken, SessionAuth, declare_capabilities, requires
from .schemas import (
    BlockedOut,
    ErrorOut,
    EventOut,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderPatch,
    ReasonIn,
    SnapshotOut,
    Text,
    TransitionIn,
    WorkflowOut,
)


class DecimalJSONParser(Parser):
    """JSON with exact decimals: 12.30 stays Decimal('12.30'), never a float."""

    def parse_body(self, request):
        return json.loads(request.body, parse_float=Decimal)


logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="OrderHub API",
    version="1",
    description="订单中枢 JSON API. Systems use `Authorization: Bearer <token>` "
                "(`orderhub token create`); the web UI uses its session.",
    auth=[BearerToken(), SessionAuth()],
    parser=DecimalJSONParser(),
    urls_namespace="api",
)


def _field(loc) -> str:
    parts = [p for p in loc if p not in ("body", "data", "query", "path", "payload", "filters")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


@api.exception_handler(NinjaValidationError)
def _validation(request, exc):
    errors = [{"code": e.get("type", "invalid"), "field": _field(e.get("loc", ())),
               "message": e.get("msg", "")} for e in exc.errors]
    first = errors[0] if errors else {"field": "", "message": ""}
    return api.create_response(request, {
        "code": "invalid",
        "message": _("Invalid input at %(field)s: %(msg)s") % {"field": first["field"] or "body",
                                                               "msg": first["message"]},
        "errors": errors}, status=422)


@api.exception_handler(DomainError)
def _domain(request, exc):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return api.create_response(request, {"code": "too_large", "message": _("Request body is too large.")},
                               status=413)


@api.exception_handler(DataError)
@api.exception_handler(InvalidOperation)
def _out_of_range(request, exc):
    # A value the database cannot hold (e.g. a quantity × price beyond the amount column) that
    # validation let through. Write handlers run the service and the read-back in one
    # transaction, so it has rolled back (PostgreSQL refuses the write; SQLite stores it and
    # fails on reading it back): answer 422 rather than 500, and log it.
    logger.warning("refused a value the database cannot store: %s", exc, exc_info=exc)
    return api.create_response(request, {
        "code": "out_of_range",
        "message": _("A value is out of range and cannot be stored (an amount may have at most "
                     "14 digits before the decimal point).")}, status=422)


@api.exception_handler(AuthenticationError)
def _unauth(request, exc):
    return api.create_response(request, {"code": "unauthorized",
                                         "message": _("Authentication required: a bearer token or a session.")},
                               status=401)


@api.exception_handler(HttpError)
def _http(request, exc):
    code = "malformed" if exc.status_code == 400 else "error"
    message = _("Malformed JSON body.") if exc.status_code == 400 else str(exc)
    return api.create_response(request, {"code": code, "message": message}, status=exc.status_code)


orders = Router(tags=["orders"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut,
          422: ErrorOut}


def _input(payload: OrderIn) -> OrderInput:
    return OrderInput(
        customer=payload.customer,
        lines=[LineInput(sku=ln.sku, qty=ln.qty, unit=ln.unit, unit_price=ln.unit_price,
                         remarks=ln.remarks) for ln in payload.lines],
        required_date=payload.required_date, promised_date=payload.promised_date,
        urgency=payload.urgency, channel=payload.channel, external_ref=payload.external_ref,
        remarks=payload.remarks, tags=payload.tags, workflow=payload.workflow, owner=payload.owner)


@orders.post("", auth=requires("orders.create"), response={200: OrderOut, 201: OrderOut, **ERRORS})
def create_order(request, payload: OrderIn):
    """Create an order. The same `channel` + `external_ref` returns the existing order (200);
    the same key with different content is a 409 listing the differences."""
    with transaction.atomic():
        result = services.order_create(data=_input(payload), actor=request.actor)
        if result.created:  # answer from what was written, without reading it back
            return Status(201, selectors.order_dict(result.order, lines=result.lines, stages=result.stages))
        return Status(200, selectors.order_detail(result.order.number, actor=request.actor))


@orders.get("", auth=requires("orders.view"), response={200: OrderPage, **ERRORS})
def list_orders(request, stage: Text | None = None, workflow: Text | None = None,
                urgency: Text | None = None, customer: Text | None = None, status: Text | None = None,
                overdue: bool | None = None, on_hold: bool | None = None, tag: Text | None = None,
                created_from: date | None = None, created_to: date | None = None,
                required_from: date | None = None, required_to: date | None = None,
                page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(50, ge=1, le=500)):
    flt = selectors.OrderFilter(stage=stage, workflow=workflow, urgency=urgency, customer=customer,
                                status=status, overdue=overdue, on_hold=on_hold, tag=tag,
                                created_from=created_from, created_to=created_to,
                                required_from=required_from, required_to=required_to)
    qs = selectors.order_queryset(flt, actor=request.actor).order_by("stage_due_at", "pk")
    start = (page - 1) * page_size
    items = [selectors.order_dict(o) for o in qs[start:start + page_size]]
    return {"count": qs.count(), "page": page, "page_size": page_size, "items": items}


@orders.get("/{number}", auth=requires("orders.view"), response={200: OrderOut, **ERRORS})
def get_order(request, number: Text):
    return selectors.order_detail(number, actor=request.actor)


@orders.patch("/{number}", auth=requires("orders.update"), response={200: OrderOut, **ERRORS})
def update_order(request, number: Text, payload: OrderPatch):
    changes = payload.model_dump(exclude_unset=True)
    reason = changes.pop("reason", "")
    selectors.check_visible(number, request.actor)
    with transaction.atomic():
        services.order_update(order=number, changes=changes, actor=request.actor, reason=reason)
        return selectors.order_detail(number, actor=request.actor)


def _moved(request, result):
    if result.ok:
        return Status(200, selectors.order_detail(result.order.number, actor=request.actor))
    reasons = [r.as_dict() for r in result.reasons]
    return Status(409, {"code": "blocked", "message": reasons[0]["message"],
                        "order": selectors.order_detail(result.order.number, actor=request.actor),
                        "reasons": reasons})


@orders.post("/{number}/transition", auth=requires("orders.move"), response={200: OrderOut, 409: BlockedOut, **{k: v for k, v in ERRORS.items() if k != 409}})
def transition(request, number: Text, payload: TransitionIn):
    """Move to the next stage. Blocked moves answer 409 with every reason."""
    selectors.check_visible(number, request.actor)
    with transaction.atomic():
        return _moved(request, services.order_transition(order=number, to=payload.to, actor=request.actor,
                                                reason=payload.reason))


@orders.post("/{number}/override", auth=requires("orders.override"), response={200: OrderOut, 409: BlockedOut, **{k: v for k, v in ERRORS.items() if k != 409}})
def override(request, number: Text, payload: TransitionIn):
    """Force past the guards: needs the override permission and a reason; audited and flagged."""
    selectors.check_visible(number, request.actor)
    with transaction.atomic():
        return _moved(request, services.order_override(order=number, to=payload.to, actor=request.actor,
                                              reason=payload.reason))


@orders.post("/{number}/hold", auth=requires("orders.hold"), response={200: OrderOut, **ERRORS})
def hold(request, number: Text, payload: ReasonIn):
    selectors.check_visible(number, request.actor)
    with transaction.atomic():
        services.order_hold(order=number, actor=request.actor, reason=payload.reason)
        return selectors.order_detail(number, actor=request.actor)


@orders.post("/{number}/resume", auth=requires("orders.hold"), response={200: OrderOut, **ERRORS})
def resume(request, number: Text, payload: ReasonIn):
    selectors.check_visible(number, request.actor)
    with transaction.atomic():
        services.order_resume(order=number, actor=request.actor, reason=payload.reason)
        return selectors.order_detail(number, actor=request.actor)


@orders.post("/{number}/cancel", auth=requires("orders.cancel"), response={200: OrderOut, **ERRORS})
def cancel(request, number: Text, payload: ReasonIn):
    selectors.check_visible(number, request.actor)
    with transaction.atomic():
        services.order_cancel(order=number, actor=request.actor, reason=payload.reason)
        return selectors.order_detail(number, actor=request.actor)


@orders.get("/{number}/events", auth=requires("orders.view"), response={200: list[EventOut], **ERRORS})
def events(request, number: Text):
    """The order's history; `ip` and `user_agent` only for roles that may see them
    (`orders.view_events_forensics`), otherwise null and empty."""
    return selectors.order_events(selectors.get_order(number, actor=request.actor), actor=request.actor)


@orders.get("/{number}/snapshots", auth=requires("orders.view"), response={200: list[SnapshotOut], **ERRORS})
def snapshots(request, number: Text):
    return selectors.order_snapshots(selectors.get_order(number, actor=request.actor))


workflows = Router(tags=["workflows"])


def _wf_out(wf: WorkflowDefinition) -> dict:
    return {"code": wf.code, "version": wf.version, "name": wf.name, "is_current": wf.is_current,
            "spec": wf.spec, "created_at": wf.created_at, "created_by": wf.created_by}


@workflows.get("", auth=requires("workflow.view"), response={200: list[WorkflowOut], **ERRORS})
def list_workflows(request):
    return [_wf_out(w) for w in WorkflowDefinition.objects.filter(is_current=True).order_by("code")]


@workflows.get("/{code}", auth=requires("workflow.view"), response={200: WorkflowOut, **ERRORS})
def get_workflow(request, code: Text):
    return _wf_out(wf_services.current_definition(code))


@workflows.put("/{code}", auth=requires("workflow.change"), response={200: WorkflowOut, **ERRORS})
def save_workflow(request, code: Text, payload: Body[dict[str, Any]]):
    """Save a new version; an invalid definition is refused (422) naming the fault."""
    if payload.get("code") != code:
        raise DomainError("code_mismatch", _("The definition's code must be %(code)s.") % {"code": code},
                          status=422, problems=[Problem("code_mismatch", _("Must be %(code)s.") % {"code": code},
                                                        field="code")])
    return _wf_out(wf_services.workflow_save(data=payload, actor=request.actor))


api.add_router("/orders", orders)
api.add_router("/workflows", workflows)

from orderhub.intake.api import router as intake_router  # noqa: E402

api.add_router("/intake", intake_router)

from orderhub.notify.api import router as notify_router  # noqa: E402

api.add_router("/notify", notify_router)

from orderhub.api.roles import router as roles_router  # noqa: E402

api.add_router("/roles", roles_router)
declare_capabilities(orders, workflows, intake_router, roles_router, notify_router)  # each operation's capability in the OpenAPI (x-orderhub-capability)

"""Orders API (mounted at /api/orders). Handlers are thin: parse, call one service or selector,
render."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from orderhub.core.errors import DomainError
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, IsoDate, Line, ReasonIn, RequiredReasonIn

from . import selectors, services
from .guardcheck import guards_test
from .inputs import LineInput, OrderInput, ShipTo
from .schemas import (
    BatchTransitionIn,
    BatchTransitionOut,
    BlockedOut,
    EventOut,
    GuardTestIn,
    GuardTestOut,
    LinesChangeIn,
    OrderIn,
    OrderNumber,
    OrderOut,
    OrderPage,
    OrderPatch,
    OrderStatus,
    OverrideIn,
    PreviewOut,
    RestoreIn,
    SnapshotOut,
    TransitionIn,
    Urgency,
    WorkflowCode,
)

router = Router(tags=["orders"])


def _input(payload: OrderIn) -> OrderInput:
    return OrderInput(
        customer=payload.customer,
        lines=[LineInput(sku=ln.sku, qty=ln.qty, unit=ln.unit, unit_price=ln.unit_price,
                         remarks=ln.remarks) for ln in payload.lines],
        required_date=payload.required_date, promised_date=payload.promised_date,
        urgency=payload.urgency, channel=payload.channel, external_ref=payload.external_ref,
        remarks=payload.remarks, tags=payload.tags, workflow=payload.workflow, owner=payload.owner,
        ship_to_address_id=payload.ship_to_address_id,
        ship_to=ShipTo(**payload.ship_to.model_dump()) if payload.ship_to else None)


@router.post("", auth=requires("orders.create"), response={200: OrderOut, 201: OrderOut, **ERRORS})
def create_order(request: ActorRequest, payload: OrderIn) -> Status:
    """Create an order. The same `channel` + `external_ref` returns the existing order (200);
    the same key with different content is a 409 listing the differences.

    422: an unknown customer, SKU, unit, owner or workflow; a quantity ≤ 0 or one that rounds to
    zero in the product's base unit; a negative price; amounts of 10^14 or more; dates outside
    2000-01-01…2099-12-31; text with control characters — each named in `errors[].field`
    (`lines[2].qty`)."""
    with transaction.atomic():
        result = services.order_create(data=_input(payload), actor=request.actor)
        if result.created:  # answer from what was written, without reading it back
            return Status(201, selectors.order_dict(result.order, lines=result.lines, stages=result.stages))
        return Status(200, selectors.order_detail(result.order.number, actor=request.actor))


def preview_dict(preview: services.Preview) -> dict[str, Any]:
    return {
        "ok": preview.ok, "customer": preview.customer.code if preview.customer else None,
        "customer_name": preview.customer.name if preview.customer else None,
        "credit_available": preview.credit_available, "currency": preview.currency,
        "total": preview.total.quantize(Decimal("0.01")),
        "lines": [{"line_no": ln.line_no, "sku": ln.product.sku, "name": ln.product.name, "qty": ln.qty,
                   "unit": ln.unit, "unit_price": ln.unit_price, "amount": ln.amount} for ln in preview.lines],
        "errors": [p.as_dict() for p in preview.errors],
        "warnings": [p.as_dict() for p in preview.warnings],
    }


@router.post("/preview", auth=requires("orders.create"), response={200: PreviewOut, **ERRORS})
def preview_order(request: ActorRequest, payload: OrderIn) -> dict[str, Any]:
    """Check an order without creating it: every error at once (unknown customer or SKU, a
    unit that cannot be converted, a price the caller may not set …), the line amounts and
    total, and the warnings a person should confirm (a required date already past, the
    customer's credit exceeded, a workflow credit guard that will stop it later). Writes
    nothing; always 200 once the body has the order's shape (422 otherwise)."""
    return preview_dict(services.order_preview(data=_input(payload), actor=request.actor))


@router.post("/transition", auth=requires("orders.move"), response={200: BatchTransitionOut, **ERRORS})
def transition_many(request: ActorRequest, payload: BatchTransitionIn) -> dict[str, Any]:
    """Move many orders to stage `to` in one transaction, each as if moved on its own (the
    stage owner rule, guards, holds and stock per order, in the order given; a blocked order
    keeps its reasons, as with a single move). Always 200 with one result per number:
    `moved`, `blocked` with every reason, or `refused` with why. 422: the body (1–1000
    numbers, `to` a stage code)."""
    seen = selectors.visible_numbers(payload.numbers, request.actor)
    answers = iter(services.order_transition_batch(
        numbers=[n for n in payload.numbers if n in seen], to=payload.to, actor=request.actor,
        reason=payload.reason))   # one per number sent, in order
    out = []
    for n in payload.numbers:
        if n not in seen:   # as if it did not exist
            out.append({"number": n, "outcome": "refused", "stage": None, "reasons": [
                {"code": "order_not_found", "message": _("Order %(number)s does not exist.") % {"number": n}}]})
            continue
        r = next(answers)
        reasons = [p.as_dict() for p in r.reasons] if r.error is None else [
            {"code": r.error.code, "message": r.error.message}]
        out.append({"number": n, "outcome": r.outcome, "stage": r.order.stage if r.order else None,
                    "reasons": reasons})
    counts = {k: sum(1 for x in out if x["outcome"] == k) for k in ("moved", "blocked", "refused")}
    return {**counts, "results": out}


@router.get("", auth=requires("orders.view"), response={200: OrderPage, **ERRORS})
def list_orders(request: ActorRequest, stage: Line | None = None, workflow: Line | None = None,
                urgency: Urgency | None = None, customer: Line | None = None,
                status: OrderStatus | None = None, overdue: bool | None = None,
                on_hold: bool | None = None, tag: Line | None = None,
                created_from: IsoDate | None = None, created_to: IsoDate | None = None,
                required_from: IsoDate | None = None, required_to: IsoDate | None = None,
                page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Orders, soonest stage deadline first. Dates are ISO dates (`2026-12-20`); anything else
    (`required_to=0`) is a 422 naming the parameter."""
    flt = selectors.OrderFilter(stage=stage, workflow=workflow, urgency=urgency, customer=customer,
                                status=status, overdue=overdue, on_hold=on_hold, tag=tag,
                                created_from=created_from, created_to=created_to,
                                required_from=required_from, required_to=required_to)
    qs = selectors.order_queryset(flt, actor=request.actor).order_by("stage_due_at", "pk")
    start = (page - 1) * page_size
    items = [selectors.order_dict(o) for o in qs[start:start + page_size]]
    return {"count": qs.count(), "page": page, "page_size": page_size, "items": items}


@router.get("/{number}", auth=requires("orders.view"), response={200: OrderOut, **ERRORS})
def get_order(request: ActorRequest, number: OrderNumber) -> dict[str, Any]:
    return selectors.order_detail(number, actor=request.actor)


@router.patch("/{number}", auth=requires("orders.update"), response={200: OrderOut, **ERRORS})
def update_order(request: ActorRequest, number: OrderNumber, payload: OrderPatch) -> dict[str, Any]:
    """Change header fields (only those sent). 422: a field that cannot be changed, null for a
    field the order always has, a date outside 2000-01-01…2099-12-31; 409: nothing changes."""
    changes = payload.model_dump(exclude_unset=True)
    reason = changes.pop("reason", "")
    selectors.check_visible(number, request.actor)
    with transaction.atomic():
        services.order_update(order=number, changes=changes, actor=request.actor, reason=reason)
        return selectors.order_detail(number, actor=request.actor)


@router.post("/{number}/lines", auth=requires("orders.edit_lines"), response={200: OrderOut, **ERRORS, 409: BlockedOut})
def change_lines(request: ActorRequest, number: OrderNumber, payload: LinesChangeIn) -> Status:
    """Add, remove and change lines in one transaction, as version n+1 with a snapshot, while
    the order's stage allows edits. Stock the order holds follows the new quantities (freed or
    reserved; never more than is free) and the current stage's guards must still pass.

    422: a change naming a line the order lacks, an unknown SKU or unit, a quantity ≤ 0, every
    line removed — each named in `errors[].field` (`changes[2].qty`). 403 `price_not_allowed`:
    a price other than the standard one without the price permission
    (`changes[i].unit_price`). 409 (the order and its reasons): `not_editable` (closed, final
    or a stage that locks edits), `stock_short`, `blocked` (a guard of the current stage),
    `no_change`."""
    changes = [services.LineChange(op=c.op, line_no=c.line_no, sku=c.sku, qty=c.qty, unit=c.unit,
                                   unit_price=c.unit_price, remarks=c.remarks) for c in payload.changes]

    def run() -> services.TransitionResult:
        order = services.order_lines_change(order=number, changes=changes, actor=request.actor,
                                            reason=payload.reason)
        return services.TransitionResult(order, True)

    return _moved(request, number, run)


@router.post("/{number}/restore", auth=requires("orders.edit_lines"), response={200: OrderOut, **ERRORS, 409: BlockedOut})
def restore(request: ActorRequest, number: OrderNumber, payload: RestoreIn) -> Status:
    """Make an earlier snapshot (`version`, from `GET /api/orders/{number}/snapshots`) the
    order's next version: its header, ship-to, dates and lines, through the line edit (stock
    follows the restored quantities; the current stage's guards must pass; prices other than
    the standard need the price permission). Earlier snapshots stay as they are. Needs both
    line and header edits (`orders.edit_lines`, `orders.update`).

    404: no such snapshot; 422: not an earlier version; 403: a price the caller may not set;
    409 (the order and its reasons): `not_editable`, `stock_short`, `blocked`, `no_change`,
    `snapshot_edited` (its content no longer matches its SHA-256)."""

    def run() -> services.TransitionResult:
        order = services.order_restore(order=number, version=payload.version, actor=request.actor,
                                       reason=payload.reason)
        return services.TransitionResult(order, True)

    return _moved(request, number, run)


def _moved(request: ActorRequest, number: str,
           move: Callable[[], services.TransitionResult]) -> Status:
    """Run a move; every 409 has one shape (``BlockedOut``): the reasons and the order."""
    selectors.check_visible(number, request.actor)
    try:
        with transaction.atomic():
            result = move()
            if result.ok:
                return Status(200, selectors.order_detail(result.order.number, actor=request.actor))
    except DomainError as exc:
        if exc.status != 409:
            raise
        reasons = [p.as_dict() for p in exc.problems] or [{"code": exc.code, "message": exc.message}]
        return Status(409, {"code": exc.code, "message": exc.message,
                            "order": selectors.order_detail(number, actor=request.actor), "reasons": reasons})
    reasons = [r.as_dict() for r in result.reasons]
    return Status(409, {"code": "blocked", "message": reasons[0]["message"],
                        "order": selectors.order_detail(result.order.number, actor=request.actor),
                        "reasons": reasons})


MOVE_RESPONSES = {200: OrderOut, **ERRORS, 409: BlockedOut}


@router.post("/{number}/transition", auth=requires("orders.move"), response=MOVE_RESPONSES)
def transition(request: ActorRequest, number: OrderNumber, payload: TransitionIn) -> Status:
    """Move to the next stage. Blocked moves answer 409 with every reason.

    422: `to` is not a stage code (lower-case letters, digits, `_`) or not a stage of the order's
    workflow. 409 (always the order and its reasons): `blocked` by guards or a hold,
    `order_closed`, `invalid_transition` (not a next stage of the current one)."""
    return _moved(request, number, lambda: services.order_transition(
        order=number, to=payload.to, actor=request.actor, reason=payload.reason))


@router.post("/{number}/override", auth=requires("orders.override"), response=MOVE_RESPONSES)
def override(request: ActorRequest, number: OrderNumber, payload: OverrideIn) -> Status:
    """Force past the guards: needs the override permission and a reason; audited and flagged.

    422: `reason` missing or blank, `to` not a stage of the workflow. 409 as for a transition."""
    return _moved(request, number, lambda: services.order_override(
        order=number, to=payload.to, actor=request.actor, reason=payload.reason))


@router.post("/{number}/hold", auth=requires("orders.hold"), response={200: OrderOut, **ERRORS})
def hold(request: ActorRequest, number: OrderNumber, payload: RequiredReasonIn) -> dict[str, Any]:
    """Take the order out of the flow until resumed. 422: `reason` missing or blank;
    409: the order is closed or already on hold."""
    selectors.check_visible(number, request.actor)
    with transaction.atomic():
        services.order_hold(order=number, actor=request.actor, reason=payload.reason)
        return selectors.order_detail(number, actor=request.actor)


@router.post("/{number}/resume", auth=requires("orders.hold"), response={200: OrderOut, **ERRORS})
def resume(request: ActorRequest, number: OrderNumber, payload: ReasonIn) -> dict[str, Any]:
    """409: the order is not on hold."""
    selectors.check_visible(number, request.actor)
    with transaction.atomic():
        services.order_resume(order=number, actor=request.actor, reason=payload.reason)
        return selectors.order_detail(number, actor=request.actor)


@router.post("/{number}/cancel", auth=requires("orders.cancel"), response={200: OrderOut, **ERRORS})
def cancel(request: ActorRequest, number: OrderNumber, payload: RequiredReasonIn) -> dict[str, Any]:
    """Cancel the order and release its stock. 422: `reason` missing or blank; 409: the order is
    already closed."""
    selectors.check_visible(number, request.actor)
    with transaction.atomic():
        services.order_cancel(order=number, actor=request.actor, reason=payload.reason)
        return selectors.order_detail(number, actor=request.actor)


@router.get("/{number}/events", auth=requires("orders.view"), response={200: list[EventOut], **ERRORS})
def events(request: ActorRequest, number: OrderNumber) -> list[dict[str, Any]]:
    """The order's history; `ip` and `user_agent` only for roles that may see them
    (`orders.view_events_forensics`), otherwise null and empty."""
    return selectors.order_events(selectors.get_order(number, actor=request.actor), actor=request.actor)


@router.get("/{number}/snapshots", auth=requires("orders.view"), response={200: list[SnapshotOut], **ERRORS})
def snapshots(request: ActorRequest, number: OrderNumber) -> list[dict[str, Any]]:
    return selectors.order_snapshots(selectors.get_order(number, actor=request.actor))


# Mounted at /api/workflows beside the workflow app's own routes: trying a stage's checks needs
# an order, and orders sit above workflows.
workflow_checks = Router(tags=["workflows"])


@workflow_checks.post("/{code}/guard-test", auth=requires("workflow.change"),
                      response={200: GuardTestOut, **ERRORS})
def guard_test(request: ActorRequest, code: WorkflowCode, payload: GuardTestIn) -> dict[str, Any]:
    """Try the checks of `stage` (the current version's, or `guards` as drafted) on `order`
    without moving it: `passed`, every reason it would be blocked, and the order facts the checks
    read. Nothing is written. 404: unknown workflow, stage or order (or one the caller may not
    see); 422: a drafted check that would be refused on save, named by place (`guards[1].expr`)."""
    guards = None if payload.guards is None else [g.model_dump(exclude_none=True) for g in payload.guards]
    result = guards_test(number=payload.order, workflow=code, stage=payload.stage, guards=guards,
                         actor=request.actor)
    return {**result.__dict__, "reasons": [p.as_dict() for p in result.reasons]}

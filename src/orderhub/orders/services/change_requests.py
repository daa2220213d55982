"""Change requests with approval (issue 15.2): a proposed change of an order's header and lines,
its impact computed when raised, approved or rejected by the roles the workflow names for the
order's stage; while one is pending the order is frozen (``editing.frozen_refusal``).

Raising and deciding each run in one transaction under the order's lock (the order row first,
then the request's row, as every order service takes them): two approvers acting at once are
serialised, and the last approval applies the change as the order's next version through the
line edit (``lines._Edit`` and ``lines._write``: stock rebalanced, guards checked, snapshot),
with the header fields as ``order_update`` sets them (``apply_header``). The service takes an
``Actor``: staff pages and the API call it today, the customer portal can tomorrow."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.selectors import master_data
from orderhub.core import clock
from orderhub.core.actors import CUSTOMER, Actor
from orderhub.core.errors import DomainError, NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.permissions import allowed
from orderhub.core.roles import ROLES
from orderhub.core.text import text_fault
from orderhub.workflow.services import compiled
from orderhub.workflow.spec import CompiledWorkflow

from .. import events
from ..editing import edit_refusal
from ..locks import lock_order_with_lines
from ..models import ChangeRequest, Order, OrderLine, Ticket
from .change_impact import change_impact
from .changes import apply_header, clean_header
from .common import next_event
from .lines import Extra, LineChange, _check_prices, _Edit, _write
from .tickets import close_ticket, ticket_open

TICKET_KIND = "change_request"
LINE_FIELDS = ("op", "line_no", "sku", "qty", "unit", "unit_price", "remarks")


def approvers_for(wf: CompiledWorkflow, stage: str, *, amount_changes: bool) -> list[str]:
    """The roles that approve a change at ``stage``: its ``change_approvers`` (default: its
    owner role), plus the workflow's ``change_amount_approvers`` when the total changes."""
    spec = wf.stage(stage).spec
    roles = list(spec.change_approvers if spec.change_approvers is not None else [spec.owner_role])
    if amount_changes:
        roles += [r for r in wf.spec.change_amount_approvers if r not in roles]
    return roles


def _lines_json(changes: list[LineChange]) -> list[dict[str, Any]]:
    out = []
    for ch in changes:
        item = {k: getattr(ch, k) for k in LINE_FIELDS if getattr(ch, k) not in (None, "")}
        out.append({k: str(v) if isinstance(v, Decimal) else v for k, v in item.items()})
    return out


def _lines_back(rows: list[dict[str, Any]]) -> list[LineChange]:
    def dec(v: Any) -> Decimal | None:
        return None if v is None else Decimal(str(v))
    return [LineChange(op=r["op"], line_no=r.get("line_no"), sku=r.get("sku", ""), qty=dec(r.get("qty")),
                       unit=r.get("unit"), unit_price=dec(r.get("unit_price")), remarks=r.get("remarks"))
            for r in rows]


def _header_back(header: dict[str, Any]) -> dict[str, Any]:
    return {k: (date.fromisoformat(v) if k in ("required_date", "promised_date") and isinstance(v, str) else v)
            for k, v in header.items()}


def _text(value: str, name: str) -> None:
    fault = text_fault(value, multiline=True)
    if fault:
        raise ValidationFailed("invalid", str(fault), problems=[Problem("invalid_text", str(fault), field=name)])


def _notify_roles(order: Order, wf: CompiledWorkflow, approvers: list[str], header: dict[str, Any],
                  impact: dict[str, Any]) -> list[str]:
    """Who owns work the change affects: the current stage's owner, the approvers, planning
    (dates and lines), purchasing (material short), the warehouse (stock held or ship-to)."""
    roles = [wf.stage(order.stage).spec.owner_role, *approvers]
    if impact["lines"] or "required_date" in header or "promised_date" in header:
        roles.append("planner")
    if impact["kitting"] or any(p["short"] != "0" for p in impact["stock"]["products"]):
        roles.append("purchaser")
    if impact["stock"]["holds_stock"] or any(k.startswith("ship_to") for k in header):
        roles.append("warehouse")
    return list(dict.fromkeys(roles))


def change_request_raise(*, order: Order | str, actor: Actor, header: dict[str, Any] | None = None,
                         lines: list[LineChange] | None = None, reason: str = "",
                         customer_id: int | None = None) -> ChangeRequest:
    """Propose header changes (as ``order_update`` takes them) and line changes (as
    ``order_lines_change`` takes them) on an order whose stage allows edits. Validated as those
    would validate them (prices by the requester's price permission); the impact is computed
    and kept; the approvers are fixed from the order's stage; the order is frozen until the
    request is decided; the owners of affected work are told, and a ``change_request`` ticket
    (when the workflow defines that kind) carries the escalation ladder.

    A customer (the portal's contact actor, kind ``customer``) may ask for a change of its own
    orders only: ``customer_id`` is its customer, and any other order does not exist (404)."""
    if actor.kind == CUSTOMER:
        if customer_id is None:
            raise PermissionDenied("permission_denied", _("You may not request changes to orders."))
    elif not allowed(actor, "orders.change_request"):
        raise PermissionDenied("permission_denied", _("You may not request changes to orders."))
    _text(reason, "reason")
    header, changes = dict(header or {}), list(lines or [])
    number = order if isinstance(order, str) else order.number
    header = clean_header(number, header) if header else {}
    with transaction.atomic():
        locked, current = lock_order_with_lines(number)
        if actor.kind == CUSTOMER and locked.customer_id != customer_id:
            raise NotFound("not_found", _("This order was not found."))
        wf = compiled(locked.workflow_id)
        refusal = edit_refusal(locked, wf)
        if refusal:
            raise DomainError("not_editable", refusal, status=409)
        edit = _Edit(locked, current, master_data(
            skus=[c.sku for c in changes if c.op == "add"] + [ln.product.sku for ln in current]))
        edit.apply(changes, allow_empty=True)
        _check_prices(actor, locked, edit)
        header_diff = apply_header(copy.copy(locked), header)   # a copy: the order itself is not changed
        if not (header_diff or edit.summary()):
            raise DomainError("no_change", _("There is nothing to change."), status=409)
        impact = change_impact(locked, edit, header_diff, wf)
        approvers = approvers_for(wf, locked.stage, amount_changes=impact["credit"]["amount_changes"])
        impact["notify_roles"] = notify = _notify_roles(locked, wf, approvers, header_diff, impact)
        now = clock.now()
        request = ChangeRequest.objects.create(
            order=locked, header={k: v[1] for k, v in header_diff.items()}, lines=_lines_json(changes),
            reason=reason.strip(), impact=impact, base_version=locked.version, approvers=approvers,
            requested_by=actor.label[:150], requested_by_user=actor.user, requested_at=now)
        ev = next_event(locked, action=events.ORDER_CHANGE_REQUESTED, actor=actor, now=now, reason=reason,
                        data={"request": request.pk, "header": header_diff, "lines": impact["lines"],
                              "approvers": approvers, "notify_roles": notify, "impact": impact})
        locked.save(update_fields=["audit_seq", "audit_head"])
        ev.save(force_insert=True)
        events.order_change_requested(order=locked, actor=actor, at=now, event=ev, request=request)
        if TICKET_KIND in wf.tickets:
            request.ticket = ticket_open(order=number, kind=TICKET_KIND, source="change_request",
                                         actor=Actor.system("customer portal") if actor.kind == CUSTOMER else actor,
                                         title=_("Change request #%(id)s awaits approval") % {"id": request.pk},
                                         body=reason)
            request.save(update_fields=["ticket"])
        return request


def pending_roles(request: ChangeRequest) -> list[str]:
    """The approver roles that have not decided yet."""
    done = {d["role"] for d in request.decisions}
    return [r for r in request.approvers if r not in done]


def change_request_decide(*, request: ChangeRequest | int, approve: bool, comment: str, actor: Actor,
                          role: str | None = None) -> ChangeRequest:
    """One approver role's decision, with a comment: ``role`` (default: the first undecided
    approver role the actor may act for). A rejection closes the request (the requester is
    told why); the last approval applies it as the order's next version (409 with the reason
    when stock or a guard no longer allows it: nothing is recorded then)."""
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed("invalid", _("A decision needs a comment."),
                               problems=[Problem("required", _("A decision needs a comment."), field="comment")])
    _text(comment, "comment")
    pk = request if isinstance(request, int) else request.pk
    number = ChangeRequest.objects.filter(pk=pk).values_list("order__number", flat=True).first()
    if number is None:
        raise NotFound("change_request_not_found", _("Change request %(id)s does not exist.") % {"id": pk})
    with transaction.atomic():
        locked, current = lock_order_with_lines(number)
        cr = ChangeRequest.objects.select_for_update().get(pk=pk)
        if cr.status != ChangeRequest.Status.PENDING:
            raise DomainError("change_request_decided", _("This change request has already been decided."), status=409)
        open_roles = pending_roles(cr)
        mine = [r for r in open_roles if actor.may_act_for_role(r)]
        if role is not None:
            mine = [r for r in mine if r == role]
        if not mine:
            if any(actor.may_act_for_role(r) for r in cr.approvers):
                raise DomainError("already_decided", _("Your role has already decided on this change request."),
                                  status=409)
            raise PermissionDenied("permission_denied", _("This change request is decided by these roles: %(roles)s.")
                                   % {"roles": "、".join(str(ROLES.get(r, r)) for r in cr.approvers)})
        now = clock.now()
        decision = "approved" if approve else "rejected"
        cr.decisions = [*cr.decisions, {"role": mine[0], "decision": decision, "by": actor.label[:150],
                                        "comment": comment, "at": now.isoformat()}]
        ev = next_event(locked, action=events.ORDER_CHANGE_DECIDED, actor=actor, now=now, reason=comment,
                        data={"request": cr.pk, "role": mine[0], "decision": decision, "comment": comment})
        locked.save(update_fields=["audit_seq", "audit_head"])
        ev.save(force_insert=True)
        if not approve:
            _reject(locked, cr, actor, mine[0], comment, now)
        elif not pending_roles(cr):
            _apply(locked, current, cr, actor, now)
        cr.save(update_fields=["decisions", "status", "decided_at", "applied_version"])
        return cr


def _close_ticket(locked: Order, cr: ChangeRequest, actor: Actor, resolution: str) -> None:
    if cr.ticket_id is None:
        return
    ticket = Ticket.objects.select_for_update().get(pk=cr.ticket_id)
    if ticket.status == Ticket.Status.OPEN:
        close_ticket(locked, ticket, resolution, actor)


def _reject(locked: Order, cr: ChangeRequest, actor: Actor, role: str, comment: str, now: Any) -> None:
    cr.status, cr.decided_at = ChangeRequest.Status.REJECTED, now
    ev = next_event(locked, action=events.ORDER_CHANGE_REJECTED, actor=actor, now=now, reason=comment,
                    data={"request": cr.pk, "role": role, "comment": comment,
                          "requested_by": cr.requested_by, "requested_by_user": cr.requested_by_user_id})
    locked.save(update_fields=["audit_seq", "audit_head"])
    ev.save(force_insert=True)
    events.order_change_rejected(order=locked, actor=actor, at=now, event=ev, request=cr)
    _close_ticket(locked, cr, actor, _("Rejected: %(comment)s") % {"comment": comment})


def _apply(locked: Order, current: list[OrderLine], cr: ChangeRequest, actor: Actor, now: Any) -> None:
    """Every proposed change as one new version: the line edit with the header fields."""
    wf = compiled(locked.workflow_id)
    refusal = edit_refusal(locked, wf, frozen_ok=True)
    if refusal:
        raise DomainError("not_editable", refusal, status=409)
    changes = _lines_back(cr.lines)
    edit = _Edit(locked, current, master_data(
        skus=[c.sku for c in changes if c.op == "add"] + [ln.product.sku for ln in current]))
    edit.apply(changes, allow_empty=True)
    header = apply_header(locked, clean_header(locked, _header_back(cr.header)))
    cr.status, cr.decided_at = ChangeRequest.Status.APPROVED, now
    _write(locked, edit, wf, actor=actor, now=now, reason=cr.reason,
           extra=Extra(events.ORDER_CHANGE_APPLIED, header,
                       {"request": cr.pk, "requested_by": cr.requested_by,
                        "notify_roles": (cr.impact or {}).get("notify_roles") or cr.approvers}))
    cr.applied_version = locked.version
    _close_ticket(locked, cr, actor, _("Approved; in effect as version %(v)s.") % {"v": locked.version})

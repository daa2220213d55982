"""Reading change requests: as JSON for the API and as rows for the pages (one shape)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.core.errors import NotFound

from .models import ChangeRequest
from .selectors import check_visible
from .services.change_requests import pending_roles


def change_request_dict(cr: ChangeRequest, actor: Actor | None = None) -> dict[str, Any]:
    """The request with its impact, approvers, decisions, and which roles are still to decide
    (``may_decide``: those of them ``actor`` may act for)."""
    waiting = pending_roles(cr) if cr.status == ChangeRequest.Status.PENDING else []
    return {
        "id": cr.pk, "order": cr.order.number, "status": cr.status, "header": cr.header, "lines": cr.lines,
        "reason": cr.reason, "impact": cr.impact, "base_version": cr.base_version,
        "approvers": cr.approvers, "pending_roles": waiting,
        "may_decide": [r for r in waiting if actor is not None and actor.may_act_for_role(r)],
        "decisions": cr.decisions, "requested_by": cr.requested_by, "requested_at": cr.requested_at,
        "decided_at": cr.decided_at, "applied_version": cr.applied_version, "ticket": cr.ticket_id,
    }


def change_requests_of(number: str, actor: Actor) -> list[dict[str, Any]]:
    check_visible(number, actor)
    rows = ChangeRequest.objects.filter(order__number=number).select_related("order")
    return [change_request_dict(cr, actor) for cr in rows]


def change_request_of(number: str, pk: int, actor: Actor) -> dict[str, Any]:
    check_visible(number, actor)
    cr = ChangeRequest.objects.filter(order__number=number, pk=pk).select_related("order").first()
    if cr is None:
        raise NotFound("change_request_not_found", _("Change request %(id)s does not exist.") % {"id": pk})
    return change_request_dict(cr, actor)

"""Whether an order may still be edited: one rule, read by the order service, its pages and
the API."""

from __future__ import annotations

from django.utils.translation import gettext as _

from orderhub.workflow.services import compiled
from orderhub.workflow.spec import CompiledWorkflow

from .models import ChangeRequest, Order


def pending_change_request(order: Order) -> int | None:
    """The id of the order's pending change request, if one is pending (the order is frozen)."""
    return (ChangeRequest.objects.filter(order_id=order.pk, status=ChangeRequest.Status.PENDING)
            .values_list("pk", flat=True).first())


def pending_change_requests(order_ids: list[int]) -> dict[int, int]:
    """{order id: its pending change request's id} for the orders of a batch, in one query."""
    return dict(ChangeRequest.objects.filter(order_id__in=order_ids, status=ChangeRequest.Status.PENDING)
                .values_list("order_id", "pk"))


def frozen_refusal(order: Order, pending: int | None = -1) -> str | None:
    """Why ``order`` may not move or change now because a change request awaits approval
    ("变更审批中"), or None. ``pending``: the pending request's id when the caller read it
    already (a batch: ``pending_change_requests``), None for none; read here otherwise."""
    if pending == -1:
        pending = pending_change_request(order)
    if pending is None:
        return None
    return _("Change awaiting approval: until change request #%(id)s is approved or rejected, the order cannot move or be edited.") % {"id": pending}


def edit_refusal(order: Order, wf: CompiledWorkflow | None = None, *, frozen_ok: bool = False) -> str | None:
    """Why ``order``'s header and ship-to cannot be edited now (in words for its page), or
    None while they can: a closed order, a final stage, or a stage flagged ``locks_edits``
    (e.g. shipped) locks them, and so does a pending change request (unless ``frozen_ok``:
    applying that request)."""
    if order.status != Order.Status.OPEN:
        return _("The order is %(status)s; a closed order can no longer be changed.") % {
            "status": order.get_status_display()}
    stage = (wf or compiled(order.workflow_id)).stage(order.stage).spec
    if stage.final or stage.locks_edits:
        return _("The order is at stage %(stage)s; from that stage on it can no longer be changed.") % {
            "stage": stage.name}
    return None if frozen_ok else frozen_refusal(order)

"""Whether an order may still be edited: one rule, read by the order service, its pages and
the API."""

from __future__ import annotations

from django.utils.translation import gettext as _

from orderhub.workflow.services import compiled
from orderhub.workflow.spec import CompiledWorkflow

from .models import Order


def edit_refusal(order: Order, wf: CompiledWorkflow | None = None) -> str | None:
    """Why ``order``'s header and ship-to cannot be edited now (in words for its page), or
    None while they can: a closed order, a final stage, or a stage flagged ``locks_edits``
    (e.g. shipped) locks them."""
    if order.status != Order.Status.OPEN:
        return _("The order is %(status)s; a closed order can no longer be changed.") % {
            "status": order.get_status_display()}
    stage = (wf or compiled(order.workflow_id)).stage(order.stage).spec
    if stage.final or stage.locks_edits:
        return _("The order is at stage %(stage)s; from that stage on it can no longer be changed.") % {
            "stage": stage.name}
    return None

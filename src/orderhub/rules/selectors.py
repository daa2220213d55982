"""Reads for the pages: an order's due state, ladder rungs and tickets; rules, firings, tickets."""

from __future__ import annotations

from typing import Any

from orderhub.core import clock
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.roles import ROLES
from orderhub.orders.models import EscalationStep, Order, StageInstance, Ticket
from orderhub.workflow.services import compiled

from .timing import due_state


def stage_due_state(order: Order, inst: StageInstance | None, *, now=None) -> str:
    """on_track / due_soon / overdue / none for the order's open stage instance."""
    if inst is None or order.status != Order.Status.OPEN:
        return "none"
    wf = compiled(order.workflow_id)
    stage = wf.stages.get(inst.stage)
    business = not (stage and stage.spec.deadline and stage.spec.deadline.hours is not None)
    return due_state(get_business_calendar(), entered=inst.entered_at, due=inst.due_at,
                     now=now or clock.now(), soon=wf.due_soon(inst.stage), business=business,
                     overdue_at=inst.overdue_at)


def order_alerts(order: Order) -> dict[str, Any]:
    """What the order page shows about deadlines and escalation: three queries."""
    wf = compiled(order.workflow_id)
    inst = (StageInstance.objects.filter(order=order, exited_at__isnull=True)
            .order_by("-entered_at", "-pk").first())
    steps = list(EscalationStep.objects.filter(order=order).select_related("stage_instance", "ticket")
                 .order_by("fire_at", "seq"))
    for s in steps:
        if s.stage_instance_id:
            st = wf.stages.get(s.stage_instance.stage)
            s.where = st.spec.name if st else s.stage_instance.stage
        else:
            s.where = s.ticket.title
    tickets = list(Ticket.objects.filter(order=order).order_by("-opened_at"))
    return {"due_state": stage_due_state(order, inst), "escalation_steps": steps, "tickets": tickets,
            "ticket_kinds": [{"code": k, "name": v.spec.name} for k, v in wf.tickets.items()
                             # shop-floor tickets (kind floor) have their own page: /tickets/new/
                             if k not in ("exception", "floor")],
            "roles": list(ROLES.items())}

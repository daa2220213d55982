"""Recomputing open deadlines after the business calendar changed (an official schedule was
imported for a year the library only estimated): each open stage whose deadline counts working
hours gets the deadline the new calendar gives, audited on its order."""

from __future__ import annotations

from datetime import date, datetime, time

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import PermissionDenied
from orderhub.workflow.services import compiled

from .. import events
from ..locks import lock_order
from ..models import Order, StageInstance
from ..store import write_order_change
from .common import next_event
from .stages import due_at


def order_deadlines_recompute(*, actor: Actor, since: date | None = None, reason: str = "") -> list[str]:
    """Recompute the deadline of every open stage that runs into ``since`` or later (every
    open stage when None). Returns the numbers of the orders whose deadline moved."""
    if not actor.has_perm("core.change_calendaroverride"):
        raise PermissionDenied("permission_denied", _("You may not change the business calendar."))
    open_stages = StageInstance.objects.filter(exited_at__isnull=True, due_at__isnull=False,
                                               order__status=Order.Status.OPEN)
    if since is not None:
        open_stages = open_stages.filter(due_at__gte=datetime.combine(since, time.min, tzinfo=clock.now().tzinfo))
    moved: list[str] = []
    for order_id in open_stages.order_by("order_id").values_list("order_id", flat=True).distinct():
        with transaction.atomic():
            number = Order.objects.filter(pk=order_id).values_list("number", flat=True).first()
            if number is None:
                continue
            order = lock_order(number)
            inst = StageInstance.objects.filter(order=order, exited_at__isnull=True).order_by("-entered_at").first()
            if inst is None or inst.due_at is None:
                continue
            stage = compiled(order.workflow_id).stage(inst.stage)
            if stage.spec.deadline is None or stage.spec.deadline.business_hours is None:
                continue
            new = due_at(stage, inst.entered_at)
            if new is None or new == inst.due_at:
                continue
            now = clock.now()
            before = inst.due_at
            StageInstance.objects.filter(pk=inst.pk).update(due_at=new)
            order.stage_due_at = new
            order.version += 1
            order.updated_at = now
            ev = next_event(order, action=events.ORDER_DEADLINE_RECOMPUTED, actor=actor, now=now,
                            reason=reason or _("business calendar changed"),
                            changes={"stage_due_at": [before.isoformat(), new.isoformat()],
                                     "version": [order.version - 1, order.version]},
                            data={"stage": inst.stage})
            write_order_change(order, None, event=ev)
            moved.append(order.number)
    return moved

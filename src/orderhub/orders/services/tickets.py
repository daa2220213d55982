"""Tickets beside an order's flow (exceptions, customer change requests): opened and resolved
here only, each an event in the order's history, published to the order hooks (the escalation
ladder of the ticket's kind is materialised and cancelled by the ladder subscriber)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.errors import DomainError, NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.roles import ROLES
from orderhub.core.text import unstorable
from orderhub.workflow.services import compiled

from .. import events
from ..locks import lock_order
from ..models import Order, Ticket
from .common import next_event


def _required(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("invalid", message, problems=[Problem("required", message, field=field)])


def ticket_open(*, order: Order | str, kind: str, title: str, actor: Actor, body: str = "",
                owner_role: str | None = None, business_hours: Decimal | None = None,
                source: str = "", extra: dict[str, object] | None = None) -> Ticket:
    """Open a ticket on ``order``. A kind the order's workflow defines (``tickets:``) gives the
    owner role, deadline and escalation ladder; other kinds need ``owner_role`` (and may give
    ``business_hours`` for the deadline). ``extra``: more facts for the event's data (what a
    shop-floor ticket records: problem type, severity, photos)."""
    if not (actor.has_perm("orders.view_order")):
        raise PermissionDenied("permission_denied", _("You may not open tickets."))
    title = (title or "").strip()
    if not title:
        raise _required("title", _("A ticket needs a title."))
    if unstorable(title) or unstorable(body or ""):
        raise ValidationFailed("invalid", _("The text contains characters that cannot be stored."),
                               problems=[Problem("invalid", _("Invalid text."), field="title")])
    number = order if isinstance(order, str) else order.number
    with transaction.atomic():
        locked = lock_order(number)
        wf = compiled(locked.workflow_id)
        known = wf.tickets.get(kind)
        role = owner_role or (known.spec.owner_role if known else None)
        if not role:
            raise _required("owner_role", _("Ticket kind '%(kind)s' is not defined by the workflow: give an owner role.")
                            % {"kind": kind})
        if role not in ROLES:
            raise ValidationFailed("invalid", _("Unknown role '%(role)s'.") % {"role": role},
                                   problems=[Problem("invalid", _("Unknown role."), field="owner_role")])
        now = clock.now()
        cal = get_business_calendar()
        due: datetime | None = None
        if business_hours is not None:
            due = cal.add_business_hours(now, business_hours)
        elif known is not None and known.spec.deadline is not None:
            dl = known.spec.deadline
            if dl.business_hours is not None:
                due = cal.add_business_hours(now, dl.business_hours)
            else:
                assert dl.hours is not None  # a DeadlineSpec holds exactly one of the two
                due = now + timedelta(hours=float(dl.hours))
        ticket = Ticket.objects.create(order=locked, kind=kind[:40], title=title[:200], body=body or "",
                                       owner_role=role, due_at=due, opened_at=now,
                                       opened_by=actor.label[:150])
        data = {"ticket": ticket.pk, "kind": ticket.kind, "title": ticket.title, "owner_role": role,
                "due_at": due, "source": source, **(extra or {})}
        ev = next_event(locked, action=events.TICKET_OPENED, actor=actor, now=now, data=data)
        locked.save(update_fields=["audit_seq", "audit_head"])
        ev.save(force_insert=True)
        events.ticket_opened(order=locked, actor=actor, at=now, event=ev, ticket=ticket)
        return ticket


def ticket_resolve(*, ticket: Ticket | int, resolution: str, actor: Actor,
                   extra: dict[str, object] | None = None) -> Ticket:
    """Close a ticket with its resolution; its pending escalation steps are cancelled. ``extra``:
    more facts for the event's data (a shop-floor ticket's cause and fix)."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise _required("resolution", _("Resolving a ticket needs a resolution."))
    if unstorable(resolution):
        raise ValidationFailed("invalid", _("The text contains characters that cannot be stored."),
                               problems=[Problem("invalid", _("Invalid text."), field="resolution")])
    pk = ticket if isinstance(ticket, int) else ticket.pk
    number = Ticket.objects.filter(pk=pk).values_list("order__number", flat=True).first()
    if number is None:
        raise NotFound("ticket_not_found", _("Ticket %(id)s does not exist.") % {"id": pk})
    with transaction.atomic():
        locked = lock_order(number)
        t = Ticket.objects.select_for_update().get(pk=pk)
        if not actor.may_act_for_role(t.owner_role):
            raise PermissionDenied("permission_denied", _("Only the %(role)s role may resolve this ticket.")
                                   % {"role": t.owner_role})
        if t.status != Ticket.Status.OPEN:
            raise DomainError("ticket_closed", _("The ticket is already resolved."), status=409)
        return close_ticket(locked, t, resolution, actor, extra)


def close_ticket(locked: Order, t: Ticket, resolution: str, actor: Actor,
                 extra: dict[str, object] | None = None) -> Ticket:
    """Resolve the open ticket ``t`` of the locked order ``locked`` (the caller checked who may):
    the event in the order's history, published (its rungs are cancelled)."""
    now = clock.now()
    t.status, t.resolution, t.resolved_at, t.resolved_by = (
        Ticket.Status.RESOLVED, resolution, now, actor.label[:150])
    t.save(update_fields=["status", "resolution", "resolved_at", "resolved_by"])
    ev = next_event(locked, action=events.TICKET_RESOLVED, actor=actor, now=now,
                    changes={"status": ["open", "resolved"]},
                    data={"ticket": t.pk, "kind": t.kind, "title": t.title, "resolution": resolution,
                          **(extra or {})})
    locked.save(update_fields=["audit_seq", "audit_head"])
    ev.save(force_insert=True)
    events.ticket_resolved(order=locked, actor=actor, at=now, event=ev, ticket=t)
    return t

"""Small display helpers for the pages: deadlines, urgency, roles, diffs."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orderhub.core import clock
from orderhub.core.roles import ROLES
from orderhub.orders import events

register = template.Library()


def _span(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)dd %(h)dh") % {"d": days, "h": hours}
    if hours:
        return _("%(h)dh %(m)dm") % {"h": hours, "m": mins}
    return _("%(m)dm") % {"m": mins}


@register.filter
def countdown(due: datetime | None, now: datetime | None = None) -> str:
    """"3h 12m left" or "overdue 2h 5m"; the page script keeps it counting."""
    if due is None:
        return ""
    now = now or clock.now()
    seconds = (due - now).total_seconds()
    if seconds < 0:
        return _("overdue %(t)s") % {"t": _span(seconds)}
    return _("%(t)s left") % {"t": _span(seconds)}


@register.filter
def is_overdue(due: datetime | None, now: datetime | None = None) -> bool:
    return due is not None and due < (now or clock.now())


@register.filter
def iso(value: datetime | None) -> str:
    return timezone.localtime(value).isoformat() if value else ""


@register.filter
def role_label(code: str) -> str:
    return str(ROLES.get(code, code))


URGENCY_CLASS = {"red": "bg-red", "yellow": "bg-yellow", "green": "bg-green"}


@register.filter
def urgency_class(urgency: str) -> str:
    return URGENCY_CLASS.get(urgency, "bg-secondary")


@register.filter
def get_item(mapping, key):
    if mapping is None:
        return None
    return mapping.get(key)


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (pagination, sorting)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


ACTION_LABELS = {
    events.ORDER_CREATED: gettext_lazy("Order created"),
    events.ORDER_TRANSITIONED: gettext_lazy("Moved to the next stage"),
    events.ORDER_FORCED: gettext_lazy("Forced past the guards"),
    events.ORDER_BLOCKED: gettext_lazy("Move blocked"),
    events.ORDER_HELD: gettext_lazy("Put on hold"),
    events.ORDER_RESUMED: gettext_lazy("Resumed"),
    events.ORDER_CANCELLED: gettext_lazy("Cancelled"),
    events.ORDER_UPDATED: gettext_lazy("Changed"),
    events.ORDER_ATTACHMENT_ADDED: gettext_lazy("Attachment added"),
    events.ORDER_ESCALATED: gettext_lazy("Escalated"),
    events.ORDER_DEADLINE_RECOMPUTED: gettext_lazy("Deadline recomputed (calendar changed)"),
    events.TICKET_OPENED: gettext_lazy("Ticket opened"),
    events.TICKET_RESOLVED: gettext_lazy("Ticket resolved"),
}


@register.filter
def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


@register.filter
def is_blocked_move(action: str) -> bool:
    """The event of a move the guards refused (its reasons are listed under it)."""
    return action == events.ORDER_BLOCKED


@register.filter
def field_label(name: str) -> str:
    """An order field's name as people read it ("stage" → 阶段), from the model's verbose names."""
    from orderhub.orders.models import Order
    try:
        return str(Order._meta.get_field(name).verbose_name)
    except Exception:  # not a model field (e.g. a key in event data): show it as it is
        return name


@register.simple_tag
def change_value(field: str, value, stage_names=None) -> str:
    """A before/after value of ``field``: stage names instead of codes, labels of choices."""
    from orderhub.orders.models import Order, Urgency
    if field == "stage" and stage_names and value in stage_names:
        return str(stage_names[value])
    if field == "status" and value in Order.Status.values:
        return str(Order.Status(value).label)
    if field == "urgency" and value in Urgency.values:
        return str(Urgency(value).label)
    if field.endswith("_at") and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return plain(value)
        return date_format(timezone.localtime(moment), "Y-m-d H:i") if timezone.is_aware(moment) else value
    return plain(value)


@register.filter
def plain(value) -> str:
    """A before/after value as people read it: messages of problems, lists joined."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return "；".join(plain(v) for v in value)
    if isinstance(value, dict):
        if "message" in value:
            return str(value["message"])
        return "，".join(f"{k}: {plain(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)

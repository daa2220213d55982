"""Small display helpers for the pages: deadlines, urgency, roles, diffs."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.roles import ROLES
from orderhub.orders import events
from orderhub.orders.models import Order, OrderLine, Urgency
from orderhub.web import labels

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


@register.filter
def action_label(action: str) -> str:
    return labels.event_label(action)


@register.filter
def event_label(code: str) -> str:
    """An event type (order.created, stage.overdue, rule.notify …) as people read it."""
    return labels.event_label(code)


@register.filter
def ticket_kind(ticket) -> str:
    return labels.ticket_kind_label(ticket)


@register.filter
def actor_text(label: str) -> str:
    return labels.actor_text(label)


@register.filter
def inbound_status_label(code) -> str:
    return labels.inbound_status_label(code)


@register.filter
def channel_label(code: str) -> str:
    return labels.channel_label(code)


@register.filter
def rule_action_label(code: str) -> str:
    return labels.rule_action_label(code)


@register.filter
def trigger_label(code: str) -> str:
    return labels.trigger_label(code)


@register.filter
def tag_label(tag: str) -> str:
    return labels.tag_label(tag)


@register.filter
def fact_label(name: str) -> str:
    return labels.fact_label(name)


@register.simple_tag
def fact_value(name: str, value, stage_names=None) -> str:
    """A value a rule saw (``forced = True`` → 是, ``stage = pending`` → 待确认)."""
    return labels.value_text(value, stage_names=stage_names, name=name)


@register.filter
def is_blocked_move(action: str) -> bool:
    """The event of a move the guards refused (its reasons are listed under it)."""
    return action == events.ORDER_BLOCKED


_LINE_KEY = re.compile(r"^lines\[(\d+)\]\.(\w+)$")


@register.filter
def field_label(name: str) -> str:
    """An order field's name as people read it ("stage" → 阶段), from the model's verbose names;
    a snapshot's flattened keys too ("lines[2].qty" → 第 3 行: 数量, "ship_to.phone" → 收货电话)."""
    line = _LINE_KEY.match(name)
    if line:
        sub = line.group(2)
        try:
            label = _("SKU") if sub == "sku" else str(OrderLine._meta.get_field(sub).verbose_name)
        except Exception:
            label = sub
        return _("Line %(n)s: %(field)s") % {"n": int(line.group(1)) + 1, "field": label}
    if name.startswith("ship_to."):
        name = "ship_to_" + name[len("ship_to."):]
    return labels.order_field_label(name)


@register.simple_tag
def change_value(field: str, value, stage_names=None) -> str:
    """A before/after value of ``field``: stage names instead of codes, labels of choices."""
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
def qty(value) -> str:
    """A quantity without trailing zeros (100.0000 → 100)."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format(number.normalize(), "f") if number else "0"


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

"""Triage at intake: who must be told about an order a triage rule flagged.

A matching rule (shipped: T1, due within 72 h and over 50,000 CNY) sets the order's urgency and
tags it ``triage:<rule>`` before the order is written; once the order exists, in the same
transaction, ``triage_record`` keeps the outcome on the message's link to the order
(``InboundOrder.meta["triage"]``), appends an ``intake.triage_alert`` audit event to the message
naming the rule, the roles and the people, and returns the alerts.

``triage(order=)`` answers the question a notifier asks: whom to alert about this order, and
with which words. The people are the active users holding one of the rule's roles; when nobody
holds them, the managers and administrators, so an alert never goes to no one (``fallback``).
Delivery (DingTalk, e-mail, in-app) belongs to the notification hub; until it is connected the
intake inbox page shows each person the alerts addressed to them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.core.canonical import to_plain
from orderhub.core.roles import ROLES
from orderhub.notify.services import NotifyRequest, Recipient, notify_many
from orderhub.orders.input_filters import Recorder
from orderhub.orders.inputs import OrderInput
from orderhub.orders.models import Order

from .. import events
from ..mapping import Lookups, apply_tag_rules, order_input_total, triage_order_input
from ..models import ConfigVersion, InboundMessage, InboundOrder
from .config import compiled_config, current_config, current_rule_ids, forget_current_rules

FALLBACK_ROLES = ("manager", "admin")


@dataclass(frozen=True)
class TriageAlert:
    """One alert for one order: the rule, the roles it names and the people to tell."""

    rule: str
    order: Order
    message_id: int | None               # None: the order came by no inbound message
    roles: tuple[str, ...]
    recipients: tuple[Any, ...]          # active users (auth.User), ordered by username
    fallback: bool                       # nobody holds the roles: managers/administrators instead
    total: str
    hours_to_due: str
    required_date: str
    label: str = ""                      # what people call the rule (its tag), not its code

    @property
    def usernames(self) -> list[str]:
        return [u.get_username() for u in self.recipients]

    @property
    def subject(self) -> str:
        return _("Urgent large order %(number)s: %(total)s CNY due %(date)s") % {
            "number": self.order.number, "total": self.total, "date": self.required_date}

    @property
    def text(self) -> str:
        roles = "、".join(str(ROLES.get(r, r)) for r in self.roles)
        return _("Order %(number)s for %(customer)s: %(total)s CNY, due %(date)s (%(hours)s h after it was "
                 "placed). Triage rule %(rule)s alerts: %(roles)s.") % {
            "number": self.order.number, "customer": self.order.customer.name or self.order.customer.code,
            "total": self.total, "date": self.required_date, "hours": self.hours_to_due, "rule": self.label or self.rule,
            "roles": roles}


def _people(roles: tuple[str, ...]) -> tuple[tuple[Any, ...], bool]:
    User = get_user_model()
    found = tuple(User.objects.filter(is_active=True, groups__name__in=roles).distinct().order_by("username"))
    if found:
        return found, False
    backup = tuple(User.objects.filter(is_active=True, groups__name__in=FALLBACK_ROLES).distinct()
                   .order_by("username"))
    return backup, True


def _rule_labels() -> dict[str, str]:
    """Triage rule code → what people call it (its tag, else its code)."""
    version = current_config("triage", "default")
    return {r.spec.code: r.spec.tag or r.spec.code for r in compiled_config(version)} if version else {}


def _alerts(order: Order, message_id: int | None, raw: list[dict[str, Any]]) -> list[TriageAlert]:
    out = []
    names = _rule_labels() if raw else {}
    for a in raw:
        roles = tuple(a.get("roles") or ())
        if not roles:
            continue
        people, fallback = _people(roles)
        out.append(TriageAlert(rule=a["rule"], order=order, message_id=message_id, roles=roles,
                               recipients=people, fallback=fallback, total=a.get("total", ""),
                               hours_to_due=a.get("hours_to_due", ""), required_date=a.get("required_date", ""),
                               label=a.get("label") or names.get(a["rule"], a["rule"])))
    return out


def triage_input(data: OrderInput, *, base_time: datetime) -> tuple[OrderInput, list[dict[str, Any]]]:
    """Triage an order input that did not come through a mapping (a confirmed OCR draft, a quick
    order) with the current triage rules: no query when no rule is configured."""
    version = current_config("triage", "default")
    rules = compiled_config(version) if version else []
    if not rules:
        return data, []
    lookups = Lookups(data.channel or "")
    customer = lookups.customer_code(data.customer)
    if customer is None:  # the order service refuses it by name
        return data, []
    return triage_order_input(data, customer=customer, total=order_input_total(data, lookups),
                              base_time=base_time, rules=rules)


def triage(*, order: Order | int) -> list[TriageAlert]:
    """Whom to alert about ``order`` (empty when no triage rule flagged it at intake)."""
    pk = order.pk if isinstance(order, Order) else order
    links = list(InboundOrder.objects.filter(order_id=pk, created=True, meta__has_key="triage")
                 .select_related("order__customer"))
    out: list[TriageAlert] = []
    for link in links:
        out.extend(_alerts(link.order, link.message_id, link.meta.get("triage") or []))
    return out


def triage_record(*, message: InboundMessage, order: Order, alerts: list[dict[str, Any]],
                  actor: Actor) -> list[TriageAlert]:
    """Record the alerts of a just-created order (call inside its transaction, after the link
    ``InboundOrder`` with ``meta["triage"]`` is written) and return them.

    The alerts go to the notification hub's outbox in this same transaction (they commit or
    roll back with the order): red, so quiet hours never hold them; to the roles (their people
    and the robots bound to them), or to the managers found instead when nobody holds the roles.
    """
    found = _alerts(order, message.pk, alerts)
    for a in found:
        events.triage_alert(message=message, order=order, actor=actor, alert=_audit_data(a))
    _notify(order, found)
    return found


def triage_record_order(*, order: Order, alerts: list[dict[str, Any]], actor: Actor) -> list[TriageAlert]:
    """``triage_record`` for an order that came by no inbound message (the web form, the API):
    the audit event is kept against the order (``intake_triage`` #order id); same alerts."""
    found = _alerts(order, None, alerts)
    for a in found:
        events.triage_alert_order(order=order, actor=actor, alert=_audit_data(a))
    _notify(order, found)
    return found


def _audit_data(a: TriageAlert) -> dict[str, Any]:
    return {"rule": a.rule, "label": a.label, "roles": list(a.roles), "total": a.total, "hours_to_due": a.hours_to_due,
            "required_date": a.required_date, "recipients": a.usernames, "fallback": a.fallback}


def _notify(order: Order, found: list[TriageAlert]) -> None:
    requests = []
    for a in found:
        to = ([Recipient.user(u.pk) for u in a.recipients] if a.fallback
              else [Recipient.role(r) for r in a.roles])
        if to:
            requests.append(NotifyRequest(
                event=events.TRIAGE_ALERT_MESSAGE, recipients=to, order=order, severity="red",
                context={"subject": a.subject, "message": a.text, "rule": a.rule},
                dedupe_key=f"{events.TRIAGE_ALERT_MESSAGE}:{order.pk}:{a.rule}"))
    if requests:
        notify_many(requests)


def _current_rules() -> tuple[list[Any], list[Any]]:
    """The current tag rules and triage rules, compiled (``config.current_rule_ids``; read
    anew when a remembered version is gone: saved in a transaction that rolled back)."""
    try:
        return _compiled_rules(current_rule_ids())
    except ConfigVersion.DoesNotExist:
        forget_current_rules()
        return _compiled_rules(current_rule_ids())


def _compiled_rules(found: dict[str, int]) -> tuple[list[Any], list[Any]]:
    return ([] if "tags" not in found else compiled_config(found["tags"]),
            [] if "triage" not in found else compiled_config(found["triage"]))


def filter_order_input(data: OrderInput, *, at: datetime) -> tuple[OrderInput, Recorder | None]:
    """The order input filter intake registers (``orders.input_filters``): an order entered by
    the web form or the API gets the remark tags and the triage a mapped order gets, from the
    same rules in the same order (tags first, then triage, counting from ``at``); its alerts
    are recorded once the order exists."""
    tag_rules, triage_rules = _current_rules()
    if tag_rules:
        tags, remarks, urgency = apply_tag_rules(tag_rules, data.remarks, "", list(data.tags), data.urgency)
        data = replace(data, tags=tags, remarks=remarks[:5000], urgency=urgency)
    if not triage_rules:
        return data, None
    lookups = Lookups(data.channel or "")
    customer = lookups.customer_code(data.customer)
    if customer is None:  # the order service refuses it by name
        return data, None
    data, alerts = triage_order_input(data, customer=customer, total=order_input_total(data, lookups),
                                      base_time=at, rules=triage_rules)
    if not alerts:
        return data, None
    plain = to_plain(alerts)

    def record(order: Order, actor: Actor) -> None:
        triage_record_order(order=order, alerts=plain, actor=actor)

    return data, record

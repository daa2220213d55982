"""What people read in place of internal codes: event types, order channels, rule triggers,
actions and the facts a rule saw. Display only (the codes stay the data); every page and
template filter takes its labels from here, so a new code gets its label in one place.

A code without a label is shown as it is; ``tests/e2e/test_every_word.py`` crawls every page
as each role and fails on such a code, which is how a missing label is found."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import FieldDoesNotExist
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orderhub.intake import events as intake_events
from orderhub.intake.models import InboundMessage
from orderhub.notify import events as notify_events
from orderhub.orders import events
from orderhub.orders.models import Order
from orderhub.planning import events as planning_events
from orderhub.purchasing import events as purchasing_events
from orderhub.rules.models import Trigger
from orderhub.shipping import events as shipping_events
from orderhub.workflow.labels import FACT_LABELS
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled

EVENT_LABELS = {
    events.ORDER_CREATED: gettext_lazy("Order created"),
    events.ORDER_TRANSITIONED: gettext_lazy("Moved to the next stage"),
    events.ORDER_FORCED: gettext_lazy("Forced past the guards"),
    events.ORDER_BLOCKED: gettext_lazy("Move blocked"),
    events.ORDER_HELD: gettext_lazy("Put on hold"),
    events.ORDER_RESUMED: gettext_lazy("Resumed"),
    events.ORDER_CANCELLED: gettext_lazy("Cancelled"),
    events.ORDER_UPDATED: gettext_lazy("Changed"),
    events.ORDER_LINES_CHANGED: gettext_lazy("Lines changed"),
    events.ORDER_RESTORED: gettext_lazy("Restored from an earlier version"),
    events.ORDER_CHANGE_REQUESTED: gettext_lazy("Change request (awaiting approval)"),
    events.ORDER_CHANGE_DECIDED: gettext_lazy("Change request decision"),
    events.ORDER_CHANGE_APPLIED: gettext_lazy("Change approved and in effect"),
    events.ORDER_CHANGE_REJECTED: gettext_lazy("Change request rejected"),
    events.ORDER_ATTACHMENT_ADDED: gettext_lazy("Attachment added"),
    events.ORDER_ESCALATED: gettext_lazy("Escalated"),
    events.ORDER_DEADLINE_RECOMPUTED: gettext_lazy("Deadline recomputed (calendar changed)"),
    events.ORDER_RESERVATION_EXPIRED: gettext_lazy("Stock reservation expired and released"),
    events.ORDER_SAFETY_STOCK_LOW: gettext_lazy("A needed product is below safety stock"),
    events.ORDER_BREAKER_TRIPPED: gettext_lazy("Breaker hold"),
    events.ORDER_BREAKER_RESET: gettext_lazy("Breaker reset"),
    purchasing_events.REQUEST_RAISED: gettext_lazy("Raise purchase requests"),
    purchasing_events.REQUEST_APPROVED: gettext_lazy("Approve purchase request"),
    purchasing_events.REQUEST_REJECTED: gettext_lazy("Reject purchase request"),
    purchasing_events.ORDER_PLACED: gettext_lazy("Place purchase order"),
    purchasing_events.GOODS_RECEIVED: gettext_lazy("Receive goods against purchase orders"),
    purchasing_events.SUPPLIER_SAVED: gettext_lazy("Save supplier"),
    purchasing_events.RULE_SAVED: gettext_lazy("Change replenishment rule"),
    events.TICKET_OPENED: gettext_lazy("Ticket opened"),
    events.TICKET_RESOLVED: gettext_lazy("Ticket resolved"),
    events.ORDERS_EXPORTED: gettext_lazy("Orders exported"),
    events.STAGE_ENTERED: gettext_lazy("Stage entered"),
    events.STAGE_OVERDUE: gettext_lazy("Stage overdue"),
    events.ESCALATION: gettext_lazy("Escalation"),
    notify_events.RULE_NOTIFY: gettext_lazy("Rule alert"),
    notify_events.ORDERS_ENTERED: gettext_lazy("Several orders entered a stage"),
    intake_events.RECEIVED: gettext_lazy("Received"),
    intake_events.PARSED: gettext_lazy("Parsed"),
    intake_events.NEEDS_REVIEW: gettext_lazy("Needs review"),
    intake_events.FAILED: gettext_lazy("Failed"),
    intake_events.DUPLICATE: gettext_lazy("Duplicate"),
    intake_events.REJECTED: gettext_lazy("Rejected"),
    intake_events.TRIAGE_ALERT: gettext_lazy("Triage alert"),
    intake_events.TRIAGE_ALERT_MESSAGE: gettext_lazy("Triage alert"),
    intake_events.DRAFT_CONFIRMED: gettext_lazy("Draft confirmed"),
    intake_events.DRAFT_DISCARDED: gettext_lazy("Draft discarded"),
    intake_events.CONFIG_SAVED: gettext_lazy("Intake set-up saved"),
    intake_events.CHANNEL_SAVED: gettext_lazy("Channel saved"),
    intake_events.ALIAS_SET: gettext_lazy("Customer alias set"),
    intake_events.PROFILE_SET: gettext_lazy("Profile set"),
    intake_events.QUICK_LINK_ISSUED: gettext_lazy("Quick-order link issued"),
    intake_events.IMPORT_RESUMED: gettext_lazy("Stalled import resumed"),
    shipping_events.SHIPMENT_CREATED: gettext_lazy("Create shipment"),
    shipping_events.SHIPMENT_SHIPPED: gettext_lazy("Shipped"),
    shipping_events.SHIPPING_NOTICE: gettext_lazy("Shipping notice"),
    shipping_events.ORDER_CONFIRMATION: gettext_lazy("Order confirmation sent"),
    shipping_events.SHIPMENT_POD_ADDED: gettext_lazy("Proof of delivery uploaded"),
    shipping_events.SHIPMENT_ACCEPTED: gettext_lazy("Customer acceptance recorded"),
    shipping_events.LETTERHEAD_SAVED: gettext_lazy("Company letterhead saved"),
    shipping_events.DOCUMENT_TEMPLATE_SAVED: gettext_lazy("Document template saved"),
    planning_events.LINE_SAVED: gettext_lazy("Production line saved"),
    planning_events.RUSH_APPLIED: gettext_lazy("Inserted as a rush order"),
    planning_events.SLIPPED: gettext_lazy("Delivery delay warning"),
    planning_events.DELAYED_BY_RUSH: gettext_lazy("Pushed back by a rush order"),
    planning_events.DELIVERY_RISK: gettext_lazy("Delivery risk warning"),
}


def inbound_status_label(code) -> str:

    if code in InboundMessage.Status.values:
        return str(InboundMessage.Status(code).label)
    return "—" if code in (None, "") else str(code)

# order.channel: how the order came in (intake channels keep their own names)
CHANNEL_LABELS = {
    "web": gettext_lazy("Web form"),
    "api": gettext_lazy("API"),
    "email": gettext_lazy("E-mail"),
    "wechat": gettext_lazy("WeChat"),
    "phone": gettext_lazy("Phone"),
    "quick": gettext_lazy("Quick-order link"),
    "miniprogram": gettext_lazy("WeChat mini program"),
    "taobao": gettext_lazy("Taobao"),
    "douyin": gettext_lazy("Douyin shop"),
    "1688": gettext_lazy("1688"),
    "import": gettext_lazy("File import"),
    "ocr": gettext_lazy("Scanned document"),
}

RULE_ACTION_LABELS = {
    "notify": gettext_lazy("Notify"),
    "add_tag": gettext_lazy("Add a tag"),
    "set_urgency": gettext_lazy("Set urgency"),
    "hold": gettext_lazy("Put on hold"),
    "open_ticket": gettext_lazy("Open a ticket"),
    "webhook": gettext_lazy("Call a webhook"),
}

# the facts a rule or guard sees: the one table is workflow.labels.FACT_LABELS
STAGE_FACTS = frozenset({"stage", "from_stage", "to_stage", "overdue_stage"})


def event_label(code: str) -> str:
    return str(EVENT_LABELS.get(code, code))


def channel_label(code: str) -> str:
    if not code:
        return "—"
    return str(CHANNEL_LABELS.get(code, code))


def rule_action_label(code: str) -> str:
    return str(RULE_ACTION_LABELS.get(code, code))


def trigger_label(code: str) -> str:

    return str(Trigger(code).label) if code in Trigger.values else code


def fact_label(name: str) -> str:
    return str(FACT_LABELS.get(name, name))


def tag_label(tag: str) -> str:
    """A tag as people read it: one '#', and the tags intake's rules add in words
    (``check:<item>`` → 出货前检查：<item>; ``triage:<rule>`` → 进单分级标记)."""
    if tag.startswith("check:"):
        return _("Check before shipping: %(item)s") % {"item": tag[len("check:"):]}
    if tag.startswith("triage:"):
        return _("Flagged at triage")
    return "#" + tag.lstrip("#")


def order_field_label(name: str) -> str:
    """An order field's name as people read it ("on_hold" → 已挂起), from the model's verbose
    names; a name that is no field: its fact label, or as it is."""
    try:
        label = getattr(Order._meta.get_field(name), "verbose_name", None)   # a relation has none
    except FieldDoesNotExist:
        label = None
    return str(label) if label is not None else fact_label(name)


def value_text(value, *, stage_names: dict | None = None, name: str = "") -> str:
    """A value as people read it: yes/no for booleans, stage names for stage codes, local time
    for timestamps, plain digits for numbers, lists joined, — for nothing."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (list, tuple)):
        if name == "changed_fields":   # order fields, by their names
            return "、".join(order_field_label(str(v)) for v in value)
        return "、".join(value_text(v, stage_names=stage_names, name=name) for v in value)
    if isinstance(value, dict):
        if "message" in value:
            return str(value["message"])
        return "，".join(f"{fact_label(k)}: {value_text(v, stage_names=stage_names, name=k)}"
                        for k, v in value.items())
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value) if timezone.is_aware(value) else value,
                                   "Y-m-d H:i")
    if isinstance(value, date):
        return formats.date_format(value, "Y-m-d")
    if isinstance(value, float):
        value = Decimal(str(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    text = str(value)
    if stage_names and (name in STAGE_FACTS or name == "") and text in stage_names:
        return str(stage_names[text])
    if name == "channel":
        return channel_label(text)
    return text


def stage_names_everywhere() -> dict[str, str]:
    """Stage code → name over every current workflow (pages listing several workflows' orders;
    a code two workflows share keeps the first name, by workflow code)."""

    names: dict[str, str] = {}
    for wf in WorkflowDefinition.objects.filter(is_current=True).order_by("code"):
        for code, st in compiled(wf).stages.items():
            names.setdefault(code, str(st.spec.name))
    return names


SYSTEM_ACTORS = {
    "demo-loader": gettext_lazy("demo data"),
    "migration": gettext_lazy("system set-up"),
    "escalation": gettext_lazy("escalation ladder"),
    "rotate_secrets": gettext_lazy("key rotation"),
    "cli:intake": gettext_lazy("command-line import"),
    "system": gettext_lazy("system"),
    "sweep": gettext_lazy("overdue check"),
    "reservation-expiry": gettext_lazy("Reservation expiry job"),
    "import-watchdog": gettext_lazy("automatic import resume"),
}
_ACTOR_PREFIXES = {
    "rule": gettext_lazy("rule %(x)s"),
    "intake": gettext_lazy("intake %(x)s"),
    "webhook": gettext_lazy("webhook %(x)s"),
    "file": gettext_lazy("file import %(x)s"),
    "email": gettext_lazy("e-mail %(x)s"),
    "quick-order": gettext_lazy("quick-order link %(x)s"),
}


def actor_text(label: str) -> str:
    """Who did it, as stored in audit and version rows: a person's user name stays as it is;
    the system's own jobs (``demo-loader``, ``rule:t1_triage``, ``intake:taobao (sales)``) get
    words."""
    if not label:
        return "—"
    label = str(label)
    if label in SYSTEM_ACTORS:
        return str(SYSTEM_ACTORS[label])
    head, sep, rest = label.partition(":") if ":" in label else label.partition(" ")
    if sep and head in _ACTOR_PREFIXES:
        starter = ""
        if rest.endswith(")") and " (" in rest:
            rest, _open, starter = rest[:-1].partition(" (")
        text = str(_ACTOR_PREFIXES[head]) % {"x": f"「{channel_label(rest) if head != 'rule' else rest}」"}
        return f"{text}（{starter}）" if starter else text
    return label


def ticket_kind_label(ticket) -> str:
    """A ticket's kind by the name its order's workflow gives it; a kind opened from the order
    page without one is an exception (异常); any other kind is shown as it was given."""
    from orderhub.workflow.services import compiled

    if ticket.kind == "exception":
        return _("Exception")
    try:
        kinds = compiled(ticket.order.workflow_id).tickets
    except Exception:  # a workflow version that no longer compiles: the kind as given
        return ticket.kind
    kind = kinds.get(ticket.kind)
    if kind is None and ticket.kind == "floor":   # a shop-floor ticket in a workflow without the kind
        return _("Shop-floor exceptions")
    return str(kind.spec.name) if kind is not None else ticket.kind

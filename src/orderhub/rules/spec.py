"""Rules as data: the schema a rule must satisfy, validated on save with the fault named
(``actions[1](set_urgency).value``, ``condition``, ``trigger_arg``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer

from orderhub.core.errors import Problem, ValidationFailed
from orderhub.core.expressions import (
    BOOLEAN,
    STRING,
    STRING_LIST,
    Expression,
    ExpressionError,
    compile_expression,
)
from orderhub.core.roles import ROLES
from orderhub.workflow.spec import ORDER_SYMBOLS

from .models import Trigger

# what a condition may ask beyond the order itself: what just happened
EVENT_SYMBOLS: dict[str, str] = {
    "from_stage": STRING,        # stage left (stage_left, stage_entered after a move)
    "to_stage": STRING,          # stage entered
    "overdue_stage": STRING,     # overdue: the stage whose deadline passed
    "changed_fields": STRING_LIST,
    "added_tags": STRING_LIST,
    "forced": BOOLEAN,           # the move was forced past the guards (an override)
    "held": BOOLEAN,             # the change put the order on hold
}
RULE_SYMBOLS: dict[str, str] = {**ORDER_SYMBOLS, **EVENT_SYMBOLS}

# fields a field_changed rule may watch
WATCHABLE_FIELDS = ("stage", "status", "urgency", "tags", "on_hold", "hold_reason", "required_date",
                    "promised_date", "remarks", "blocked_reasons")
MAX_INTERVAL_MINUTES = 7 * 24 * 60

# the values of notify.models.DeliveryChannel (a rule names channels by their stored code)
DeliveryChannelCode = Literal["email", "dingtalk", "wecom", "sms", "webhook", "inapp"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# the order's own people a notify action may address, resolved per order when it fires
ORDER_PEOPLE: dict[str, Any] = {
    "sales_owner": gettext_lazy("the order's sales owner"),
    "stage_owner": gettext_lazy("the current stage's owner role"),
}
OrderPerson = Literal["sales_owner", "stage_owner"]


class NotifyAction(_Strict):
    type: Literal["notify"]
    roles: list[str] = []
    users: list[str] = []          # usernames
    people: list[OrderPerson] = []   # the order's own people (ORDER_PEOPLE)
    customer: bool = False         # the order's customer (e-mail / mobile)
    channels: list[DeliveryChannelCode] | None = None
    severity: Literal["info", "warning", "red"] = "info"
    message: str = Field(default="", max_length=500)

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if not self.people:   # stored as before people existed: an untouched rule stays the same
            out.pop("people", None)
        return out


class AddTagAction(_Strict):
    type: Literal["add_tag"]
    tag: str = Field(min_length=1, max_length=40)


class SetUrgencyAction(_Strict):
    type: Literal["set_urgency"]
    value: Literal["red", "yellow", "green"]


class HoldAction(_Strict):
    type: Literal["hold"]
    reason: str = Field(min_length=1, max_length=300)


class OpenTicketAction(_Strict):
    type: Literal["open_ticket"]
    title: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="exception", pattern=r"^[a-z][a-z0-9_]{0,39}$")
    owner_role: str | None = None
    business_hours: Decimal | None = Field(default=None, gt=0, le=10000)


class WebhookAction(_Strict):
    type: Literal["webhook"]
    endpoint: str = Field(min_length=1, max_length=64)   # a configured endpoint's code


Action = Annotated[NotifyAction | AddTagAction | SetUrgencyAction | HoldAction | OpenTicketAction
                   | WebhookAction, Field(discriminator="type")]
ORDER_CHANGING = ("add_tag", "set_urgency", "hold", "open_ticket")


class RuleSpec(_Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=300)
    enabled: bool = True
    trigger: Trigger
    trigger_arg: str = Field(default="", max_length=64)
    interval_minutes: int | None = Field(default=None, ge=1, le=MAX_INTERVAL_MINUTES)
    condition: str = ""
    actions: list[Action] = Field(min_length=1)


@dataclass(frozen=True)
class CompiledRule:
    id: int
    name: str
    trigger: str
    arg: str
    condition: Expression | None
    actions: tuple[Any, ...]
    description: str = ""   # what people read (the name is a code)

    @property
    def label(self) -> str:
        return self.description or self.name


def _where(data: dict[str, Any], loc: tuple) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]"
            try:
                node = node[item]
                if isinstance(node, dict) and isinstance(node.get("type"), str):
                    parts[-1] += f"({node['type']})"
            except (IndexError, KeyError, TypeError):
                node = None
        elif item in {"notify", "add_tag", "set_urgency", "hold", "open_ticket", "webhook"} and parts \
                and parts[-1].endswith(")"):
            continue   # the discriminator level pydantic adds
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _field_checks(data: dict[str, Any], fault) -> None:
    """Checks on the rule's own fields, run even when the actions failed their schema, so every
    fault is named at once."""
    trigger = data.get("trigger")
    arg = data.get("trigger_arg") or ""
    if trigger == Trigger.FIELD_CHANGED and arg not in WATCHABLE_FIELDS:
        fault("trigger_arg", _("Unknown field '%(f)s' for a field_changed rule. Known fields: %(known)s.")
              % {"f": arg, "known": ", ".join(WATCHABLE_FIELDS)})
    interval = data.get("interval_minutes")
    if trigger == Trigger.SCHEDULE and interval is None:
        fault("interval_minutes", _("A schedule rule needs an interval in minutes."))
    if trigger in Trigger.values and trigger != Trigger.SCHEDULE and interval is not None:
        fault("interval_minutes", _("Only schedule rules have an interval."))
    actions = data.get("actions")
    for i, act in enumerate(actions if isinstance(actions, list) else []):
        if isinstance(act, dict) and act.get("type") == "notify" and not any(
                act.get(k) for k in ("roles", "users", "people", "customer")):
            fault(f"actions[{i}](notify)", _("A notification needs someone to tell: a role, a user, the "
                                             "order's own people or the customer."))
    condition = data.get("condition") or ""
    if isinstance(condition, str) and condition.strip():
        try:
            compile_expression(condition, RULE_SYMBOLS)
        except ExpressionError as exc:
            fault("condition", _("Bad condition: %(error)s") % {"error": exc})


def _schema_problem(data: dict[str, Any], err: dict[str, Any]) -> Problem:
    where = _where(data, err["loc"])
    if err["type"] == "extra_forbidden":
        msg = _("Unknown field '%(field)s' at %(where)s.") % {"field": err["loc"][-1], "where": where}
    elif err["type"] == "missing":
        msg = _("Required field missing at %(where)s.") % {"where": where}
    elif err["type"] == "union_tag_invalid":
        given = err.get("input", {}).get("type") if isinstance(err.get("input"), dict) else "?"
        msg = _("Unknown action '%(type)s' at %(where)s. Known actions: %(known)s.") % {
            "type": given, "where": where, "known": "notify, add_tag, set_urgency, hold, open_ticket, webhook"}
    elif err["type"] == "too_short" and where == "actions":
        msg = _("A rule needs at least one action.")
    elif err["type"] in ("enum", "literal_error") and where == "trigger":
        msg = _("Unknown trigger '%(t)s'. Known triggers: %(known)s.") % {
            "t": data.get("trigger"), "known": ", ".join(Trigger.values)}
    else:
        msg = _schema_message(err) or f"{where}: {err['msg']}"
    return Problem("invalid_rule", msg, field=where)


def _schema_message(err: dict[str, Any]) -> str:
    """The usual pydantic faults in the page's language (shown under the field they concern)."""
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind == "string_too_short":
        return _("Required: may not be empty.")
    if kind == "string_too_long":
        return _("At most %(n)s characters.") % {"n": ctx.get("max_length")}
    if kind in ("literal_error", "enum"):
        return _("Not one of the allowed values: choose one from the list.")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(ctx.values()), "")
        return {"greater_than": _("Must be greater than %(n)s."), "greater_than_equal": _("Must be at least %(n)s."),
                "less_than": _("Must be less than %(n)s."), "less_than_equal": _("Must be at most %(n)s.")}[kind] % {
            "n": bound}
    if kind == "string_pattern_mismatch":
        return _("Lower-case letters, digits and _, starting with a letter.")
    if kind.endswith(("_parsing", "_type")):
        return _("Not a valid value of this kind.")
    return ""


def validate_rule(data: dict[str, Any]) -> RuleSpec:
    """Validate a rule; raise ValidationFailed listing every fault with the field it is at."""
    problems: list[Problem] = []

    def fault(where: str, message: str) -> None:
        problems.append(Problem("invalid_rule", message, field=where))

    spec = None
    try:
        spec = RuleSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(_schema_problem(data, err) for err in exc.errors())
    if isinstance(data, dict):
        _field_checks(data, fault)
    if spec is not None:
        for i, act in enumerate(spec.actions):
            where = f"actions[{i}]({act.type})"
            for role in getattr(act, "roles", []) or []:
                if role not in ROLES:
                    fault(f"{where}.roles", _("Unknown role '%(role)s' at %(where)s. Known roles: %(known)s.")
                          % {"role": role, "where": where, "known": ", ".join(ROLES)})
            owner = getattr(act, "owner_role", None)
            if owner and owner not in ROLES:
                fault(f"{where}.owner_role", _("Unknown role '%(role)s' at %(where)s. Known roles: %(known)s.")
                      % {"role": owner, "where": where, "known": ", ".join(ROLES)})
    if problems:
        raise ValidationFailed("invalid_rule", problems[0].message, problems=problems)
    return spec


def compile_rule(rule) -> CompiledRule:
    """A saved (hence valid) rule in the form the engine runs."""
    spec = RuleSpec.model_validate({
        "name": rule.name, "trigger": rule.trigger, "trigger_arg": rule.trigger_arg,
        "interval_minutes": rule.interval_minutes, "condition": rule.condition,
        "actions": rule.actions, "enabled": rule.enabled})
    condition = compile_expression(spec.condition, RULE_SYMBOLS) if spec.condition.strip() else None
    return CompiledRule(rule.pk, rule.name, spec.trigger, spec.trigger_arg, condition, tuple(spec.actions),
                        description=getattr(rule, "description", "") or "")

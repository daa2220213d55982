"""Rules API (mounted at /api/rules): the twin of the rules pages. Read with ``rules.view``,
create and change with ``rules.manage``; every save goes through ``rules.services.rule_save``,
which validates and names each fault by its place (``actions[1](hold).reason``, ``condition``)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from ninja import Body, Router, Schema, Status

from orderhub.core.errors import NotFound, Problem, ValidationFailed
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS
from orderhub.core.text import text_fault

from .models import Rule
from .services import rule_data, rule_save

router = Router(tags=["rules"])


class RuleOut(Schema):
    id: int
    name: str
    description: str
    enabled: bool
    trigger: str
    trigger_arg: str
    interval_minutes: int | None
    condition: str
    actions: list[dict[str, Any]]
    updated_at: datetime
    updated_by: str


def _out(rule: Rule) -> dict[str, Any]:
    return {"id": rule.pk, **rule_data(rule), "updated_at": rule.updated_at, "updated_by": rule.updated_by}


def _rule(rule_id: int) -> Rule:
    rule = Rule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("unknown_rule", _("Rule %(id)s does not exist.") % {"id": rule_id})
    return rule


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)


def _text_faults(value: Any, where: str, out: list[Problem]) -> None:
    """Text no column can hold (NUL, control characters), anywhere in the body, named by place."""
    if isinstance(value, str):
        if fault := text_fault(value, multiline=True):
            out.append(Problem("invalid_text", fault, field=where))
    elif isinstance(value, dict):
        for k, v in value.items():
            _text_faults(k, where, out)
            _text_faults(v, f"{where}.{k}" if where else str(k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _text_faults(v, f"{where}[{i}]", out)


def _data(payload: dict[str, Any]) -> dict[str, Any]:
    problems: list[Problem] = []
    _text_faults(payload, "", problems)
    if problems:
        raise ValidationFailed("invalid_rule", problems[0].message, problems=problems)
    return json.loads(json.dumps(payload, default=_plain))


@router.get("", auth=requires("rules.view"), response={200: list[RuleOut], **ERRORS})
def list_rules(request: ActorRequest) -> list[dict[str, Any]]:
    return [_out(r) for r in Rule.objects.order_by("name")]


@router.get("/{rule_id}", auth=requires("rules.view"), response={200: RuleOut, **ERRORS})
def get_rule(request: ActorRequest, rule_id: int) -> dict[str, Any]:
    return _out(_rule(rule_id))


@router.post("", auth=requires("rules.manage"), response={201: RuleOut, **ERRORS})
def create_rule(request: ActorRequest, payload: Body[dict[str, Any]]) -> Status:
    """A new rule: `name`, `trigger` (order_created, stage_entered, stage_left, field_changed,
    overdue, tag_added, schedule), `trigger_arg`, `interval_minutes` (schedule only), `condition`
    (empty: always), `actions` (notify, add_tag, set_urgency, hold, open_ticket, webhook),
    `enabled`. 422 names every fault by its place, e.g. `actions[0](set_urgency).value`."""
    return Status(201, _out(rule_save(data=_data(payload), actor=request.actor)))


@router.put("/{rule_id}", auth=requires("rules.manage"), response={200: RuleOut, **ERRORS})
def save_rule(request: ActorRequest, rule_id: int, payload: Body[dict[str, Any]]) -> dict[str, Any]:
    """Change a rule (the whole rule, as for create); audited, and every process reloads it."""
    return _out(rule_save(data=_data(payload), actor=request.actor, rule=_rule(rule_id)))

"""Saving rules: validated (the fault named), audited, and every process told to reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audited import audit_save
from orderhub.core.errors import PermissionDenied, Problem, ValidationFailed
from orderhub.core.text import column_fault

from .engine import forget_rules
from .events import RULE_SAVED
from .models import Rule, RulesStamp
from .spec import validate_rule

MANAGE_PERM = "rules.change_rule"


def bump_stamp() -> None:
    """Move the rules version stamp; processes reload their rules when they see it move."""
    updated = RulesStamp.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        RulesStamp.objects.get_or_create(pk=1, defaults={"version": 1})
    transaction.on_commit(forget_rules)
    forget_rules()


@transaction.atomic
def rule_save(*, data: dict[str, Any], actor: Actor, rule: Rule | None = None) -> Rule:
    """Create (``rule=None``) or change a rule. Refused with every fault named by field."""
    if not actor.has_perm(MANAGE_PERM):
        raise PermissionDenied("permission_denied", _("You may not change rules."))
    spec = validate_rule(data)
    bad = [Problem("invalid_text", fault, field=name) for name in ("name", "description", "trigger_arg")
           if (fault := column_fault(Rule, name, getattr(spec, name), multiline=name == "description"))]
    if bad:
        raise ValidationFailed("invalid_rule", bad[0].message, problems=bad)
    clash = Rule.objects.filter(name=spec.name)
    if rule is not None:
        clash = clash.exclude(pk=rule.pk)
    if clash.exists():
        message = _("A rule named '%(name)s' already exists.") % {"name": spec.name}
        raise ValidationFailed("invalid_rule", message, problems=[Problem("invalid_rule", message, field="name")])
    plain = spec.model_dump(mode="json")
    now = clock.now()
    before = None
    if rule is None:
        rule = Rule(created_at=now)
    else:
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        before = _plain(rule)
    for key in ("name", "description", "enabled", "trigger", "trigger_arg", "interval_minutes",
                "condition", "actions"):
        setattr(rule, key, plain[key])
    rule.updated_at, rule.updated_by = now, actor.label[:150]
    rule.save()
    after = _plain(rule)
    audit_save(subject_type="rule", subject_id=rule.pk, action=RULE_SAVED, actor=actor,
               before=before, after=after, created=before is None, data={"name": rule.name})
    bump_stamp()
    return rule


def _plain(rule: Rule) -> dict[str, Any]:
    return {"name": rule.name, "description": rule.description, "enabled": rule.enabled,
            "trigger": rule.trigger, "trigger_arg": rule.trigger_arg,
            "interval_minutes": rule.interval_minutes, "condition": rule.condition,
            "actions": rule.actions}


def rule_data(rule: Rule) -> dict[str, Any]:
    return _plain(rule)


DEFAULTS_FILE = Path(__file__).parent / "templates_yaml" / "default_rules.yaml"


def rules_install_defaults(*, actor: Actor) -> list[Rule]:
    """Save the shipped default rules that do not exist yet (by name); existing ones are kept
    as the company edited them."""
    wanted = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8")) or []
    existing = set(Rule.objects.filter(name__in=[r["name"] for r in wanted]).values_list("name", flat=True))
    return [rule_save(data=r, actor=actor) for r in wanted if r["name"] not in existing]

"""The breakers' configuration as data: one :class:`~orderhub.orders.models.Breaker` row per
kind (seeded by migration ``orders 0019``), edited on ``/settings/breakers/`` and
``PUT /api/breakers/config/{kind}`` through :func:`breaker_config_save`, the only writer. A bad
value is refused naming its field; every change is in the breaker's history (subject
``breaker``). Switching a breaker off resets its active trips (the orders it paused resume)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audited import apply_fields, record_changes
from orderhub.core.errors import NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.roles import ROLES

from ..models import Breaker
from .config import known_stages
from .trips import reset_kind

CONFIG_PERM = "workflow.change_workflowdefinition"
STAGE_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _clean(kind: str, data: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    if "enabled" in data:
        out["enabled"] = bool(data["enabled"])
    if "stages" in data:
        stages = [str(s).strip() for s in (data["stages"] or []) if str(s).strip()]
        known = known_stages()
        bad = [s for s in stages if not STAGE_CODE.match(s) or s not in known]
        if bad:
            problems.append(Problem("invalid", _("未知的阶段：%(stages)s") % {"stages": "、".join(bad)}, field="stages"))
        out["stages"] = sorted(set(stages))
    if "ticket_role" in data:
        role = str(data["ticket_role"] or "").strip()
        if role not in ROLES:
            problems.append(Problem("invalid", _("未知的角色。"), field="ticket_role"))
        out["ticket_role"] = role
    if "ticket_hours" in data:
        try:
            hours = Decimal(str(data["ticket_hours"]))
            if not hours.is_finite() or hours <= 0 or hours > 999:
                raise InvalidOperation
            out["ticket_hours"] = hours.quantize(Decimal("0.1"))
        except (InvalidOperation, ValueError):
            problems.append(Problem("invalid", _("时限应为 0 到 999 之间的工作小时数。"), field="ticket_hours"))
    if "alternatives" in data:
        alts = data["alternatives"] or {}
        if kind != Breaker.Kind.CARRIER and alts:
            problems.append(Problem("invalid", _("只有承运熔断可以设置备选承运商。"), field="alternatives"))
        elif not isinstance(alts, dict) or any(
                not str(k).strip() or not str(v).strip() or len(str(k)) > 100 or len(str(v)) > 100
                or str(k).strip() == str(v).strip() for k, v in alts.items()):
            problems.append(Problem("invalid", _("每个承运商需要一个不同的备选承运商（各不超过 100 字）。"),
                                    field="alternatives"))
        else:
            out["alternatives"] = {str(k).strip(): str(v).strip() for k, v in sorted(alts.items())}
    return out, problems


def breaker_config_save(*, kind: str, data: dict[str, Any], actor: Actor) -> Breaker:
    """Change a breaker's configuration (``enabled``, ``stages``, ``ticket_role``,
    ``ticket_hours``, ``alternatives``; fields not given stay)."""
    if not actor.has_perm(CONFIG_PERM):
        raise PermissionDenied("permission_denied", _("你无权修改熔断器配置。"))
    if kind not in Breaker.Kind.values:
        raise NotFound("breaker_not_found", _("没有这个熔断器。"))
    values, problems = _clean(kind, data)
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    with transaction.atomic():
        row = Breaker.objects.select_for_update().filter(kind=kind).first()
        created = row is None
        if row is None:
            row = Breaker(kind=kind, ticket_role=values.get("ticket_role") or "manager")
        changes = apply_fields(row, values)
        if created or changes:
            row.updated_at, row.updated_by = clock.now(), actor.label[:150]
            row.save()
            record_changes(subject_type="breaker", subject_id=row.pk, action="breaker.changed", actor=actor,
                           changes=changes, created=created, data={"kind": kind})
        if not row.enabled:
            reset_kind(kind, actor=actor, reason=_("熔断器已停用"))
        return row


#: The rows migration ``orders 0020`` seeds: kind → the role its tickets go to (purchasing hears
#: of a shortage, finance of credit, logistics of a carrier)
DEFAULT_TICKET_ROLES = {"stock": "purchaser", "credit": "finance", "carrier": "logistics"}


def breakers_seed() -> None:
    """The default breaker rows, for a database emptied after its migrations (a test's flush)."""
    for kind, role in DEFAULT_TICKET_ROLES.items():
        Breaker.objects.get_or_create(kind=kind, defaults={"ticket_role": role})

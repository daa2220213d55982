"""Reading the breakers' configuration: one :class:`~orderhub.orders.models.Breaker` row per
kind (seeded by migration ``orders 0020``); written by ``configure.breaker_config_save``."""

from __future__ import annotations

from orderhub.workflow.models import WorkflowDefinition

from ..models import Breaker


def breaker_config(kind: str) -> Breaker:
    """The breaker's row (a missing row, e.g. a database not migrated with the seed: switched off)."""
    row = Breaker.objects.filter(kind=kind).first()
    return row if row is not None else Breaker(kind=kind, enabled=False, ticket_role="manager")


def watches(cfg: Breaker, stage: str) -> bool:
    """Whether the breaker watches an order at ``stage`` (no stages listed: every stage)."""
    return not cfg.stages or stage in cfg.stages


def known_stages() -> dict[str, str]:
    """{stage code: its names} over the current workflow definitions (a code several workflows
    use lists each distinct name once)."""
    names: dict[str, list[str]] = {}
    for spec in WorkflowDefinition.objects.filter(is_current=True).order_by("code").values_list("spec", flat=True):
        for s in (spec or {}).get("stages", []):
            if isinstance(s, dict) and s.get("code"):
                seen = names.setdefault(str(s["code"]), [])
                if s.get("name") and s["name"] not in seen:
                    seen.append(str(s["name"]))
    return {code: " / ".join(n) or code for code, n in sorted(names.items())}

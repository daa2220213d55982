"""Trying a stage's guards against a real order without moving it: what the workflow editor's
"test against an order" button and ``POST /api/workflows/{code}/guard-test`` answer.

Read-only: the order is read as its viewer may see it, the guards (the saved ones or a draft
from the editor) are compiled with the same symbol tables and evaluated by the same function a
move uses, so a pass here is a pass on the next move (stock and credit permitting).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from pydantic import ValidationError

from orderhub.core.actors import Actor
from orderhub.core.errors import NotFound, Problem, ValidationFailed
from orderhub.core.expressions import ExpressionError, compile_expression
from orderhub.workflow.services import compiled as compiled_workflow
from orderhub.workflow.services import current_definition
from orderhub.workflow.spec import (
    LINE_SYMBOLS,
    ORDER_SYMBOLS,
    CompiledGuard,
    CompiledStage,
    GuardSpec,
)

from .facts import OrderFacts
from .models import OrderLine
from .selectors import get_order
from .services.stages import evaluate_guards


@dataclass(frozen=True)
class GuardTestResult:
    order: str
    workflow: str
    stage: str
    stage_name: str
    passed: bool
    reasons: list[Problem]
    values: dict[str, Any] = field(default_factory=dict)   # the order facts the guards read
    guards: list[str] = field(default_factory=list)        # codes of the guards tried
    notes: list[str] = field(default_factory=list)         # kitting by date: the POs counted


def _draft_guards(guards: list[dict[str, Any]]) -> tuple[CompiledGuard, ...]:
    """Compile guards as typed in the editor; every fault named by its place (``guards[1].expr``)."""
    problems: list[Problem] = []
    out: list[CompiledGuard] = []
    for i, raw in enumerate(guards):
        where = f"guards[{i}]"
        try:
            spec = GuardSpec.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                problems.append(Problem("invalid_guard", f"{where}{'.' + loc if loc else ''}: {err['msg']}",
                                        field=f"{where}.{loc}" if loc else where))
            continue
        expression = None
        if spec.expr is not None:
            symbols = LINE_SYMBOLS if spec.scope == "line" else ORDER_SYMBOLS
            try:
                expression = compile_expression(spec.expr, symbols)
            except ExpressionError as exc:
                problems.append(Problem("invalid_guard", _("Bad expression at %(where)s: %(error)s")
                                        % {"where": where, "error": exc}, field=f"{where}.expr"))
                continue
        out.append(CompiledGuard(spec, expression))
    if problems:
        raise ValidationFailed("invalid_guard", problems[0].message, problems=problems)
    return tuple(out)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if isinstance(value, tuple):
        return list(value)
    return value


def guards_test(*, number: str, workflow: str, stage: str, actor: Actor,
                guards: list[dict[str, Any]] | None = None) -> GuardTestResult:
    """Evaluate ``stage``'s guards of ``workflow`` (its current version, or ``guards`` as drafted)
    against order ``number`` as ``actor`` sees it. Nothing is written."""
    order = get_order(number, actor=actor)
    flow = compiled_workflow(current_definition(workflow))
    if stage not in flow.stages:
        raise NotFound("unknown_stage", _("Stage '%(stage)s' is not defined in workflow %(wf)s.")
                       % {"stage": stage, "wf": workflow})
    current = flow.stage(stage)
    tried = current if guards is None else CompiledStage(current.spec, _draft_guards(guards), current.ladder)
    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("pk"))
    facts = OrderFacts(order, lines)
    try:
        reasons = evaluate_guards(order, lines, tried, facts)
    except ExpressionError as exc:   # e.g. a division by zero on this order's values
        reasons = [Problem("evaluation", _("The guard could not be evaluated: %(error)s") % {"error": exc})]
    names: set[str] = set()
    for guard in tried.guards:
        if guard.expression is not None:   # a line guard's own names vary by line: its reasons say
            own = set(LINE_SYMBOLS) - set(ORDER_SYMBOLS) | {"qty"} if guard.spec.scope == "line" else set()
            names |= {n for n in guard.expression.names if n in ORDER_SYMBOLS and n not in own}
    base = facts.order_values()
    values = {name: _plain(base[name]) for name in sorted(names)}
    return GuardTestResult(order=order.number, workflow=workflow, stage=stage, stage_name=current.spec.name,
                           passed=not reasons, reasons=reasons, values=values,
                           guards=[g.code for g in tried.guards], notes=list(facts.kitting_notes))

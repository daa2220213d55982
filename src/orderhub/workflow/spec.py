"""Workflow definitions as data: schema, validation and the compiled form the engine runs.

A definition is refused on save with a message that names the fault: an unknown field, a bad
expression, a transition to nowhere, an unreachable stage.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orderhub.core.errors import Problem, ValidationFailed
from orderhub.core.expressions import (
    NUMBER,
    STRING,
    STRING_LIST,
    Expression,
    ExpressionError,
    compile_expression,
)
from orderhub.core.roles import ROLES

CODE_RE = r"^[a-z][a-z0-9_]{0,39}$"

ORDER_SYMBOLS: dict[str, str] = {
    "total": NUMBER,               # order amount, CNY
    "qty": NUMBER,                 # sum of line quantities in base units
    "line_count": NUMBER,
    "credit_limit": NUMBER,
    "credit_available": NUMBER,    # limit − open orders − unpaid invoices
    "unpaid": NUMBER,
    "hours_to_due": NUMBER,        # calendar hours until the required date
    "urgency": STRING,             # red / yellow / green
    "channel": STRING,
    "customer": STRING,            # customer code
    "customer_tier": STRING,
    "stage": STRING,
    "tags": STRING_LIST,
}
LINE_SYMBOLS: dict[str, str] = {
    **ORDER_SYMBOLS,
    "sku": STRING,
    "qty": NUMBER,                 # this line's quantity in base units
    "stock": NUMBER,               # free stock of the SKU plus what this order already holds
    "amount": NUMBER,
    "unit_price": NUMBER,
}

BUILTIN_CHECKS = ("kitting",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadlineSpec(_Strict):
    business_hours: Decimal | None = Field(default=None, gt=0)
    hours: Decimal | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> DeadlineSpec:
        if (self.business_hours is None) == (self.hours is None):
            raise ValueError("give exactly one of business_hours or hours")
        return self


class GuardSpec(_Strict):
    code: str = Field(pattern=CODE_RE)
    expr: str | None = None
    check: Literal["kitting"] | None = None
    scope: Literal["order", "line"] = "order"
    message: str | None = None

    @model_validator(mode="after")
    def _one(self) -> GuardSpec:
        if (self.expr is None) == (self.check is None):
            raise ValueError("give exactly one of expr or check")
        if self.expr is not None and not self.message:
            raise ValueError("an expr guard needs a message")
        return self


class ActionSpec(_Strict):
    action: Literal["reserve_stock", "release_stock", "consume_stock", "add_tag", "set_urgency"]
    bom: bool = False                     # reserve_stock: reserve BOM components, not the product
    release_condition: str | None = None  # reserve_stock: recorded on each reservation
    expires_in_hours: Decimal | None = Field(default=None, gt=0)
    value: str | None = None              # add_tag / set_urgency

    @model_validator(mode="after")
    def _value(self) -> ActionSpec:
        if self.action in ("add_tag", "set_urgency") and not self.value:
            raise ValueError(f"{self.action} needs a value")
        if self.action == "set_urgency" and self.value not in ("red", "yellow", "green"):
            raise ValueError("set_urgency value must be red, yellow or green")
        return self


class StageSpec(_Strict):
    code: str = Field(pattern=CODE_RE)
    name: str = Field(min_length=1, max_length=40)
    owner_role: str
    color: str | None = None
    deadline: DeadlineSpec | None = None
    guards: list[GuardSpec] = []
    on_enter: list[ActionSpec] = []
    next: list[str] = []
    final: bool = False


class WorkflowSpec(_Strict):
    code: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    initial: str
    stages: list[StageSpec] = Field(min_length=1)


@dataclass(frozen=True)
class CompiledGuard:
    spec: GuardSpec
    expression: Expression | None

    @property
    def code(self) -> str:
        return self.spec.code


@dataclass(frozen=True)
class CompiledStage:
    spec: StageSpec
    guards: tuple[CompiledGuard, ...]

    @property
    def code(self) -> str:
        return self.spec.code


@dataclass(frozen=True)
class CompiledWorkflow:
    spec: WorkflowSpec
    stages: dict[str, CompiledStage]

    def stage(self, code: str) -> CompiledStage:
        return self.stages[code]

    @property
    def initial(self) -> CompiledStage:
        return self.stages[self.spec.initial]

    def order_of(self, code: str) -> int:
        return list(self.stages).index(code)


def _loc(spec_data: dict[str, Any], loc: tuple) -> str:
    """Render a pydantic location, adding stage codes so people find the place."""
    parts: list[str] = []
    node: Any = spec_data
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
            try:
                node = node[item]
                if isinstance(node, dict) and "code" in node and isinstance(node["code"], str):
                    parts[-1] += f"({node['code']})"
            except (IndexError, KeyError, TypeError):
                node = None
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _template_names(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def compile_workflow(data: dict[str, Any]) -> CompiledWorkflow:
    """Validate a definition; raise ValidationFailed listing every fault found."""
    try:
        spec = WorkflowSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = _loc(data, err["loc"])
            if err["type"] == "extra_forbidden":
                msg = _("Unknown field '%(field)s' at %(where)s.") % {
                    "field": err["loc"][-1], "where": where}
            elif err["type"] == "missing":
                msg = _("Required field missing at %(where)s.") % {"where": where}
            else:
                msg = f"{where}: {err['msg']}"
            problems.append(Problem("invalid_definition", msg, field=where))
        raise ValidationFailed("invalid_definition", problems[0].message, problems=problems) from exc

    problems: list[Problem] = []

    def fault(where: str, message: str) -> None:
        problems.append(Problem("invalid_definition", message, field=where))

    codes = [s.code for s in spec.stages]
    for code in {c for c in codes if codes.count(c) > 1}:
        fault("stages", _("Stage code '%(code)s' is used more than once.") % {"code": code})
    if spec.initial not in codes:
        fault("initial", _("Initial stage '%(code)s' is not defined.") % {"code": spec.initial})

    compiled: dict[str, CompiledStage] = {}
    for i, st in enumerate(spec.stages):
        where = f"stages[{i}]({st.code})"
        if st.owner_role not in ROLES:
            fault(f"{where}.owner_role", _("Unknown role '%(role)s' at %(where)s. Known roles: %(known)s.")
                  % {"role": st.owner_role, "where": where, "known": ", ".join(ROLES)})
        for target in st.next:
            if target not in codes:
                fault(f"{where}.next", _("Stage '%(stage)s' leads to '%(target)s', which is not defined.")
                      % {"stage": st.code, "target": target})
        if st.final and st.next:
            fault(f"{where}.next", _("Final stage '%(stage)s' cannot lead anywhere.") % {"stage": st.code})
        if not st.final and not st.next:
            fault(f"{where}.next", _("Stage '%(stage)s' is not final and leads nowhere.") % {"stage": st.code})
        guards = []
        for j, g in enumerate(st.guards):
            gwhere = f"{where}.guards[{j}]({g.code})"
            symbols = LINE_SYMBOLS if g.scope == "line" else ORDER_SYMBOLS
            expression = None
            if g.expr is not None:
                try:
                    expression = compile_expression(g.expr, symbols)
                except ExpressionError as exc:
                    fault(f"{gwhere}.expr", _("Bad expression at %(where)s: %(error)s")
                          % {"where": gwhere, "error": exc})
            if g.message:
                unknown = [n for n in _template_names(g.message) if n not in symbols]
                if unknown:
                    fault(f"{gwhere}.message", _("Message at %(where)s uses unknown name '%(name)s'.")
                          % {"where": gwhere, "name": unknown[0]})
            guards.append(CompiledGuard(g, expression))
        compiled[st.code] = CompiledStage(st, tuple(guards))

    if not any(s.final for s in spec.stages):
        fault("stages", _("No stage is final: an order could never finish."))
    if spec.initial in codes:
        seen, todo = set(), [spec.initial]
        by_code = {s.code: s for s in spec.stages}
        while todo:
            code = todo.pop()
            if code in seen or code not in by_code:
                continue
            seen.add(code)
            todo.extend(by_code[code].next)
        for code in codes:
            if code not in seen:
                fault("stages", _("Stage '%(stage)s' cannot be reached from the initial stage '%(initial)s'.")
                      % {"stage": code, "initial": spec.initial})
    if problems:
        raise ValidationFailed("invalid_definition", problems[0].message, problems=problems)
    return CompiledWorkflow(spec, compiled)


_FORMAT_RE = re.compile(r"\{(\w+)\}")


def render_message(template: str, values) -> str:
    """Fill {name} placeholders from a (lazy) mapping; Decimals print without trailing zeros."""

    def one(match: re.Match) -> str:
        value = values[match.group(1)]
        if isinstance(value, Decimal):
            value = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
        return str(value)

    return _FORMAT_RE.sub(one, template)

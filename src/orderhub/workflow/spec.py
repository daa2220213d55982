"""Workflow definitions as data: schema, validation and the compiled form the engine runs.

A definition is refused on save with a message that names the fault: an unknown field, a bad
expression, a transition to nowhere, an unreachable stage.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
WORKFLOW_CODE_RE = r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"

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
    action: Literal["reserve_stock", "release_stock", "consume_stock", "add_tag", "set_urgency",
                    "promise_date"]   # promise_date: computed by the registered promiser (orders.promising)
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


class DueSoonSpec(_Strict):
    """When open work turns from on-track to due-soon: a share of the stage's allowance left
    (``percent: 20``) or a fixed number of business hours before the deadline."""

    percent: Decimal | None = Field(default=None, gt=0, lt=100)
    business_hours: Decimal | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> DueSoonSpec:
        if (self.percent is None) == (self.business_hours is None):
            raise ValueError("give exactly one of percent or business_hours")
        return self


DEFAULT_DUE_SOON = DueSoonSpec(percent=Decimal("20"))

CHANNELS = ("email", "dingtalk", "wecom", "sms", "webhook", "inapp")
SEVERITIES = ("info", "warning", "red")
# names a ladder step's message may use, e.g. "订单 {number} 距交期不足 72 小时"
STEP_MESSAGE_NAMES = ("number", "customer", "stage", "stage_name", "due_at", "required_date",
                      "step", "ticket")


class WhenSpec(_Strict):
    """The moment of a ladder step: ``after`` the stage entry (or ticket opening), the deadline
    or the previous step, or ``before`` the deadline or the order's required date; counted in
    business hours (working time on the business calendar) or in plain hours."""

    after: Literal["entered", "due", "previous"] | None = None
    before: Literal["due", "required_date"] | None = None
    business_hours: Decimal | None = Field(default=None, ge=0)
    hours: Decimal | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> WhenSpec:
        if (self.after is None) == (self.before is None):
            raise ValueError("give exactly one of after or before")
        if (self.business_hours is None) == (self.hours is None):
            raise ValueError("give exactly one of business_hours or hours")
        return self


class LadderStepSpec(_Strict):
    """One rung: when, an optional condition (order symbols), who is told, how, how loudly."""

    code: str = Field(pattern=CODE_RE)
    when: WhenSpec
    condition: str | None = None
    roles: list[str] = []
    users: list[str] = []                 # usernames
    channels: list[Literal["email", "dingtalk", "wecom", "sms", "webhook", "inapp"]] | None = None
    severity: Literal["info", "warning", "red"] = "warning"
    set_urgency: Literal["red", "yellow", "green"] | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _who(self) -> LadderStepSpec:
        if not self.roles and not self.users:
            raise ValueError("a step needs at least one role or user to tell")
        return self


class TicketKindSpec(_Strict):
    """A kind of ticket the workflow knows (e.g. a customer change request), with its owner,
    deadline and escalation ladder."""

    code: str = Field(pattern=CODE_RE)
    name: str = Field(min_length=1, max_length=40)
    owner_role: str
    deadline: DeadlineSpec | None = None
    escalation: list[LadderStepSpec] = []


class StageSpec(_Strict):
    code: str = Field(pattern=CODE_RE)
    name: str = Field(min_length=1, max_length=40)
    owner_role: str
    color: str | None = None
    deadline: DeadlineSpec | None = None
    due_soon: DueSoonSpec | None = None
    guards: list[GuardSpec] = []
    on_enter: list[ActionSpec] = []
    escalation: list[LadderStepSpec] = []
    next: list[str] = []
    final: bool = False
    # from this stage on, the order's header and ship-to can no longer be edited (e.g. shipped);
    # a final stage and a closed order lock edits too
    locks_edits: bool = False
    # who approves a change request while the order is at this stage (default: the stage's
    # owner role); ``WorkflowSpec.change_amount_approvers`` join when the amount changes
    change_approvers: list[str] | None = None
    # what customers see (portal, tracking links): a name and a sentence for the stage (defaults:
    # the stage's name and a sentence by its place), or hidden: shown as the visible stage before
    customer_label: str | None = Field(default=None, min_length=1, max_length=40)
    customer_note: str | None = Field(default=None, max_length=200)
    hidden: bool = False


class WorkflowSpec(_Strict):
    code: str = Field(pattern=WORKFLOW_CODE_RE)
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    initial: str
    due_soon: DueSoonSpec = DEFAULT_DUE_SOON
    stages: list[StageSpec] = Field(min_length=1)
    tickets: list[TicketKindSpec] = []
    # who also approves a change request that changes the order's total
    change_amount_approvers: list[str] = ["finance"]


@dataclass(frozen=True)
class CompiledGuard:
    spec: GuardSpec
    expression: Expression | None

    @property
    def code(self) -> str:
        return self.spec.code


@dataclass(frozen=True)
class CompiledStep:
    spec: LadderStepSpec
    condition: Expression | None

    @property
    def code(self) -> str:
        return self.spec.code


@dataclass(frozen=True)
class CompiledStage:
    spec: StageSpec
    guards: tuple[CompiledGuard, ...]
    ladder: tuple[CompiledStep, ...] = ()

    @property
    def code(self) -> str:
        return self.spec.code


@dataclass(frozen=True)
class CompiledTicketKind:
    spec: TicketKindSpec
    ladder: tuple[CompiledStep, ...] = ()


@dataclass(frozen=True)
class CompiledWorkflow:
    spec: WorkflowSpec
    stages: dict[str, CompiledStage]
    tickets: dict[str, CompiledTicketKind] = field(default_factory=dict)

    def due_soon(self, code: str) -> DueSoonSpec:
        return self.stages[code].spec.due_soon or self.spec.due_soon

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


Fault = Callable[[str, str], None]   # (where, message): one fault in a definition


def compile_workflow(data: dict[str, Any]) -> CompiledWorkflow:
    """Validate a definition; raise ValidationFailed listing every fault found."""
    spec = _parse(data)
    problems: list[Problem] = []

    def fault(where: str, message: str) -> None:
        problems.append(Problem("invalid_definition", message, field=where))

    codes = [s.code for s in spec.stages]
    for code in {c for c in codes if codes.count(c) > 1}:
        fault("stages", _("Stage code '%(code)s' is used more than once.") % {"code": code})
    if spec.initial not in codes:
        fault("initial", _("Initial stage '%(code)s' is not defined.") % {"code": spec.initial})
    compiled = {st.code: _compile_stage(f"stages[{i}]({st.code})", st, codes, fault)
                for i, st in enumerate(spec.stages)}
    tickets = _compile_tickets(spec.tickets, fault)
    for role in spec.change_amount_approvers:
        if role not in ROLES:
            fault("change_amount_approvers", _("Unknown role '%(role)s' at %(where)s. Known roles: %(known)s.")
                  % {"role": role, "where": "change_amount_approvers", "known": ", ".join(ROLES)})
    if not any(s.final for s in spec.stages):
        fault("stages", _("No stage is final: an order could never finish."))
    if spec.initial in codes:
        _check_reachable(spec, codes, fault)
    if problems:
        raise ValidationFailed("invalid_definition", problems[0].message, problems=problems)
    return CompiledWorkflow(spec, compiled, tickets)


def _parse(data: dict[str, Any]) -> WorkflowSpec:
    """The definition's shape, or ValidationFailed naming each misplaced or missing field."""
    try:
        return WorkflowSpec.model_validate(data)
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


def _compile_stage(where: str, st: StageSpec, codes: list[str], fault: Fault) -> CompiledStage:
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
    for role in st.change_approvers or []:
        if role not in ROLES:
            fault(f"{where}.change_approvers", _("Unknown role '%(role)s' at %(where)s. Known roles: %(known)s.")
                  % {"role": role, "where": where, "known": ", ".join(ROLES)})
    guards = tuple(_compile_guard(f"{where}.guards[{j}]({g.code})", g, fault)
                   for j, g in enumerate(st.guards))
    ladder = _compile_ladder(st.escalation, f"{where}.escalation", fault,
                             has_deadline=st.deadline is not None)
    return CompiledStage(st, guards, ladder)


def _compile_guard(gwhere: str, g: GuardSpec, fault: Fault) -> CompiledGuard:
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
    return CompiledGuard(g, expression)


def _compile_tickets(specs: list[TicketKindSpec], fault: Fault) -> dict[str, CompiledTicketKind]:
    tickets: dict[str, CompiledTicketKind] = {}
    for i, tk in enumerate(specs):
        where = f"tickets[{i}]({tk.code})"
        if tk.code in tickets:
            fault(where, _("Ticket kind '%(code)s' is defined more than once.") % {"code": tk.code})
        if tk.owner_role not in ROLES:
            fault(f"{where}.owner_role", _("Unknown role '%(role)s' at %(where)s. Known roles: %(known)s.")
                  % {"role": tk.owner_role, "where": where, "known": ", ".join(ROLES)})
        tickets[tk.code] = CompiledTicketKind(tk, _compile_ladder(
            tk.escalation, f"{where}.escalation", fault, has_deadline=tk.deadline is not None))
    return tickets


def _check_reachable(spec: WorkflowSpec, codes: list[str], fault: Fault) -> None:
    """Every stage can be reached from the initial one."""
    seen: set[str] = set()
    todo = [spec.initial]
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


def _compile_ladder(steps: list[LadderStepSpec], where: str, fault: Fault, *,
                    has_deadline: bool) -> tuple[CompiledStep, ...]:
    """Check a ladder's steps (roles, order of references, conditions) and compile them."""
    out: list[CompiledStep] = []
    seen: set[str] = set()
    for k, step in enumerate(steps):
        swhere = f"{where}[{k}]({step.code})"
        if step.code in seen:
            fault(swhere, _("Step code '%(code)s' is used more than once in %(where)s.")
                  % {"code": step.code, "where": where})
        seen.add(step.code)
        for role in step.roles:
            if role not in ROLES:
                fault(f"{swhere}.roles", _("Unknown role '%(role)s' at %(where)s. Known roles: %(known)s.")
                      % {"role": role, "where": swhere, "known": ", ".join(ROLES)})
        if "due" in (step.when.after, step.when.before) and not has_deadline:
            fault(f"{swhere}.when", _("Step at %(where)s is timed from the deadline, but there is no deadline.")
                  % {"where": swhere})
        if step.when.after == "previous" and k == 0:
            fault(f"{swhere}.when", _("The first step at %(where)s cannot be timed after a previous step.")
                  % {"where": swhere})
        if step.message:
            unknown = [n for n in _template_names(step.message) if n not in STEP_MESSAGE_NAMES]
            if unknown:
                fault(f"{swhere}.message", _("Message at %(where)s uses unknown name '%(name)s'. Known names: %(known)s.")
                      % {"where": swhere, "name": unknown[0], "known": ", ".join(STEP_MESSAGE_NAMES)})
        condition = None
        if step.condition is not None:
            try:
                condition = compile_expression(step.condition, ORDER_SYMBOLS)
            except ExpressionError as exc:
                fault(f"{swhere}.condition", _("Bad expression at %(where)s: %(error)s")
                      % {"where": swhere, "error": exc})
        out.append(CompiledStep(step, condition))
    return tuple(out)


_FORMAT_RE = re.compile(r"\{(\w+)\}")


def render_message(template: str, values: Mapping[str, Any]) -> str:
    """Fill {name} placeholders from a (lazy) mapping; Decimals print without trailing zeros."""

    def one(match: re.Match) -> str:
        value = values[match.group(1)]
        if isinstance(value, Decimal):
            value = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
        return str(value)

    return _FORMAT_RE.sub(one, template)

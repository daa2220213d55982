"""Intake configuration as data: channel mappings, remark tag rules and triage rules.

Each is validated on save and refused with a message naming the fault: an unknown field, an
unknown transform, a bad date format, a regex that does not compile, an expression with an
unknown name. The compiled forms are what the mapping engine runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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

from .values import check_format, parse_path

CODE_RE = r"^[a-z0-9][a-z0-9_.-]{0,31}$"

# order fields a mapping may fill (the API's order JSON), and details kept on the message
ORDER_FIELDS = ("external_ref", "customer", "required_date", "promised_date", "urgency",
                "remarks", "workflow", "owner", "tags")
META_FIELDS = ("paid_at", "ordered_at", "total", "seller_memo", "receiver", "phone", "address",
               "buyer")
LINE_FIELDS = ("sku", "qty", "unit", "unit_price", "amount", "remarks")

# transforms without arguments, and those that take one (written as a one-key mapping)
SIMPLE_TRANSFORMS = ("strip", "upper", "lower", "excel_text", "unmask", "number", "integer",
                     "positive", "non_negative", "fen_to_yuan")
ARG_TRANSFORMS = ("date", "datetime", "lookup", "map", "const", "truncate", "multiply")
LOOKUP_KINDS = {"customer": ("alias", "code", "name", "openid", "mobile"),
                "product": ("sku", "alias")}

TRIAGE_SYMBOLS: dict[str, str] = {
    "total": NUMBER,          # order amount, CNY
    "hours_to_due": NUMBER,   # hours from intake (the order's own time) to the required date
    "line_count": NUMBER,
    "qty": NUMBER,            # sum of line quantities as ordered
    "urgency": STRING,
    "channel": STRING,
    "customer": STRING,
    "customer_tier": STRING,
    "workflow": STRING,
    "tags": STRING_LIST,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldRule(_Strict):
    source: str | list[str] | None = Field(default=None, alias="from")
    const: Any = None
    default: Any = None
    transforms: list[str | dict[str, Any]] = []
    required: bool = False
    join: str = "\n"


class Defaults(_Strict):
    customer: str | None = None
    lead_days: int | None = Field(default=None, ge=0, le=3650)
    workflow: str | None = None
    urgency: Literal["red", "yellow", "green"] | None = None


class MappingSpec(_Strict):
    kind: Literal["mapping"] = "mapping"
    code: str = Field(pattern=CODE_RE)
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    format: Literal["json", "csv", "xlsx"]
    encoding: Literal["utf-8", "utf-8-sig", "gbk", "gb18030"] = "utf-8"
    header_row: int = Field(default=1, ge=1, le=50)
    group_by: str | None = None
    lines_from: str | None = None
    order: dict[str, FieldRule]
    line: dict[str, FieldRule]
    check_total: bool = False
    defaults: Defaults = Defaults()


class TagRule(_Strict):
    pattern: str = Field(min_length=1, max_length=500)
    tag: str | None = Field(default=None, min_length=1, max_length=64)
    check: str | None = Field(default=None, min_length=1, max_length=60)
    urgency: Literal["red", "yellow", "green"] | None = None


class TagSpec(_Strict):
    kind: Literal["tags"] = "tags"
    code: str = Field(pattern=CODE_RE)
    name: str = Field(min_length=1, max_length=100)
    rules: list[TagRule]


class TriageRule(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    when: str = Field(min_length=1, max_length=1000)
    workflows: list[str] = []
    channels: list[str] = []
    urgency: Literal["red", "yellow", "green"] | None = None
    alert_roles: list[str] = []
    tag: str | None = Field(default=None, min_length=1, max_length=64)


class TriageSpec(_Strict):
    kind: Literal["triage"] = "triage"
    code: str = Field(pattern=CODE_RE)
    name: str = Field(min_length=1, max_length=100)
    rules: list[TriageRule]


# ------------------------------------------------------------------ compiled forms


@dataclass(frozen=True)
class Step:
    name: str
    arg: Any = None


@dataclass(frozen=True)
class CompiledField:
    target: str
    sources: tuple[str, ...]
    const: Any
    default: Any
    steps: tuple[Step, ...]
    required: bool
    join: str


@dataclass(frozen=True)
class CompiledMapping:
    spec: MappingSpec
    order: tuple[CompiledField, ...]
    line: tuple[CompiledField, ...]

    def source_of(self, target: str, *, line: bool) -> tuple[str, ...]:
        for f in self.line if line else self.order:
            if f.target == target:
                return f.sources
        return ()


@dataclass(frozen=True)
class CompiledTagRule:
    spec: TagRule
    regex: re.Pattern


@dataclass(frozen=True)
class CompiledTriageRule:
    spec: TriageRule
    expression: Expression


def _pydantic_problems(data: dict[str, Any], exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
        if err["type"] == "extra_forbidden":
            msg = _("Unknown field '%(field)s' at %(where)s.") % {"field": err["loc"][-1], "where": loc}
        elif err["type"] == "missing":
            msg = _("Required field missing at %(where)s.") % {"where": loc}
        else:
            msg = f"{loc}: {err['msg']}"
        problems.append(Problem("invalid_definition", msg, field=loc))
    return problems


def _refuse(problems: list[Problem]):
    raise ValidationFailed("invalid_definition", problems[0].message, problems=problems)


def _compile_field(target: str, rule: FieldRule, where: str, fault) -> CompiledField:
    sources: tuple[str, ...]
    if rule.source is None:
        sources = ()
    elif isinstance(rule.source, str):
        sources = (rule.source,)
    else:
        sources = tuple(rule.source)
    if not sources and rule.const is None and rule.default is None:
        fault(where, _("Field %(where)s needs 'from', 'const' or 'default'.") % {"where": where})
    steps = []
    for i, t in enumerate(rule.transforms):
        twhere = f"{where}.transforms[{i}]"
        if isinstance(t, str):
            if t in ARG_TRANSFORMS:
                fault(twhere, _("Transform '%(name)s' at %(where)s needs an argument.")
                      % {"name": t, "where": twhere})
                continue
            if t not in SIMPLE_TRANSFORMS:
                fault(twhere, _("Unknown transform '%(name)s' at %(where)s. Known: %(known)s.")
                      % {"name": t, "where": twhere,
                         "known": ", ".join(SIMPLE_TRANSFORMS + ARG_TRANSFORMS)})
                continue
            steps.append(Step(t))
            continue
        if len(t) != 1:
            fault(twhere, _("A transform at %(where)s must be a name or a mapping with one key.")
                  % {"where": twhere})
            continue
        (name, arg), = t.items()
        if name not in ARG_TRANSFORMS:
            fault(twhere, _("Unknown transform '%(name)s' at %(where)s. Known: %(known)s.")
                  % {"name": name, "where": twhere,
                     "known": ", ".join(SIMPLE_TRANSFORMS + ARG_TRANSFORMS)})
            continue
        if name in ("date", "datetime"):
            formats = [arg] if isinstance(arg, str) else arg
            if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
                fault(twhere, _("'%(name)s' at %(where)s needs a format or a list of formats.")
                      % {"name": name, "where": twhere})
                continue
            for fmt in formats:
                problem = check_format(fmt, with_time=name == "datetime")
                if problem:
                    fault(twhere, _("Bad date format '%(fmt)s' at %(where)s: %(problem)s.")
                          % {"fmt": fmt, "where": twhere, "problem": problem})
            arg = tuple(formats)
        elif name == "lookup":
            kind, by = (arg, None) if isinstance(arg, str) else (arg.get("kind"), arg.get("by")) \
                if isinstance(arg, dict) else (None, None)
            if kind not in LOOKUP_KINDS:
                fault(twhere, _("Lookup at %(where)s must be one of: %(known)s.")
                      % {"where": twhere, "known": ", ".join(LOOKUP_KINDS)})
                continue
            by = by or list(LOOKUP_KINDS[kind])
            bad = [b for b in by if b not in LOOKUP_KINDS[kind]]
            if bad:
                fault(twhere, _("Unknown lookup key '%(key)s' at %(where)s. Known: %(known)s.")
                      % {"key": bad[0], "where": twhere, "known": ", ".join(LOOKUP_KINDS[kind])})
                continue
            arg = (kind, tuple(by))
        elif name == "map":
            if not isinstance(arg, dict):
                fault(twhere, _("'map' at %(where)s needs a mapping of values.") % {"where": twhere})
                continue
            arg = tuple((str(k), v) for k, v in arg.items())
        elif name == "truncate":
            if not isinstance(arg, int) or isinstance(arg, bool) or arg < 1:
                fault(twhere, _("'truncate' at %(where)s needs a positive whole number.") % {"where": twhere})
                continue
        elif name == "multiply":
            from decimal import Decimal, InvalidOperation
            try:
                arg = Decimal(str(arg))
            except InvalidOperation:
                fault(twhere, _("'multiply' at %(where)s needs a number.") % {"where": twhere})
                continue
        steps.append(Step(name, arg))
    return CompiledField(target, sources, rule.const, rule.default, tuple(steps), rule.required,
                         rule.join)


def compile_mapping(data: dict[str, Any]) -> CompiledMapping:
    try:
        spec = MappingSpec.model_validate(data)
    except ValidationError as exc:
        _refuse(_pydantic_problems(data, exc))
    problems: list[Problem] = []

    def fault(where: str, message: str) -> None:
        problems.append(Problem("invalid_definition", message, field=where))

    order = []
    for target, rule in spec.order.items():
        where = f"order.{target}"
        if target not in ORDER_FIELDS and target not in META_FIELDS:
            fault(where, _("Unknown field '%(field)s' at order. Known: %(known)s.")
                  % {"field": target, "known": ", ".join(ORDER_FIELDS + META_FIELDS)})
            continue
        order.append(_compile_field(target, rule, where, fault))
    line = []
    for target, rule in spec.line.items():
        where = f"line.{target}"
        if target not in LINE_FIELDS:
            fault(where, _("Unknown field '%(field)s' at line. Known: %(known)s.")
                  % {"field": target, "known": ", ".join(LINE_FIELDS)})
            continue
        line.append(_compile_field(target, rule, where, fault))
    targets = {f.target for f in line}
    if "sku" not in targets:
        fault("line", _("A mapping must say where a line's SKU comes from (line.sku)."))
    if "qty" not in targets:
        fault("line", _("A mapping must say where a line's quantity comes from (line.qty)."))
    if "customer" not in {f.target for f in order} and not spec.defaults.customer:
        fault("order.customer", _("A mapping needs order.customer or defaults.customer."))
    if spec.format == "json":  # sources are paths into the JSON: buyer.open_id, items[0].sku
        for where, rules in (("order", spec.order), ("line", spec.line)):
            for target, rule in rules.items():
                sources = [rule.source] if isinstance(rule.source, str) else rule.source or []
                for src in sources:
                    if parse_path(src) is None:
                        fault(f"{where}.{target}.from",
                              _("'%(src)s' at %(where)s is not a JSON path: write keys with dots and list "
                                "positions in brackets, e.g. buyer.open_id or items[0].sku.")
                              % {"src": src, "where": f"{where}.{target}.from"})
        if spec.lines_from and parse_path(spec.lines_from) is None:
            fault("lines_from", _("'%(src)s' at lines_from is not a JSON path (e.g. data.items).")
                  % {"src": spec.lines_from})
    if spec.format == "json" and spec.group_by:
        fault("group_by", _("group_by applies to csv and xlsx files only."))
    if spec.format != "json" and spec.lines_from:
        fault("lines_from", _("lines_from applies to json payloads only."))
    if spec.format != "csv" and spec.encoding != "utf-8":
        fault("encoding", _("encoding applies to csv files only."))
    if problems:
        _refuse(problems)
    return CompiledMapping(spec, tuple(order), tuple(line))


def compile_tags(data: dict[str, Any]) -> list[CompiledTagRule]:
    try:
        spec = TagSpec.model_validate(data)
    except ValidationError as exc:
        _refuse(_pydantic_problems(data, exc))
    problems: list[Problem] = []
    out = []
    for i, rule in enumerate(spec.rules):
        where = f"rules[{i}]"
        if not (rule.tag or rule.check or rule.urgency):
            problems.append(Problem("invalid_definition",
                                    _("Rule %(where)s does nothing: give tag, check or urgency.")
                                    % {"where": where}, field=where))
            continue
        try:
            regex = re.compile(rule.pattern)
        except re.error as exc:
            problems.append(Problem("invalid_definition",
                                    _("Bad pattern at %(where)s.pattern: %(error)s.")
                                    % {"where": where, "error": exc}, field=f"{where}.pattern"))
            continue
        if regex.search(""):
            problems.append(Problem("invalid_definition",
                                    _("Pattern at %(where)s.pattern matches empty text, so every order.")
                                    % {"where": where}, field=f"{where}.pattern"))
            continue
        out.append(CompiledTagRule(rule, regex))
    if problems:
        _refuse(problems)
    return out


def compile_triage(data: dict[str, Any]) -> list[CompiledTriageRule]:
    try:
        spec = TriageSpec.model_validate(data)
    except ValidationError as exc:
        _refuse(_pydantic_problems(data, exc))
    problems: list[Problem] = []
    out = []
    for i, rule in enumerate(spec.rules):
        where = f"rules[{i}]({rule.code})"
        for role in rule.alert_roles:
            if role not in ROLES:
                problems.append(Problem("invalid_definition",
                                        _("Unknown role '%(role)s' at %(where)s. Known roles: %(known)s.")
                                        % {"role": role, "where": where, "known": ", ".join(ROLES)},
                                        field=f"{where}.alert_roles"))
        try:
            expression = compile_expression(rule.when, TRIAGE_SYMBOLS)
        except ExpressionError as exc:
            problems.append(Problem("invalid_definition", _("Bad expression at %(where)s: %(error)s")
                                    % {"where": where, "error": exc}, field=f"{where}.when"))
            continue
        if not (rule.urgency or rule.alert_roles or rule.tag):
            problems.append(Problem("invalid_definition",
                                    _("Rule %(where)s does nothing: give urgency, alert_roles or tag.")
                                    % {"where": where}, field=where))
            continue
        out.append(CompiledTriageRule(rule, expression))
    if problems:
        _refuse(problems)
    return out


class EmailRoute(_Strict):
    filename: str | None = Field(default=None, min_length=1, max_length=200)
    content_type: str | None = Field(default=None, min_length=1, max_length=100)
    channel: str | None = Field(default=None, pattern=CODE_RE)
    ocr: bool = False


class EmailSpec(_Strict):
    """Where e-mail attachments go: the first route whose filename / content-type pattern
    (shell-style, e.g. ``*.xlsx``, ``image/*``) matches sends it to a channel's mapping or to
    OCR; an attachment no route takes is kept and left for a person."""

    kind: Literal["email"] = "email"
    code: str = Field(pattern=CODE_RE)
    name: str = Field(min_length=1, max_length=100)
    routes: list[EmailRoute]


def compile_email(data: dict[str, Any]) -> EmailSpec:
    try:
        spec = EmailSpec.model_validate(data)
    except ValidationError as exc:
        _refuse(_pydantic_problems(data, exc))
    problems = []
    for i, r in enumerate(spec.routes):
        if not (r.filename or r.content_type):
            problems.append(Problem("invalid_definition", _("Route routes[%(i)d] needs filename or content_type.")
                                    % {"i": i}, field=f"routes[{i}]"))
        if bool(r.channel) == r.ocr:
            problems.append(Problem("invalid_definition", _("Route routes[%(i)d] needs either channel or ocr: true.")
                                    % {"i": i}, field=f"routes[{i}]"))
    if problems:
        _refuse(problems)
    return spec


COMPILERS = {"mapping": compile_mapping, "tags": compile_tags, "triage": compile_triage,
             "email": compile_email}

"""Guard and rule conditions written by business users.

Expressions such as ``stock >= qty * 1.05 and credit_available > total * 1.2`` are compiled once (when a
workflow definition or rule is saved) with :func:`compile_expression`, which refuses bad text with an
:class:`ExpressionError` naming the fault, and are then evaluated many times with :meth:`Expression.evaluate`.

The grammar and the evaluator are those of the ``rule-engine`` library (no Python ``eval``). On top of it this
module adds:

* a closed symbol table: every name must be declared with one of :data:`NUMBER`, :data:`STRING`,
  :data:`BOOLEAN`, :data:`STRING_LIST` or :data:`DATETIME`; rule-engine ``$`` built-ins (``$now``,
  ``$random``...) are refused so that results depend only on the values the caller supplies;
* stricter compile-time type checks than rule-engine performs by itself: ``==``/``!=`` between unrelated types,
  ``in`` with a member that can never be in the list, and ``and``/``or``/``not``/``? :`` on operands that are
  not true/false are refused;
* lazy value lookup: a value is read from the mapping only when the evaluation reaches its symbol, so ``and``
  and ``or`` short-circuit the computation of expensive values too;
* exact decimal arithmetic in a fixed :data:`DECIMAL_CONTEXT` (numbers are :class:`decimal.Decimal`; ``int``
  inputs are converted exactly and ``float`` inputs through ``str()``).
"""

from __future__ import annotations

import datetime
import decimal
import functools
import re
import traceback
import types
from collections.abc import Iterator, Mapping
from typing import Any

import rule_engine
from django.utils.translation import gettext as _
from rule_engine import ast as re_ast
from rule_engine import errors as re_errors
from rule_engine.parser import Parser
from rule_engine.suggestions import jaro_winkler_distance

__all__ = [
    "BOOLEAN",
    "DATETIME",
    "DECIMAL_CONTEXT",
    "NUMBER",
    "STRING",
    "STRING_LIST",
    "SYMBOL_TYPES",
    "Expression",
    "ExpressionError",
    "compile_cached",
    "compile_expression",
    "freeze_symbols",
]

# -- symbol types ---------------------------------------------------------------------------------

NUMBER, STRING, BOOLEAN, STRING_LIST, DATETIME = (
    "number",
    "string",
    "bool",
    "string_list",
    "datetime",
)

_DataType = rule_engine.DataType

SYMBOL_TYPES: Mapping[str, Any] = {
    NUMBER: _DataType.FLOAT,
    STRING: _DataType.STRING,
    BOOLEAN: _DataType.BOOLEAN,
    STRING_LIST: _DataType.ARRAY(_DataType.STRING),
    DATETIME: _DataType.DATETIME,
}
"""The declarable type names and the rule-engine data type each one maps to."""

DECIMAL_CONTEXT = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
"""Decimal context for compiling and evaluating (34 significant digits, like IEEE decimal128), independent of
whatever context the calling thread has set."""

_SYMBOL_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED_WORDS = frozenset(Parser.reserved_words) | {"elif", "else", "while"}
_OPERATORS = {name.lower(): symbol for symbol, name in Parser.op_names.items()}
_OPERATORS.update({"uminus": "-", "not": "not"})
_SUGGESTION_THRESHOLD = 0.8  # jaro-winkler similarity above which "did you mean" is offered


# -- errors ---------------------------------------------------------------------------------------


class ExpressionError(ValueError):
    """Refused expression. ``str(err)`` is a human message naming the fault.

    ``code`` is one of ``"syntax"``, ``"unknown_name"``, ``"type"``, ``"not_boolean"`` or ``"evaluation"``;
    ``name`` is the offending symbol, when there is one; ``position`` is the 0-based character offset of a syntax
    error in ``expression``, when rule-engine reports one.
    """

    expression: str
    code: str
    name: str | None
    position: int | None

    def __init__(
        self,
        message: str,
        *,
        expression: str,
        code: str,
        name: str | None = None,
        position: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.code = code
        self.name = name
        self.position = position

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"ExpressionError(code={self.code!r}, name={self.name!r}, "
            f"expression={self.expression!r}, message={self.message!r})"
        )


# -- compiled expressions -------------------------------------------------------------------------


class Expression:
    """A compiled expression: treat as immutable; safe to share between threads; cheap to evaluate.

    ``text`` is the source, ``names`` the declared symbols it references (compute only those values),
    ``symbols`` the read-only symbol table it was compiled against.
    """

    __slots__ = ("text", "names", "symbols", "_rule")

    text: str
    names: frozenset[str]
    symbols: Mapping[str, str]

    def __init__(
        self, text: str, names: frozenset[str], symbols: Mapping[str, str], rule: Any
    ) -> None:
        self.text = text
        self.names = names
        self.symbols = symbols
        self._rule = rule

    def __repr__(self) -> str:
        return f"<Expression {self.text!r} names={sorted(self.names)}>"

    def __reduce__(self) -> tuple[Any, ...]:
        # the rule-engine objects are not meant to be pickled; recompiling is cheap and exact
        return (compile_expression, (self.text, dict(self.symbols)))

    def evaluate(self, values: Mapping[str, Any]) -> bool:
        """Evaluate against *values* (name -> value), reading only the values the evaluation reaches.

        Raises :class:`ExpressionError` with ``code="evaluation"`` on a runtime failure (missing value, value of
        the wrong type, division by zero...) and ``code="not_boolean"`` if the result is not true/false.
        """
        try:
            result = self._rule.evaluate(values)
        except re_errors.EngineError as exc:
            raise _runtime_error(self.text, exc) from exc
        except ArithmeticError as exc:  # decimal traps (e.g. NaN comparisons, overflow)
            raise _runtime_error(self.text, exc) from exc
        if result.__class__ is bool:
            return result
        raise ExpressionError(
            _("The expression must evaluate to true or false, but it produced %(value)s.")
            % {"value": _describe_value(result)},
            expression=self.text,
            code="not_boolean",
        )


def compile_expression(text: str, symbols: Mapping[str, str]) -> Expression:
    """Compile *text*, allowing only the names in *symbols* (name -> one of the type names above).

    Raises :class:`ExpressionError` for a refused expression and plain :class:`ValueError`/:class:`TypeError`
    when *symbols* itself is invalid (a programming error, not a user error).
    """
    if not isinstance(text, str):
        raise TypeError(f"expression text must be str, not {type(text).__name__}")
    type_map = _type_map(symbols)
    if not text.strip():
        raise ExpressionError(_("The expression is empty."), expression=text, code="syntax")

    symbols = types.MappingProxyType(dict(symbols))
    used: set[str] = set()
    context = _GuardContext(type_map, used, _ValueResolver(text, symbols))
    try:
        with decimal.localcontext(DECIMAL_CONTEXT):
            rule = rule_engine.Rule(text, context=context)
    except re_errors.SymbolResolutionError as exc:
        raise _unknown_name_error(text, exc, type_map) from None
    except re_errors.SyntaxError as exc:
        raise _syntax_error(text, exc) from None
    except re_errors.ArithmeticError as exc:
        raise _runtime_error(text, exc) from None
    except re_errors.EngineError as exc:
        raise _type_error_from_engine(text, exc) from None
    except ArithmeticError as exc:
        raise _runtime_error(text, exc) from None

    root = rule.statement.expression
    _check_types(text, root)
    _use_declared_symbols(rule.statement)
    result_type = root.result_type
    if result_type != _DataType.BOOLEAN and result_type != _DataType.UNDEFINED:
        raise ExpressionError(
            _(
                "The expression must evaluate to true or false, but it produces a value of type %(type)s."
            )
            % {"type": _type_name(result_type)},
            expression=text,
            code="not_boolean",
        )
    return Expression(text, frozenset(used), symbols, rule)


def freeze_symbols(symbols: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    """The hashable form of a symbol table, as :func:`compile_cached` expects it."""
    return frozenset(symbols.items())


@functools.lru_cache(maxsize=512)
def compile_cached(text: str, symbols_frozen: frozenset[tuple[str, str]]) -> Expression:
    """:func:`compile_expression` memoised on ``(text, frozenset(symbols.items()))``.

    Refused expressions are not cached (the error is raised again on each call).
    """
    return compile_expression(text, dict(symbols_frozen))


# -- rule-engine plumbing -------------------------------------------------------------------------


def _type_map(symbols: Mapping[str, str]) -> dict[str, Any]:
    type_map = {}
    for name, type_name in symbols.items():
        if not isinstance(name, str) or not _SYMBOL_RE.match(name) or name in _RESERVED_WORDS:
            raise ValueError(f"invalid symbol name {name!r}")
        try:
            type_map[name] = SYMBOL_TYPES[type_name]
        except (KeyError, TypeError):
            raise ValueError(
                f"symbol {name!r} has unknown type {type_name!r}; expected one of {sorted(SYMBOL_TYPES)}"
            ) from None
    return type_map


class _GuardContext(rule_engine.Context):
    """A rule-engine context with a closed symbol table that records which symbols are referenced."""

    def __init__(self, type_map: dict[str, Any], used: set[str], resolver: _ValueResolver) -> None:
        self.value_resolver = resolver
        super().__init__(
            resolver=resolver,
            type_resolver=self._resolve_declared_type,
            default_timezone="utc",
            decimal_context=DECIMAL_CONTEXT,
            mapping_attribute_lookup=False,
        )
        self._type_map = type_map
        self._used = used

    def _resolve_declared_type(self, name: str) -> Any:
        # only called for names that are not comprehension variables, i.e. for real symbol references
        try:
            data_type = self._type_map[name]
        except KeyError:
            raise re_errors.SymbolResolutionError(name) from None
        self._used.add(name)
        return data_type

    def resolve_type(self, name: str, scope: str | None = None) -> Any:
        if scope is not None:  # "$name" built-ins are not part of the language we expose
            raise re_errors.SymbolResolutionError(name, symbol_scope=scope)
        return super().resolve_type(name, scope=scope)


class _WrongType(Exception):
    """Internal: a supplied value does not fit the declared type of its symbol."""


def _to_number(value: Any) -> decimal.Decimal:
    cls = value.__class__
    if cls is decimal.Decimal:
        return value
    if cls is int:
        return decimal.Decimal(value)
    if isinstance(value, bool):
        raise _WrongType
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, int):  # IntEnum and other int subclasses
        return decimal.Decimal(int(value))
    if isinstance(value, float):
        return decimal.Decimal(str(value))
    raise _WrongType


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _WrongType


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _WrongType


def _to_string_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple, set, frozenset)):
        result = tuple(value)
        for member in result:
            if not isinstance(member, str):
                raise _WrongType
        return result
    raise _WrongType


def _to_datetime(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC)
    raise _WrongType


_CONVERTERS = {
    NUMBER: _to_number,
    STRING: _to_string,
    BOOLEAN: _to_bool,
    STRING_LIST: _to_string_list,
    DATETIME: _to_datetime,
}


class _ValueResolver:
    """Reads one value from the caller's mapping and converts it to the symbol's declared type.

    Called by rule-engine only when the evaluation reaches the symbol, so unreferenced values (and the right-hand
    side of a short-circuited ``and``/``or``) are never read.
    """

    __slots__ = ("text", "symbols", "converters")

    def __init__(self, text: str, symbols: Mapping[str, str]) -> None:
        self.text = text
        self.symbols = symbols
        self.converters = {name: _CONVERTERS[type_name] for name, type_name in symbols.items()}

    def __call__(self, values: Mapping[str, Any], name: str) -> Any:
        try:
            value = values[name]
        except KeyError:
            value = None
        if value is None:
            raise ExpressionError(
                _("No value was provided for '%(name)s'.") % {"name": name},
                expression=self.text,
                code="evaluation",
                name=name,
            )
        try:
            return self.converters[name](value)
        except _WrongType:
            raise ExpressionError(
                _("The value of '%(name)s' must be of type %(expected)s, not %(actual)s.")
                % {"name": name, "expected": self.symbols[name], "actual": _describe_value(value)},
                expression=self.text,
                code="evaluation",
                name=name,
            ) from None


class _DeclaredSymbolExpression(re_ast.SymbolExpression):
    """A :class:`SymbolExpression` whose value comes straight from :class:`_ValueResolver`.

    rule-engine's own symbol evaluation re-coerces and re-checks each value against its declared type; the
    resolver has already done exactly that, so this skips the duplicate work (about 3/4 of the evaluation time).
    Only used for expressions without comprehensions, where every unscoped symbol is a declared one.
    """

    __slots__ = ()

    def evaluate(self, thing: Any) -> Any:
        return self.context.value_resolver(thing, self.name)


def _use_declared_symbols(root: Any) -> None:
    nodes = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, re_ast.ComprehensionExpression):
            return  # comprehension variables are resolved through rule-engine's assignment scopes
        if type(node) is re_ast.SymbolExpression and node.scope is None:
            nodes.append(node)
        stack.extend(_children(node))
    for node in nodes:
        node.__class__ = _DeclaredSymbolExpression


# -- compile-time checks beyond rule-engine's -----------------------------------------------------

_CHILD_ATTRIBUTES = (
    "expression",
    "left",
    "right",
    "container",
    "member",
    "condition",
    "case_true",
    "case_false",
    "object",
    "item",
    "function",
    "arguments",
    "iterable",
    "result",
    "start",
    "stop",
    "value",
)


def _children(node: Any) -> Iterator[Any]:
    for attribute in _CHILD_ATTRIBUTES:
        child = getattr(node, attribute, None)
        if isinstance(child, re_ast.ExpressionBase):
            yield child
        elif isinstance(child, (tuple, list)) and not isinstance(node, re_ast.StringExpression):
            for item in child:
                if isinstance(item, re_ast.ExpressionBase):
                    yield item
                elif isinstance(item, tuple):  # mapping literal members
                    yield from (part for part in item if isinstance(part, re_ast.ExpressionBase))
        elif (
            child is not None and hasattr(child, "__iter__") and not isinstance(child, (str, bytes))
        ):
            # collections.deque of arguments
            try:
                items = list(child)
            except TypeError:
                continue
            yield from (item for item in items if isinstance(item, re_ast.ExpressionBase))


def _known(data_type: Any) -> bool:
    return data_type != _DataType.UNDEFINED


def _is_null(data_type: Any) -> bool:
    return data_type == _DataType.NULL or _DataType.is_type(data_type, _DataType.NULLABLE)


def _not_boolean(data_type: Any) -> bool:
    return _known(data_type) and data_type != _DataType.BOOLEAN


def _check_types(text: str, node: Any) -> None:
    """Refuse type mistakes that rule-engine accepts but that can only be user errors."""
    # == and != (rule-engine itself checks the ordered comparisons)
    if type(node) is re_ast.ComparisonExpression:
        left, right = node.left.result_type, node.right.result_type
        if (
            _known(left)
            and _known(right)
            and not _is_null(left)
            and not _is_null(right)
            and not _DataType.is_compatible(left, right)
        ):
            raise _operator_error(text, _OPERATORS.get(node.type, node.type), node.left, node.right)
    elif isinstance(node, re_ast.ContainsExpression):
        container_type, member_type = node.container.result_type, node.member.result_type
        if (
            (
                _DataType.is_type(container_type, _DataType.ARRAY)
                or _DataType.is_type(container_type, _DataType.SET)
            )
            and _known(container_type.value_type)
            and _known(member_type)
            and not _is_null(member_type)
            and not _DataType.is_compatible(container_type.value_type, member_type)
        ):
            raise _operator_error(text, "in", node.member, node.container)
    elif isinstance(node, re_ast.LogicExpression):
        for operand in (node.left, node.right):
            if _not_boolean(operand.result_type):
                raise _logic_error(text, node.type, operand)
    elif isinstance(node, re_ast.UnaryExpression):
        operand_type = node.right.result_type
        if node.type == "not" and _not_boolean(operand_type):
            raise _logic_error(text, "not", node.right)
        if (
            node.type == "uminus"
            and _known(operand_type)
            and operand_type != _DataType.FLOAT
            and operand_type != _DataType.TIMEDELTA
        ):
            raise _unary_error(text, "-", node.right)
    elif isinstance(node, re_ast.TernaryExpression):
        if _not_boolean(node.condition.result_type):
            raise _logic_error(text, "?", node.condition)
    for child in _children(node):
        _check_types(text, child)


# -- error construction ---------------------------------------------------------------------------


def _type_name(data_type: Any) -> str:
    if data_type == _DataType.FLOAT:
        return NUMBER
    if data_type == _DataType.STRING:
        return STRING
    if data_type == _DataType.BOOLEAN:
        return BOOLEAN
    if data_type == _DataType.DATETIME:
        return DATETIME
    if data_type == _DataType.TIMEDELTA:
        return "duration"
    if data_type == _DataType.NULL:
        return "null"
    if data_type == _DataType.UNDEFINED:
        return "unknown"
    if _DataType.is_type(data_type, _DataType.ARRAY):
        return STRING_LIST if data_type.value_type == _DataType.STRING else "list"
    if _DataType.is_type(data_type, _DataType.NULLABLE):
        return _type_name(data_type.inner_type) + "?"
    return data_type.name.lower()


def _describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} ({BOOLEAN})"
    try:
        type_name = _type_name(_DataType.from_value(value))
    except TypeError:
        return f"<{type(value).__name__}>"
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type_name})"


def _describe_operand(node: Any) -> str:
    type_name = _type_name(node.result_type)
    if isinstance(node, re_ast.SymbolExpression):
        return f"{node.name} ({type_name})"
    if isinstance(node, re_ast.LiteralExpressionBase) and not node.result_type.is_compound:
        value = node.value
        if isinstance(value, bool):
            return f"{'true' if value else 'false'} ({type_name})"
        if value is None:
            return "null"
        if isinstance(value, (str, decimal.Decimal)):
            return _describe_value(value)
    return f"<{type_name}>"


def _first_symbol(*nodes: Any) -> str | None:
    for node in nodes:
        if isinstance(node, re_ast.SymbolExpression):
            return node.name
    for node in nodes:
        if node is None:
            continue
        found = _first_symbol(*_children(node))
        if found is not None:
            return found
    return None


def _operator_error(text: str, operator: str, left: Any, right: Any) -> ExpressionError:
    return ExpressionError(
        _("Operator '%(operator)s' cannot be applied to %(left)s and %(right)s.")
        % {
            "operator": operator,
            "left": _describe_operand(left),
            "right": _describe_operand(right),
        },
        expression=text,
        code="type",
        name=_first_symbol(left, right),
    )


def _unary_error(text: str, operator: str, operand: Any) -> ExpressionError:
    return ExpressionError(
        _("Operator '%(operator)s' cannot be applied to %(operand)s.")
        % {"operator": operator, "operand": _describe_operand(operand)},
        expression=text,
        code="type",
        name=_first_symbol(operand),
    )


def _logic_error(text: str, operator: str, operand: Any) -> ExpressionError:
    if operator == "?":
        message = _("The condition before '?' must be true or false, but %(operand)s is not.")
    else:
        message = _(
            "Operator '%(operator)s' needs true/false operands, but %(operand)s is not true/false."
        )
    return ExpressionError(
        message % {"operator": operator, "operand": _describe_operand(operand)},
        expression=text,
        code="type",
        name=_first_symbol(operand),
    )


def _unknown_name_error(
    text: str, exc: re_errors.SymbolResolutionError, type_map: Mapping[str, Any]
) -> ExpressionError:
    name = exc.symbol_name if exc.symbol_scope is None else "$" + exc.symbol_name
    allowed = ", ".join(sorted(type_map))
    suggestion = None
    if exc.symbol_scope is None and type_map:
        best = max(sorted(type_map), key=lambda option: jaro_winkler_distance(name, option))
        if jaro_winkler_distance(name, best) >= _SUGGESTION_THRESHOLD:
            suggestion = best
    params = {"name": name, "allowed": allowed, "suggestion": suggestion}
    if not type_map:
        message = _("Unknown name '%(name)s'. This expression cannot use any names.") % params
    elif suggestion is not None:
        message = (
            _(
                "Unknown name '%(name)s' (did you mean '%(suggestion)s'?). Allowed names: %(allowed)s"
            )
            % params
        )
    else:
        message = _("Unknown name '%(name)s'. Allowed names: %(allowed)s") % params
    return ExpressionError(message, expression=text, code="unknown_name", name=name)


_RESERVED_RE = re.compile(r"the (\w+) keyword is reserved")


def _fragment(text: str, position: int) -> str:
    fragment = text[position : position + 20].split("\n", 1)[0]
    return fragment + ("..." if len(text) - position > len(fragment) else "")


def _syntax_error(text: str, exc: re_errors.SyntaxError) -> ExpressionError:
    value = getattr(exc, "value", None)
    position: int | None = None
    if isinstance(exc, re_errors.DatetimeSyntaxError):
        message = _("Invalid date/time literal '%(value)s'.") % {"value": value}
    elif isinstance(exc, re_errors.TimedeltaSyntaxError):
        message = _("Invalid duration literal '%(value)s'.") % {"value": value}
    elif isinstance(exc, re_errors.FloatSyntaxError):
        message = _("Invalid number literal '%(value)s'.") % {"value": value}
    elif isinstance(exc, re_errors.StringSyntaxError):
        message = _("Invalid string literal '%(value)s'.") % {"value": value}
    elif isinstance(exc, re_errors.BytesSyntaxError):
        message = _("Invalid bytes literal '%(value)s'.") % {"value": value}
    elif isinstance(exc, re_errors.RegexSyntaxError):
        message = _("Invalid regular expression '%(value)s': %(detail)s.") % {
            "value": value,
            "detail": exc.error,
        }
    else:
        token = getattr(exc, "token", None)
        reserved = _RESERVED_RE.search(exc.message)
        if reserved:
            message = _("'%(word)s' is a reserved word and cannot be used in an expression.") % {
                "word": reserved.group(1)
            }
        elif token is None:
            message = _("Syntax error: the expression ends unexpectedly.")
        else:
            position = token.lexpos
            params = {"position": position + 1, "fragment": _fragment(text, position)}
            if token.type == "error":
                params["fragment"] = text[position : position + 1]
                message = (
                    _(
                        "Syntax error at position %(position)s: the character '%(fragment)s' is not allowed."
                    )
                    % params
                )
            else:
                message = _("Syntax error at position %(position)s near '%(fragment)s'.") % params
    return ExpressionError(message, expression=text, code="syntax", position=position)


def _type_error_from_engine(text: str, exc: re_errors.EngineError) -> ExpressionError:
    """Describe a compile-time type error raised by rule-engine, locating the failing AST node.

    rule-engine raises a bare "data type mismatch" from the constructor of the node being built, so the operator
    and operands are recovered from that constructor's frame.
    """
    node: Any = None
    merged: dict[str, Any] = {}
    for frame, _lineno in traceback.walk_tb(exc.__traceback__):
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, re_ast.ExpressionBase) and not isinstance(
            candidate, re_ast.LiteralExpressionBase
        ):
            if candidate is not node:
                node, merged = candidate, {}
            merged.update(frame.f_locals)
    if node is not None:
        operator = getattr(node, "type", None) or merged.get("type_")
        operator = _OPERATORS.get(str(operator).lower(), operator) if operator else None
        left = getattr(node, "left", None) or merged.get("left")
        right = getattr(node, "right", None) or merged.get("right")
        if isinstance(node, re_ast.ContainsExpression):
            operator, left, right = "in", merged.get("member"), merged.get("container")
        elif isinstance(node, re_ast.CoalesceExpression):
            operator = "??"
        if (
            operator
            and isinstance(left, re_ast.ExpressionBase)
            and isinstance(right, re_ast.ExpressionBase)
        ):
            return _operator_error(text, operator, left, right)
        if operator and isinstance(right, re_ast.ExpressionBase):
            return _unary_error(text, operator, right)
    return ExpressionError(
        _("The expression combines values of incompatible types (%(detail)s).")
        % {"detail": exc.message},
        expression=text,
        code="type",
    )


def _runtime_error(text: str, exc: BaseException) -> ExpressionError:
    name = None
    if isinstance(exc, re_errors.SymbolTypeError):
        name = exc.symbol_name
        message = _("The value of '%(name)s' must be of type %(expected)s, not %(actual)s.") % {
            "name": name,
            "expected": _type_name(exc.expected_type),
            "actual": _describe_value(exc.is_value),
        }
    elif isinstance(exc, re_errors.SymbolResolutionError):
        name = exc.symbol_name
        message = _("No value was provided for '%(name)s'.") % {"name": name}
    elif isinstance(exc, re_errors.LookupError):
        message = _("An item lookup failed while evaluating the expression (index out of range).")
    elif isinstance(exc, (ZeroDivisionError, decimal.DivisionByZero)) or "division by zero" in str(
        getattr(exc, "message", "")
    ):
        message = _("Division by zero while evaluating the expression.")
    elif isinstance(exc, (re_errors.ArithmeticError, ArithmeticError)):
        message = _("Arithmetic error while evaluating the expression.")
    else:
        message = _("The expression could not be evaluated: %(detail)s.") % {
            "detail": getattr(exc, "message", None) or exc
        }
    return ExpressionError(message, expression=text, code="evaluation", name=name)

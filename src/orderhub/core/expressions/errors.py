"""Refused expressions: :class:`ExpressionError` and the human messages that name each fault."""

from __future__ import annotations

import decimal
import re
import traceback
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from rule_engine import ast as re_ast
from rule_engine import errors as re_errors
from rule_engine.suggestions import jaro_winkler_distance

from .symbols import (
    _OPERATORS,
    _SUGGESTION_THRESHOLD,
    BOOLEAN,
    DATETIME,
    NUMBER,
    STRING,
    STRING_LIST,
    _DataType,
)
from .tree import _children


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

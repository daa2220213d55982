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

This package: the public API here; ``symbols`` (declarable types, decimal context), ``runtime`` (the
rule-engine context and lazy value reading), ``checks`` (the stricter compile-time type checks),
``errors`` (:class:`ExpressionError` and its messages), ``tree`` (walking the syntax tree).
"""

from __future__ import annotations

import decimal
import functools
import types
from collections.abc import Mapping
from typing import Any

import rule_engine
from django.utils.translation import gettext as _
from rule_engine import errors as re_errors

from .checks import _check_types
from .errors import (
    ExpressionError,
    _describe_value,
    _runtime_error,
    _syntax_error,
    _type_error_from_engine,
    _type_name,
    _unknown_name_error,
)
from .runtime import _GuardContext, _type_map, _use_declared_symbols, _ValueResolver
from .symbols import (
    BOOLEAN,
    DATETIME,
    DECIMAL_CONTEXT,
    NUMBER,
    STRING,
    STRING_LIST,
    SYMBOL_TYPES,
    _DataType,
)

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

"""The declarable symbol types, the decimal context and the language's reserved words."""

from __future__ import annotations

import decimal
import re
from collections.abc import Mapping
from typing import Any

import rule_engine
from rule_engine.parser import Parser

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

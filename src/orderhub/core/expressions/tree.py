"""Walking a rule-engine syntax tree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rule_engine import ast as re_ast

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

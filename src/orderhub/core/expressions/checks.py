"""Compile-time type checks beyond rule-engine's own: mistakes it accepts but that can only be user errors."""

from __future__ import annotations

from typing import Any

from rule_engine import ast as re_ast

from .errors import _logic_error, _operator_error, _unary_error
from .symbols import _OPERATORS, _DataType
from .tree import _children

# -- compile-time checks beyond rule-engine's -----------------------------------------------------

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

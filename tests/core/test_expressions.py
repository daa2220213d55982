"""Tests for orderhub.core.expressions (no database, no Django app registry needed)."""

import datetime
import decimal
import pickle
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from orderhub.core import expressions as ex
from orderhub.core.expressions import ExpressionError, compile_cached, compile_expression


@pytest.fixture(autouse=True, scope="module")
def _minimal_django_settings() -> Iterator[None]:
    # error messages go through gettext, which needs settings; nothing else does. The assertions below
    # compare English messages, so pin English in case the project's settings (zh-hans) are in use.
    if not settings.configured:
        settings.configure(USE_I18N=False)
    with translation.override("en"):
        yield


T3 = "stock >= qty * 1.05 and credit_available > total * 1.2"

SYMBOLS = {
    "stock": ex.NUMBER,
    "qty": ex.NUMBER,
    "credit_available": ex.NUMBER,
    "total": ex.NUMBER,
    "urgency": ex.STRING,
    "hours_to_due": ex.NUMBER,
    "tags": ex.STRING_LIST,
    "rush": ex.BOOLEAN,
    "vip": ex.BOOLEAN,
    "blocked": ex.BOOLEAN,
    "due_at": ex.DATETIME,
}


class RecordingMapping(Mapping[str, Any]):
    """A lazily computed mapping that records which keys were read."""

    def __init__(self, factories: dict[str, Callable[[], Any]]) -> None:
        self._factories = factories
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.read.append(key)
        return self._factories[key]()

    def __iter__(self) -> Iterator[str]:
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)


def _explode() -> Any:
    raise AssertionError("expensive value must not be computed")


def _refused(text: str, symbols: Mapping[str, str] = SYMBOLS) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, symbols)
    return info.value


def _failed(text: str, values: Mapping[str, Any]) -> ExpressionError:
    expression = compile_expression(text, SYMBOLS)
    with pytest.raises(ExpressionError) as info:
        expression.evaluate(values)
    return info.value


# -- the T3 guard ---------------------------------------------------------------------------------


def test_t3_true_with_decimal_money_and_int_quantity() -> None:
    guard = compile_expression(T3, SYMBOLS)
    values = {
        "stock": 106,
        "qty": 100,
        "credit_available": Decimal("1200.01"),
        "total": Decimal("1000.00"),
    }
    assert guard.evaluate(values) is True
    assert guard.names == frozenset({"stock", "qty", "credit_available", "total"})
    assert guard.text == T3


@pytest.mark.parametrize(
    "overrides",
    [
        {"stock": 104},  # 104 < 100 * 1.05
        {"credit_available": Decimal("1200.00")},  # not strictly greater than 1000.00 * 1.2
        {"credit_available": Decimal("0")},
    ],
)
def test_t3_false(overrides: dict[str, Any]) -> None:
    values = {
        "stock": 106,
        "qty": 100,
        "credit_available": Decimal("1200.01"),
        "total": Decimal("1000.00"),
    }
    values.update(overrides)
    assert compile_expression(T3, SYMBOLS).evaluate(values) is False


def test_t3_boundaries_are_exact_decimal_arithmetic() -> None:
    guard = compile_expression(T3, SYMBOLS)
    # 3 * 1.05 is 3.1500000000000004 in binary floating point; here it must be exactly 3.15
    values = {
        "stock": Decimal("3.15"),
        "qty": 3,
        "credit_available": Decimal("0.13"),
        "total": Decimal("0.1"),
    }
    assert guard.evaluate(values) is True
    assert guard.evaluate({**values, "stock": Decimal("3.14999")}) is False
    # 0.1 * 1.2 == 0.12 exactly, so 0.12 is not strictly greater
    assert guard.evaluate({**values, "credit_available": Decimal("0.12")}) is False


def test_float_inputs_are_converted_through_str() -> None:
    guard = compile_expression(T3, SYMBOLS)
    values = {"stock": 3.15, "qty": 3, "credit_available": 0.13, "total": 0.1}
    assert guard.evaluate(values) is True
    assert compile_expression("qty == 0.1", SYMBOLS).evaluate({"qty": 0.1}) is True


def test_result_does_not_depend_on_the_callers_decimal_context() -> None:
    guard = compile_expression("stock >= qty * 1.05", SYMBOLS)
    values = {"stock": Decimal("1000000.05"), "qty": Decimal("952380.9999")}  # needs > 3 digits
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        assert guard.evaluate(values) is True
        assert guard.evaluate({**values, "stock": Decimal("1000000.04")}) is False


# -- strings, tags, precedence, datetimes ---------------------------------------------------------


def test_string_equality_and_number_comparison() -> None:
    guard = compile_expression("urgency == 'red' and hours_to_due <= 72", SYMBOLS)
    assert guard.evaluate({"urgency": "red", "hours_to_due": 72}) is True
    assert guard.evaluate({"urgency": "red", "hours_to_due": Decimal("72.5")}) is False
    assert guard.evaluate({"urgency": "amber", "hours_to_due": 1}) is False


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["出厂检验报告", "加急"], True),
        (("出厂检验报告",), True),
        ({"出厂检验报告"}, True),
        (frozenset({"其他"}), False),
        ([], False),
    ],
)
def test_in_over_a_tag_list(tags: Any, expected: bool) -> None:
    assert (
        compile_expression("'出厂检验报告' in tags", SYMBOLS).evaluate({"tags": tags}) is expected
    )
    assert (
        compile_expression("'出厂检验报告' not in tags", SYMBOLS).evaluate({"tags": tags})
        is not expected
    )


@pytest.mark.parametrize(
    ("text", "rush", "vip", "blocked", "expected"),
    [
        # and binds tighter than or: rush or (vip and blocked)
        ("rush or vip and blocked", True, False, False, True),
        ("(rush or vip) and blocked", True, False, False, False),
        # not binds tighter than and: (not rush) and vip
        ("not rush and vip", False, True, False, True),
        ("not rush and vip", True, True, False, False),
        ("not (rush and vip)", True, False, False, True),
        # and/or are left-associative and short-circuit to booleans
        ("rush and vip or blocked", False, True, True, True),
        ("not rush or not vip and blocked", True, False, True, True),
        ("not rush or not vip and blocked", True, False, False, False),
    ],
)
def test_boolean_precedence(
    text: str, rush: bool, vip: bool, blocked: bool, expected: bool
) -> None:
    values = {"rush": rush, "vip": vip, "blocked": blocked}
    assert compile_expression(text, SYMBOLS).evaluate(values) is expected


def test_comparison_binds_tighter_than_and_arithmetic_tighter_than_comparison() -> None:
    guard = compile_expression("stock - qty * 2 >= 10 and not blocked", SYMBOLS)
    assert guard.evaluate({"stock": 30, "qty": 10, "blocked": False}) is True
    assert guard.evaluate({"stock": 29, "qty": 10, "blocked": False}) is False


def test_datetime_symbols() -> None:
    guard = compile_expression("due_at < d'2025-01-01T00:00:00Z'", SYMBOLS)
    naive = datetime.datetime(2024, 12, 31, 23, 59)  # naive datetimes are taken as UTC
    assert guard.evaluate({"due_at": naive}) is True
    assert guard.evaluate({"due_at": datetime.date(2025, 1, 1)}) is False
    beijing = datetime.timezone(datetime.timedelta(hours=8))
    assert guard.evaluate({"due_at": datetime.datetime(2025, 1, 1, 7, 59, tzinfo=beijing)}) is True


def test_comprehension_and_attributes_work_and_names_exclude_loop_variables() -> None:
    guard = compile_expression(
        "[t for t in tags if t =~ 'QC-.*'].length >= 2 or tags.is_empty", SYMBOLS
    )
    assert guard.names == frozenset({"tags"})
    assert guard.evaluate({"tags": ["QC-1", "QC-2", "x"]}) is True
    assert guard.evaluate({"tags": ["QC-1"]}) is False
    assert guard.evaluate({"tags": []}) is True


# -- compile-time refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "name"),
    [
        ("stok >= qty * 1.05", "unknown_name", "stok"),
        ("stock >= qty and colour == 'red'", "unknown_name", "colour"),
        ("$now > due_at", "unknown_name", "$now"),
        ("", "syntax", None),
        ("   \n\t ", "syntax", None),
        ("stock >=", "syntax", None),
        ("stock >= qty )", "syntax", None),
        ("stock >= qty @ 2", "syntax", None),
        ("due_at < d'2024-13-45'", "syntax", None),
        ("tags > 3", "type", "tags"),
        ("qty == 'x'", "type", "qty"),
        ("urgency != 3", "type", "urgency"),
        ("3 in tags", "type", "tags"),
        ("qty + 'x' > 1", "type", "qty"),
        ("qty and rush", "type", "qty"),
        ("not urgency", "type", "urgency"),
        ("qty * 2", "not_boolean", None),
        ("urgency", "not_boolean", None),
        ("1 / 0 > qty", "evaluation", None),
    ],
)
def test_refused_at_compile_time(text: str, code: str, name: str | None) -> None:
    error = _refused(text)
    assert (error.code, error.name) == (code, name)
    assert error.expression == text
    assert isinstance(error, ValueError)
    assert str(error)


def test_unknown_name_message_lists_sorted_allowed_names() -> None:
    error = _refused(
        "stok >= qty", {"stock": ex.NUMBER, "qty": ex.NUMBER, "credit_available": ex.NUMBER}
    )
    assert "'stok'" in str(error)
    assert str(error).endswith("Allowed names: credit_available, qty, stock")
    assert "did you mean 'stock'" in str(error)


def test_unknown_name_without_a_close_match_has_no_suggestion() -> None:
    error = _refused("zzz > 1", {"qty": ex.NUMBER})
    assert str(error) == "Unknown name 'zzz'. Allowed names: qty"


def test_syntax_error_names_position_and_fragment() -> None:
    error = _refused("stock >= qty )")
    assert error.position == 13
    assert "position 14" in str(error) and "')'" in str(error)
    assert "'@'" in str(_refused("stock >= qty @ 2"))


def test_type_error_message_names_operator_and_operands() -> None:
    assert (
        str(_refused("tags > 3"))
        == "Operator '>' cannot be applied to tags (string_list) and 3 (number)."
    )
    assert "qty (number)" in str(_refused("qty == 'x'"))


def test_bad_symbol_declarations_are_programming_errors() -> None:
    with pytest.raises(ValueError) as info:
        compile_expression("qty > 1", {"qty": "integer"})
    assert not isinstance(info.value, ExpressionError)
    with pytest.raises(ValueError):
        compile_expression("qty > 1", {"and": ex.NUMBER})


# -- runtime failures -----------------------------------------------------------------------------


def test_missing_value_is_an_evaluation_error() -> None:
    # the left side of "and" holds, so credit_available is needed and missing
    error = _failed(T3, {"stock": 200, "qty": 1})
    assert (error.code, error.name) == ("evaluation", "credit_available")
    assert str(error) == "No value was provided for 'credit_available'."
    # the left side fails, so the missing values are never needed
    assert compile_expression(T3, SYMBOLS).evaluate({"stock": 1, "qty": 1}) is False


@pytest.mark.parametrize(
    ("text", "values", "name"),
    [
        ("stock >= qty", {"stock": 1}, "qty"),
        ("stock >= qty", {"stock": 1, "qty": None}, "qty"),
        ("stock >= qty", {"stock": 1, "qty": "many"}, "qty"),
        ("stock >= qty", {"stock": True, "qty": 1}, "stock"),
        ("'x' in tags", {"tags": ["x", 3]}, "tags"),
        ("urgency == 'red'", {"urgency": 3}, "urgency"),
        ("stock / qty > 1", {"stock": 1, "qty": 0}, None),
        ("stock // qty > 1", {"stock": 1, "qty": Decimal("0")}, None),
    ],
)
def test_runtime_failures(text: str, values: dict[str, Any], name: str | None) -> None:
    error = _failed(text, values)
    assert (error.code, error.name) == ("evaluation", name)
    assert error.expression == text


def test_division_by_zero_message() -> None:
    assert "Division by zero" in str(_failed("stock / qty > 1", {"stock": 1, "qty": 0}))


def test_not_boolean_detected_at_runtime_when_the_type_is_not_known_statically() -> None:
    # the branches of ?: have different types, so rule-engine cannot tell the result type in advance
    expression = compile_expression("rush ? qty > 1 : qty", SYMBOLS)
    assert expression.evaluate({"rush": True, "qty": 3}) is True
    with pytest.raises(ExpressionError) as info:
        expression.evaluate({"rush": False, "qty": 3})
    assert (info.value.code, info.value.name) == ("not_boolean", None)


# -- laziness and names ---------------------------------------------------------------------------


def test_only_referenced_values_are_read() -> None:
    values = RecordingMapping(
        {
            "stock": lambda: 200,
            "qty": lambda: 100,
            "credit_available": lambda: Decimal("5000"),
            "total": lambda: Decimal("1000"),
            "hours_to_due": _explode,  # expensive and not referenced
            "tags": _explode,
        }
    )
    guard = compile_expression(T3, SYMBOLS)
    assert guard.evaluate(values) is True
    assert sorted(values.read) == ["credit_available", "qty", "stock", "total"]
    assert guard.names == frozenset(values.read)


def test_short_circuit_skips_values_on_the_untaken_side() -> None:
    guard = compile_expression("rush or stock >= qty * 1.05", SYMBOLS)
    assert guard.names == frozenset({"rush", "stock", "qty"})
    values = RecordingMapping({"rush": lambda: True, "stock": _explode, "qty": _explode})
    assert guard.evaluate(values) is True
    assert values.read == ["rush"]

    guard = compile_expression("not blocked and stock >= qty", SYMBOLS)
    values = RecordingMapping({"blocked": lambda: True, "stock": _explode, "qty": _explode})
    assert guard.evaluate(values) is False
    assert values.read == ["blocked"]


def test_each_value_is_read_once_per_reference() -> None:
    values = RecordingMapping({"qty": lambda: 5})
    assert compile_expression("qty > 1 and qty < 10", SYMBOLS).evaluate(values) is True
    assert values.read == ["qty", "qty"]


def test_expressions_pickle_by_recompiling() -> None:
    guard = compile_expression(T3, SYMBOLS)
    clone = pickle.loads(pickle.dumps(guard))
    assert (clone.text, clone.names, dict(clone.symbols)) == (guard.text, guard.names, SYMBOLS)
    assert clone.evaluate({"stock": 2, "qty": 1, "credit_available": 2, "total": 1}) is True


# -- caching --------------------------------------------------------------------------------------


def test_compile_cached_returns_the_same_object() -> None:
    first = compile_cached(T3, ex.freeze_symbols(SYMBOLS))
    second = compile_cached(T3, frozenset(dict(SYMBOLS).items()))
    assert first is second
    assert compile_cached(T3, frozenset({**SYMBOLS, "extra": ex.NUMBER}.items())) is not first
    assert compile_cached("qty > 1", ex.freeze_symbols(SYMBOLS)) is not first


def test_compile_cached_still_refuses_bad_expressions() -> None:
    for _ in range(2):
        with pytest.raises(ExpressionError) as info:
            compile_cached("stok > 1", ex.freeze_symbols(SYMBOLS))
        assert info.value.code == "unknown_name"


# -- property -------------------------------------------------------------------------------------

_amounts = st.decimals(
    min_value=Decimal("-1000000000000"),
    max_value=Decimal("1000000000000"),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)


@given(stock=_amounts, qty=st.one_of(_amounts, st.integers(min_value=-(10**12), max_value=10**12)))
def test_stock_guard_matches_python_decimal(stock: Decimal, qty: Decimal | int) -> None:
    guard = compile_cached("stock >= qty * 1.05", ex.freeze_symbols(SYMBOLS))
    with decimal.localcontext(ex.DECIMAL_CONTEXT):
        expected = stock >= qty * Decimal("1.05")
    assert guard.evaluate({"stock": stock, "qty": qty}) is expected

"""Value transforms a mapping applies to source fields: pure functions, no database.

Each transform takes a value and returns the new value or raises ``Refused`` with a message
naming what is wrong with the value (the caller adds the source field).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

ALLOWED_DIRECTIVES = set("YmdHMSyfbBpIjz%")
_DIRECTIVE_RE = re.compile(r"%(.)")


class Refused(ValueError):
    """A source value a transform cannot accept."""


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# ------------------------------------------------------------------ text


def excel_text(value):
    """``="3012345678901234567"`` (a spreadsheet guard against scientific notation) → the digits."""
    if isinstance(value, str):
        v = value.strip()
        if v.startswith('="') and v.endswith('"'):
            return v[2:-1]
        if v.startswith("'"):
            return v[1:]
    return value


def unmask(value):
    """A masked value (``138****5678``, ``周*``) identifies nobody: treat it as absent."""
    if isinstance(value, str) and "*" in value:
        return None
    return value


# ------------------------------------------------------------------ numbers

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3,
              "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8,
              "捌": 8, "九": 9, "玖": 9}
_CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def chinese_integer(text: str) -> int | None:
    """Chinese numerals as written on orders (五百, 一千二百五十, 两万, 三十五, 十二); None if
    ``text`` is not a well-formed Chinese integer (never a guess)."""
    if not text or any(ch not in _CN_DIGITS and ch not in _CN_UNITS and ch not in _CN_BIG
                       for ch in text):
        return None
    total, section, digit = 0, 0, None
    last_unit = 10**9
    for ch in text:
        if ch in _CN_DIGITS:
            if digit is not None and digit != 0 and _CN_DIGITS[ch] != 0:
                return None  # two digits in a row ("五五") is not a Chinese numeral
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if unit >= last_unit:
                return None  # units must fall: 五百三十, not 五十百
            section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            big = _CN_BIG[ch]
            section += digit or 0
            if section == 0:
                return None
            total += section * big
            section, digit, last_unit = 0, None, 10**9
    section += digit or 0
    return total + section


def to_decimal(value) -> tuple[Decimal, str | None]:
    """A number from a cell or JSON value; returns (number, note). The note says when the
    value was read from words (五百), so the report shows it was not guessed."""
    if isinstance(value, bool):
        raise Refused(_("'%(value)s' is not a number.") % {"value": value})
    if isinstance(value, int | Decimal):
        return Decimal(value), None
    if isinstance(value, float):
        return Decimal(repr(value)), None
    if not isinstance(value, str):
        raise Refused(_("'%(value)s' is not a number.") % {"value": value})
    text = nfkc(value).strip().replace(",", "").replace("￥", "").replace("¥", "")
    if _NUMBER_RE.match(text):
        try:
            return Decimal(text), None
        except InvalidOperation:
            pass
    n = chinese_integer(text)
    if n is not None:
        return Decimal(n), _("read '%(text)s' as %(n)s") % {"text": value, "n": n}
    raise Refused(_("'%(value)s' is not a number.") % {"value": value})


# ------------------------------------------------------------------ dates


def check_format(fmt: str, *, with_time: bool) -> str | None:
    """The fault in a strptime format, or None. Only common directives are allowed, and a date
    format must name year, month and day."""
    directives = _DIRECTIVE_RE.findall(fmt)
    if fmt.count("%") != len(directives) + fmt.count("%%"):
        return _("a lone '%' at the end")
    bad = [d for d in directives if d not in ALLOWED_DIRECTIVES]
    if bad:
        return _("unknown directive '%%%(d)s'") % {"d": bad[0]}
    have = set(directives)
    if not ({"Y", "y"} & have and {"m", "b", "B"} & have and "d" in have) and "j" not in have:
        return _("a date format needs year, month and day")
    sample = datetime(2026, 2, 3, 15, 12, 34)
    if "z" in have:  # an offset needs an aware moment to print one (``+0800``; ``+08:00`` parses too)
        sample = sample.replace(tzinfo=timezone(timedelta(hours=8)))
    try:
        datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError as exc:
        return str(exc)
    return None


def parse_datetime(value, formats: list[str], tz) -> datetime:
    """An aware datetime in ``tz`` from text in one of ``formats`` or a spreadsheet datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=tz)
    if not isinstance(value, str | int):
        raise Refused(_("'%(value)s' is not a date.") % {"value": value})
    text = nfkc(str(value)).strip()
    out_of_range = False
    for fmt in formats:
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError as exc:
            out_of_range = out_of_range or "out of range" in str(exc)
            continue
        return dt if dt.tzinfo else dt.replace(tzinfo=tz)
    if out_of_range:  # the shape fits, the day does not: 2026-02-31
        raise Refused(_("'%(value)s' is not a date that exists (written like %(examples)s).")
                      % {"value": value, "examples": format_examples(formats)})
    raise Refused(_("'%(value)s' is not a valid date/time (write it like %(examples)s).")
                  % {"value": value, "examples": format_examples(formats)})


EXAMPLE_MOMENT = datetime(2026, 12, 1, 14, 30, 0)


def format_examples(formats: list[str]) -> str:
    """Formats as a person reads them: ``%Y-%m-%d %H:%M`` → ``2026-12-01 14:30``, each once,
    joined by 或 / or (never strptime patterns)."""
    examples: list[str] = []
    for fmt in formats:
        try:
            example = EXAMPLE_MOMENT.replace(tzinfo=None).strftime(fmt.replace("%z", "+0800"))
        except ValueError:
            continue
        if example not in examples:
            examples.append(example)
    return _(" or ").join(examples[:4])


def parse_date(value, formats: list[str], tz) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_datetime(value, formats, tz).date()


# ------------------------------------------------------------------ JSON paths

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d{1,6})\]|(\.)")


def parse_path(source: str) -> tuple[str | int, ...] | None:
    """``buyer.open_id`` → ("buyer", "open_id"); ``items[0].sku`` → ("items", 0, "sku"); None
    when ``source`` is not a well-formed path (an empty part, an unclosed or non-numeric index)."""
    if not source or source.startswith(".") or source.endswith(".") or ".." in source or ".[" in source:
        return None
    out: list[str | int] = []
    pos = 0
    for m in _PATH_PART.finditer(source):
        if m.start() != pos:
            return None
        pos = m.end()
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            if not out:
                return None
            out.append(int(m.group(2)))
    if pos != len(source) or not out or not isinstance(out[0], str):
        return None
    return tuple(out)


_MISSING = object()


def resolve_path(values, path: tuple[str | int, ...]):
    """The value at ``path`` inside nested JSON objects and lists, None where it leads nowhere."""
    value = values
    for part in path:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return None
            value = value[part]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return None
    return value


def getter(source: str, *, nested: bool):
    """A function ``values -> value`` for one source field. A JSON key that exists as written
    (even one with a dot in it) wins; otherwise a path (``buyer.open_id``, ``items[0].sku``) is
    followed. Files (``nested=False``) name columns, read as written."""
    path = parse_path(source) if nested else None
    if path is None or len(path) == 1:
        return lambda values: values.get(source)

    def get(values):
        value = values.get(source, _MISSING)
        return resolve_path(values, path) if value is _MISSING else value
    return get

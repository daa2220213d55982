"""Canonical JSON and hashing: the same data always gives the same bytes and digest."""

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def plain_scalar(value: Any) -> Any:
    """How canonical JSON spells a value JSON has no type for (Decimal, date, set)."""
    if isinstance(value, Decimal):
        # normalise 12.50 and 12.5 to one spelling, without exponent notation
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# one encoder for every call: ``json.dumps`` with options builds a new one each time (the text is
# the same: ``dumps`` is ``JSONEncoder(**options).encode``)
_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=plain_scalar)


def canonical_json(data: Any) -> str:
    return _encoder.encode(data)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_plain(data: Any) -> Any:
    """Round-trip through canonical JSON: Decimals and datetimes become strings."""
    return json.loads(canonical_json(data))

"""Finding a customer or a product the way office staff type it: by code, by a piece of the
name, or by the pinyin initials of the name (苏州博锐精工 → ``szbrjg``; ``M8×30 螺栓`` →
``m830ls``). Reads only; the order forms' pickers and ``GET /api/catalog/...`` use it.

Codes and names are searched in the database. Initials are not stored: they are computed with
pypinyin from the active names (each name once per process) and matched in Python, which is
fine for the thousands of customers and products a plant has; a catalogue of millions would
want them stored in an indexed column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db.models import Q, QuerySet
from pypinyin import Style, lazy_pinyin

from .models import Customer, Product
from .selectors import active_customers, active_products

MAX_RESULTS = 20
_INITIALS_QUERY = re.compile(r"^[A-Za-z0-9]{1,20}$")


@lru_cache(maxsize=200_000)
def initials(text: str) -> str:
    """Lower-case pinyin initials of the Chinese characters and the letters and digits of the
    rest, in order: ``M8×30 螺栓`` → ``m830ls``."""
    out: list[str] = []
    # errors="default" keeps a run of non-Chinese text as it is
    for part in lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default"):
        out.extend(ch.lower() for ch in part if ch.isascii() and ch.isalnum())
    return "".join(out)


@dataclass(frozen=True)
class Pick:
    code: str
    name: str
    initials: str
    # products: their base unit and list price; customers: their credit limit
    unit: str = ""
    price: Decimal | None = None
    credit_limit: Decimal | None = None


def _rank(q: str, code: str, name: str) -> tuple[int, str]:
    ql = q.lower()
    if code.lower() == ql:
        return (0, code)
    if code.lower().startswith(ql):
        return (1, code)
    if q in name:
        return (2, code)
    return (3, code)


def _search(qs: QuerySet[Any], q: str, *, code_field: str, limit: int) -> list[Any]:
    q = q.strip()[:50]
    if not q:
        return list(qs.order_by(code_field)[:limit])
    found = {getattr(o, code_field): o for o in
             qs.filter(Q(**{f"{code_field}__icontains": q}) | Q(name__icontains=q)).order_by(code_field)[:limit]}
    if _INITIALS_QUERY.match(q) and len(found) < limit:
        ql = q.lower()
        for pk, code, name in qs.order_by(code_field).values_list("pk", code_field, "name").iterator(chunk_size=2000):
            if code not in found and ql in initials(name):
                found[code] = pk
                if len(found) >= limit:
                    break
        ids = [v for v in found.values() if isinstance(v, int)]
        if ids:
            found.update((getattr(o, code_field), o) for o in qs.filter(pk__in=ids))
    return sorted(found.values(), key=lambda o: _rank(q, getattr(o, code_field), o.name))


def customers_pick(*, q: str, limit: int = MAX_RESULTS, sales_owner_id: int | None = None) -> list[Pick]:
    """Active customers whose code or name holds ``q``, or whose name's initials do; only those
    ``sales_owner_id`` looks after when given (a rep who may order for their own customers only)."""
    qs = active_customers()
    if sales_owner_id is not None:
        qs = qs.filter(sales_owner_id=sales_owner_id)
    rows: list[Customer] = _search(qs, q, code_field="code", limit=limit)
    return [Pick(code=c.code, name=c.name, initials=initials(c.name), credit_limit=c.credit_limit) for c in rows]


def products_pick(*, q: str, limit: int = MAX_RESULTS) -> list[Pick]:
    """Active products whose SKU or name holds ``q``, or whose name's initials do."""
    rows: list[Product] = _search(active_products(), q, code_field="sku", limit=limit)
    return [Pick(code=p.sku, name=p.name, initials=initials(p.name), unit=p.unit, price=p.list_price)
            for p in rows]

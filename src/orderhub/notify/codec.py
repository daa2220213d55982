"""A message's template context kept as JSON and given back with its types.

Messages are rendered when they are delivered (or shown), not when they are queued, so the
context a template will see is stored in the outbox row. ``encode`` gives two things:

* the context as plain JSON, exactly what ``json.loads(json.dumps(ctx, default=str))`` gives
  (values JSON has no type for become ``str(value)``): this is ``payload["context"]``, what
  webhook receivers get, unchanged;
* where the typed values were: ``[tag, *path]`` for each datetime, date, time and Decimal
  (``["datetime", "order", "created_at"]``, ``["decimal", "order", "total"]``; a list index is
  an int in the path).

``decode`` turns the plain context and that list back into the context the template would have
seen at enqueue (a ``|date:"m-d H:i"`` filter, a Decimal's digits), as new dicts and lists
(the stored payload is left as it is). Other values (timedelta, UUID, lazy texts…) stay their
``str()``, which is how a template prints them anyway.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

_PARSE = {"datetime": datetime.fromisoformat, "date": date.fromisoformat,
          "time": time.fromisoformat, "decimal": Decimal}


def encode(ctx: dict[str, Any]) -> tuple[dict[str, Any], list[list]]:
    """``(plain, types)`` of the context ``ctx`` (see the module's description)."""
    types: list[list] = []
    return _plain(ctx, (), types), types


_SCALARS = frozenset({str, int, bool, float, type(None)})   # JSON as they are (exact types)


def _plain(v: Any, path: tuple, types: list[list]) -> Any:
    if type(v) in _SCALARS:
        return v
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if type(k) is not str:
                k = _json_key(k)
            out[k] = x if type(x) in _SCALARS else _plain(x, (*path, k), types)
        return out
    if isinstance(v, list | tuple):
        return [x if type(x) in _SCALARS else _plain(x, (*path, i), types) for i, x in enumerate(v)]
    # (datetime before date: a datetime is a date)
    tag = ("datetime" if isinstance(v, datetime) else "date" if isinstance(v, date)
           else "time" if isinstance(v, time) else "decimal" if isinstance(v, Decimal) else None)
    if tag is not None:
        types.append([tag, *path])
        return str(v)
    return json.loads(json.dumps(v, default=str))   # str/int subclasses, sets, lazy texts …


def _json_key(k: Any) -> str:
    """A dict key as JSON writes it (``1`` → ``"1"``, ``True`` → ``"true"``, ``None`` → ``"null"``)."""
    return next(iter(json.loads(json.dumps({k: 0}, default=str))))


def decode(plain: dict[str, Any], types: list[list] | None) -> dict[str, Any]:
    """The context ``encode`` was given, from what it returned; a new dict (and new dicts and
    lists along the paths of typed values), ``plain`` is not changed. Raises on a malformed
    list (callers render a fallback)."""
    ctx = dict(plain)
    copied = {id(ctx)}
    for tag, *path in types or ():
        parse = _PARSE[tag]
        node = ctx
        for k in path[:-1]:
            child = node[k]
            if id(child) not in copied:
                child = dict(child) if isinstance(child, dict) else list(child)
                copied.add(id(child))
                node[k] = child
            node = child
        value = node[path[-1]]
        if isinstance(value, str):
            node[path[-1]] = parse(value)
    return ctx

"""Trying a mapping before saving it: a pasted payload or an uploaded file read through a
mapping that is not saved yet, showing the orders it would make, where each field came from
and what would be refused. Reads only: nothing is stored, no order is made (the customers and
products it names are looked up, tag and triage rules applied, as an import would).
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from django.utils import timezone

from orderhub.core.canonical import to_plain

from .mapping import Lookups, Mapper, _raw, order_input_total
from .readers import Unreadable, read
from .services.config import compiled_config, current_config
from .spec import compile_mapping

MAX_SHOWN = 20


def mapping_trial(*, spec: dict[str, Any], payload: bytes, channel: str | None = None) -> dict[str, Any]:
    """What ``spec`` (a mapping, saved or not) makes of ``payload``. Raises ValidationFailed
    naming the fault when the mapping itself is invalid. ``unreadable`` is set when the payload
    cannot be read with it (malformed JSON, a wrong encoding, not a spreadsheet)."""
    mapping = compile_mapping(spec)
    channel = channel or mapping.spec.code
    out: dict[str, Any] = {"format": mapping.spec.format, "records": 0, "shown": 0, "items": [],
                           "unreadable": None}
    try:
        records = read(mapping.spec, payload)
    except Unreadable as exc:
        out["unreadable"] = str(exc)
        return out
    tags_v, triage_v = current_config("tags", "default"), current_config("triage", "default")
    lookups = Lookups(channel)
    mapper = Mapper(mapping, lookups, channel=channel, received_at=timezone.now(),
                    tag_rules=compiled_config(tags_v) if tags_v else [],
                    triage_rules=compiled_config(triage_v) if triage_v else [])
    shown = records[:MAX_SHOWN]
    out["records"], out["shown"] = len(records), len(shown)
    for rec, item in zip(shown, mapper.map(shown), strict=True):
        fields = []
        for plan in mapper.order:
            source = item.sources.get(plan.target, plan.label)
            fields.append({"field": plan.target, "source": source if plan.sources else "",
                           "raw": _shown(_raw(rec.values, plan.rule, plan.getters)),
                           "constant": plan.const is not None or (not plan.sources and plan.default is not None)})
        lines = []
        for i, src in enumerate(rec.lines):
            lines.append({"where": src.where, "row": src.row, "fields": [
                {"field": plan.target, "source": item.sources.get(f"lines[{i}].{plan.target}", plan.label),
                 "raw": _shown(_raw(src.values, plan.rule, plan.getters))} for plan in mapper.line]})
        order = None
        total = None
        if item.data is not None:
            order = to_plain(asdict(item.data))
            total = order_input_total(item.data, lookups)
        out["items"].append({
            "index": item.index, "rows": item.rows, "where": item.where, "order": order,
            "total": None if total is None else str(total), "meta": to_plain(item.meta),
            "source_fields": fields, "source_lines": lines,
            "problems": [p.as_dict() for p in item.problems], "notes": list(item.notes),
            "alerts": to_plain(item.alerts),
        })
    return out


def _shown(value: Any) -> Any:
    """A source value as JSON can carry it (nested objects as they are)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return to_plain(value)
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)

"""The audited save of configuration and master data: the caller locks the row and reads its
fields as they were (``before``), writes, then records one event in the subject's chain with
each changed field's ``[before, after]``. One helper, so every settings page, rule, channel,
template and endpoint records its changes the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .actors import Actor
from .audit import append_event


def field_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any], *,
                  created: bool = False) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for each field of ``after`` that differs from ``before``
    (every field when ``created``; a field ``before`` lacks was None)."""
    prior = before or {}
    return {k: [prior.get(k), v] for k, v in after.items() if created or prior.get(k) != v}


def audit_save(*, subject_type: str, subject_id: int, action: str, actor: Actor,
               before: Mapping[str, Any] | None, after: Mapping[str, Any], created: bool = False,
               data: dict[str, Any] | None = None) -> dict[str, list[Any]]:
    """Append the save's event (call inside the save's transaction) and return its changes."""
    changes = field_changes(before, after, created=created)
    append_event(subject_type=subject_type, subject_id=subject_id, action=action, actor=actor,
                 changes=changes, data=data)
    return changes

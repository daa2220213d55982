"""The audited save of configuration and master data: the caller locks the row, changes its
fields through :func:`apply_fields` (or compares plain ``before``/``after`` dicts with
:func:`field_changes`), writes, then records one event in the subject's chain with each changed
field's ``[before, after]`` (:func:`audit_save` / :func:`record_changes`). One module, so
customers, products, users, roles, settings pages, rules, channels, templates and endpoints
record their changes the same way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .actors import Actor
from .audit import append_event
from .canonical import to_plain


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


def apply_fields(obj: Any, values: Mapping[str, Any], *, names: Mapping[str, str] | None = None,
                 shown: Mapping[str, Callable[[Any], Any]] | None = None) -> dict[str, list[Any]]:
    """Set each attribute of ``values`` on ``obj`` and return ``{name: [before, after]}`` for
    those that changed. ``names`` renames an attribute in the changes (``first_name`` →
    ``full_name``); ``shown`` turns a value into what the history keeps (a user → their login
    name), which is also what is compared."""
    changes: dict[str, list[Any]] = {}
    for attr, after in values.items():
        before = getattr(obj, attr)
        show = (shown or {}).get(attr)
        old, new = (show(before), show(after)) if show else (before, after)
        if old != new:
            setattr(obj, attr, after)
            changes[(names or {}).get(attr, attr)] = [old, new] if show else to_plain([old, new])
    return changes


def record_changes(*, subject_type: str, subject_id: int, action: str, actor: Actor,
                   changes: dict[str, list[Any]], created: bool = False,
                   data: dict[str, Any] | None = None) -> bool:
    """Append the save's event when something was created or changed (inside the save's
    transaction); False when there was nothing to record."""
    if not (created or changes):
        return False
    append_event(subject_type=subject_type, subject_id=subject_id, action=action, actor=actor,
                 changes=changes, data=data)
    return True

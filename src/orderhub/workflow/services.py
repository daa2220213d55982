"""Saving workflow definitions: every save is a new, validated, audited version."""

from __future__ import annotations

import functools
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.errors import NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.text import column_fault, text_fault

from .models import WorkflowDefinition
from .spec import CompiledWorkflow, compile_workflow


def _json_number(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


TEMPLATE_DIR = Path(__file__).parent / "templates_yaml"


def template_files() -> list[Path]:
    return sorted(TEMPLATE_DIR.glob("*.yaml"))


def load_template(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _text_faults(value: Any, where: str) -> list[tuple[str, str]]:
    """Every string of a definition that text may not hold (NUL, control characters), by path:
    refused by name rather than failing in the database."""
    if isinstance(value, str):
        fault = text_fault(value, multiline=True)
        return [(where, fault)] if fault else []
    if isinstance(value, dict):
        return [f for k, v in value.items()
                for f in _text_faults(k, where) + _text_faults(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _text_faults(v, f"{where}[{i}]")]
    return []


@transaction.atomic
def workflow_save(*, data: dict[str, Any], actor: Actor, note: str = "") -> WorkflowDefinition:
    """Validate and store ``data`` as the next version of its workflow (refused with the fault
    named when invalid). Orders already running keep the version they started under."""
    if not actor.has_perm("workflow.change_workflowdefinition"):
        raise PermissionDenied("permission_denied", _("You may not change workflow definitions."))
    data = json.loads(json.dumps(data, default=_json_number))  # stored as plain JSON
    faults = [Problem("invalid", fault, field=where) for where, fault in _text_faults(data, "")]
    if fault := column_fault(WorkflowDefinition, "note", note, multiline=True):
        faults.append(Problem("invalid", fault, field="note"))
    if faults:
        raise ValidationFailed("invalid", faults[0].message, problems=faults)
    compiled = compile_workflow(data)
    code = compiled.spec.code
    previous = (WorkflowDefinition.objects.select_for_update()
                .filter(code=code).order_by("-version").first())
    if previous is not None and previous.spec == data:
        return previous
    WorkflowDefinition.objects.filter(code=code, is_current=True).update(is_current=False)
    wf = WorkflowDefinition.objects.create(
        code=code, version=(previous.version + 1) if previous else 1, name=compiled.spec.name,
        spec=data, is_current=True, created_at=clock.now(), created_by=actor.label, note=note,
    )
    transaction.on_commit(lambda: _current_ids.pop(code, None))
    _current_ids.pop(code, None)
    append_event(subject_type="workflow", subject_id=wf.pk, action="workflow.saved", actor=actor,
                 changes={"version": [previous.version if previous else None, wf.version]},
                 data={"code": code}, reason=note)
    return wf


def workflow_install_templates(*, actor: Actor) -> list[WorkflowDefinition]:
    return [workflow_save(data=load_template(p), actor=actor, note=_("shipped template %(file)s") % {"file": p.name})
            for p in template_files()]


def current_definition(code: str) -> WorkflowDefinition:
    wf = WorkflowDefinition.objects.filter(code=code, is_current=True).first()
    if wf is None:
        raise NotFound("unknown_workflow", _("Workflow '%(code)s' is not defined.") % {"code": code})
    return wf


_CURRENT_TTL = 2.0
_current_ids: dict[str, tuple[float, WorkflowDefinition | None]] = {}


def current_definition_cached(code: str) -> WorkflowDefinition | None:
    """The current version of ``code``, cached for two seconds per process (every order create
    needs it; versions never change once saved); a save in this process clears it at once."""
    hit = _current_ids.get(code)
    now = time.monotonic()
    if hit is not None and now - hit[0] < _CURRENT_TTL:
        return hit[1]
    wf = WorkflowDefinition.objects.filter(code=code, is_current=True).defer("spec").first()
    _current_ids[code] = (now, wf)
    return wf


@functools.lru_cache(maxsize=256)
def _compiled_by_id(definition_id: int) -> CompiledWorkflow:
    spec = WorkflowDefinition.objects.values_list("spec", flat=True).get(pk=definition_id)
    return compile_workflow(spec)


def compiled(definition: WorkflowDefinition | int) -> CompiledWorkflow:
    """Versions never change once saved, so their compiled form is cached for the process."""
    pk = definition if isinstance(definition, int) else definition.pk
    return _compiled_by_id(pk)

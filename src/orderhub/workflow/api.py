"""Workflows API (mounted at /api/workflows): the current definitions, and saving a new
version."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from ninja import Body, Router

from orderhub.core.errors import DomainError, Problem
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS

from . import services as wf_services
from .models import WorkflowDefinition
from .schemas import WorkflowCode, WorkflowOut

router = Router(tags=["workflows"])


def _wf_out(wf: WorkflowDefinition) -> dict:
    return {"code": wf.code, "version": wf.version, "name": wf.name, "is_current": wf.is_current,
            "spec": wf.spec, "created_at": wf.created_at, "created_by": wf.created_by}


@router.get("", auth=requires("workflow.view"), response={200: list[WorkflowOut], **ERRORS})
def list_workflows(request: ActorRequest) -> list[dict]:
    return [_wf_out(w) for w in WorkflowDefinition.objects.filter(is_current=True).order_by("code")]


@router.get("/{code}", auth=requires("workflow.view"), response={200: WorkflowOut, **ERRORS})
def get_workflow(request: ActorRequest, code: WorkflowCode) -> dict:
    return _wf_out(wf_services.current_definition(code))


@router.put("/{code}", auth=requires("workflow.change"), response={200: WorkflowOut, **ERRORS})
def save_workflow(request: ActorRequest, code: WorkflowCode, payload: Body[dict[str, Any]]) -> dict:
    """Save a new version; an invalid definition is refused (422) naming the fault, e.g.
    `stages[2](materials_ready).guards[0](bom_kitted)`; `code` must equal the path's."""
    if payload.get("code") != code:
        raise DomainError("code_mismatch", _("The definition's code must be %(code)s.") % {"code": code},
                          status=422, problems=[Problem("code_mismatch", _("Must be %(code)s.") % {"code": code},
                                                        field="code")])
    return _wf_out(wf_services.workflow_save(data=payload, actor=request.actor))

"""Request and response shapes of the workflows API (and the codes other apps' shapes use)."""

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field

from .spec import CODE_RE, WORKFLOW_CODE_RE

StageCode = Annotated[str, Field(min_length=1, max_length=40, pattern=CODE_RE)]
WorkflowCode = Annotated[str, Field(min_length=1, max_length=32, pattern=WORKFLOW_CODE_RE)]


class WorkflowOut(Schema):
    code: str
    version: int
    name: str
    is_current: bool
    spec: dict[str, Any]
    created_at: datetime
    created_by: str

"""Domain errors carry a machine code and a translatable message naming the fault."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: str | None = None
    data: dict[str, Any] = dc_field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": str(self.message)}
        if self.field:
            out["field"] = self.field
        if self.data:
            out["data"] = self.data
        return out


class DomainError(Exception):
    """A refused request. ``status`` is the HTTP status the API maps it to."""

    status = 400

    def __init__(self, code: str, message: str, *, problems: list[Problem] | None = None,
                 status: int | None = None, data: dict[str, Any] | None = None):
        super().__init__(str(message))
        self.code = code
        self.message = str(message)
        self.problems = problems or []
        self.data = data or {}
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.problems:
            out["errors"] = [p.as_dict() for p in self.problems]
        if self.data:
            out.update(self.data)
        return out


class ValidationFailed(DomainError):
    status = 422


class PermissionDenied(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class TooManyRequests(DomainError):
    """Over a rate limit; the API answers 429 with ``Retry-After: retry_after``."""

    status = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__("rate_limited", message)
        self.retry_after = retry_after

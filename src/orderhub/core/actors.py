"""Who did it, and from where. Every service takes an Actor; audit never needs a web request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

USER = "user"
API_CLIENT = "api_client"
SYSTEM = "system"
CUSTOMER = "customer"

# Roles that may act on any stage.
SUPERVISOR_ROLES = frozenset({"admin", "manager"})


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class Actor:
    kind: str
    id: str
    label: str
    roles: frozenset[str] = frozenset()
    user: AbstractBaseUser | None = field(default=None, compare=False, repr=False)
    context: RequestContext = RequestContext()

    @classmethod
    def for_user(cls, user, *, context: RequestContext | None = None, kind: str = USER,
                 label: str | None = None, actor_id: str | None = None) -> Actor:
        roles = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            roles |= {"admin"}
        return cls(
            kind=kind,
            id=actor_id or str(user.pk),
            label=label or user.get_username(),
            roles=roles,
            user=user,
            context=context or RequestContext(),
        )

    @classmethod
    def system(cls, job: str, *, context: RequestContext | None = None) -> Actor:
        return cls(kind=SYSTEM, id=job, label=job, roles=frozenset({"system"}),
                   context=context or RequestContext())

    @property
    def is_system(self) -> bool:
        return self.kind == SYSTEM

    def has_perm(self, perm: str) -> bool:
        """System jobs are trusted; people and API clients need the Django permission."""
        if self.is_system:
            return True
        return bool(self.user is not None and self.user.is_active and self.user.has_perm(perm))

    def may_act_for_role(self, role: str) -> bool:
        return self.is_system or role in self.roles or bool(self.roles & SUPERVISOR_ROLES)

"""Who did it, and from where. Every service takes an Actor; audit never needs a web request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import User

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
    user: User | None = field(default=None, compare=False, repr=False)
    context: RequestContext = RequestContext()
    # "app_label.codename" the user holds through its roles (groups) and directly
    perms: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @classmethod
    def for_user(cls, user: User, *, context: RequestContext | None = None, kind: str = USER,
                 label: str | None = None, actor_id: str | None = None) -> Actor:
        """Roles and permissions are read once, with one query, when the actor is made."""
        from django.contrib.auth.models import Permission
        from django.db.models import CharField, Value

        via_groups = user.groups.values_list("name", "permissions__content_type__app_label",
                                             "permissions__codename").order_by()
        direct = Permission.objects.filter(user=user).annotate(
            g=Value("", output_field=CharField())).values_list("g", "content_type__app_label", "codename").order_by()
        rows = list(via_groups.union(direct, all=True))
        roles = frozenset(name for name, _, _ in rows if name)
        perms = {f"{app}.{code}" for _, app, code in rows if code}
        if user.is_superuser:
            roles |= {"admin"}
        return cls(
            kind=kind,
            id=actor_id or str(user.pk),
            label=label or user.get_username(),
            roles=roles,
            user=user,
            context=context or RequestContext(),
            perms=frozenset(perms),
        )

    @classmethod
    def system(cls, job: str, *, context: RequestContext | None = None) -> Actor:
        return cls(kind=SYSTEM, id=job, label=job, roles=frozenset({"system"}),
                   context=context or RequestContext())

    def for_channel(self, channel: str) -> Actor:
        """The channel's system actor for machine intake this actor started (a file import, a
        replay): it keeps the prices the channel's mapping carries (what a customer paid on a
        marketplace), and its label keeps who started it. Check the starter's permission first."""
        if self.is_system:
            return self
        return Actor(kind=SYSTEM, id=f"intake:{channel}"[:64], label=f"intake:{channel} ({self.label})"[:150],
                     roles=frozenset({"system"}), context=self.context)

    @property
    def is_system(self) -> bool:
        return self.kind == SYSTEM

    def has_perm(self, perm: str) -> bool:
        """System jobs are trusted; people and API clients need the Django permission."""
        if self.is_system:
            return True
        if self.user is None or not self.user.is_active:
            return False
        return self.user.is_superuser or perm in self.perms

    def may_act_for_role(self, role: str) -> bool:
        return self.is_system or role in self.roles or bool(self.roles & SUPERVISOR_ROLES)

"""Roles over the API (mounted at /api/roles): what each role may do, and what an administrator
sets per role: the orders it sees (all, or its own customers') and whether it may set prices."""

from __future__ import annotations

from typing import Literal

from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import ConfigDict

from orderhub.core import permissions
from orderhub.core.errors import NotFound
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS
from orderhub.core.services import role_setting_save

router = Router(tags=["roles"])


class CapabilityOut(Schema):
    code: str
    label: str


class RoleOut(Schema):
    code: str
    name: str
    order_scope: Literal["all", "own_customers"]
    order_scope_label: str
    change_price: bool
    users: int
    capabilities: list[CapabilityOut]


class RoleSettingIn(Schema):
    model_config = ConfigDict(extra="forbid")

    order_scope: Literal["all", "own_customers"] | None = None
    change_price: bool | None = None


def _out(r: permissions.RoleView) -> dict:
    return {"code": r.code, "name": str(r.label), "order_scope": r.order_scope,
            "order_scope_label": r.order_scope_label, "change_price": r.change_price, "users": r.users,
            "capabilities": [{"code": c.code, "label": str(c.label)} for c in r.capabilities]}


def _role(code: str) -> dict:
    found = next((r for r in permissions.roles_overview() if r.code == code), None)
    if found is None:
        raise NotFound("role_not_found", _("Unknown role '%(r)s'.") % {"r": code})
    return _out(found)


@router.get("", auth=requires("users.manage"), response={200: list[RoleOut], **ERRORS})
def list_roles(request: ActorRequest) -> list[dict]:
    """Every role: its settings and the capabilities it holds."""
    return [_out(r) for r in permissions.roles_overview()]


@router.put("/{code}", auth=requires("users.manage"), response={200: RoleOut, **ERRORS})
def save_role(request: ActorRequest, code: str, payload: RoleSettingIn) -> dict:
    """Set the orders a role sees (`all`, or `own_customers`: customers whose sales owner is the
    user, and orders the user owns) and whether it may set prices other than the standard
    price. Audited; in force from the next request."""
    _role(code)
    role_setting_save(role=code, actor=request.actor, order_scope=payload.order_scope,
                      change_price=payload.change_price)
    return _role(code)

"""Shared pieces for the pages: the actor of a request, problems shown next to fields."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import redirect

from orderhub.core.actors import Actor, RequestContext
from orderhub.core.errors import DomainError


def actor_for(request) -> Actor:
    """The signed-in user as an Actor, made once per request."""
    actor = getattr(request, "_orderhub_actor", None)
    if actor is None:
        context = getattr(request, "orderhub_context", None) or RequestContext()
        actor = Actor.for_user(request.user, context=context)
        request._orderhub_actor = actor
    return actor


def require_perm(perm: str):
    """Login, then a permission held through the user's roles (403 page otherwise)."""
    def decorate(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not actor_for(request).has_perm(perm):
                raise DjangoPermissionDenied(perm)
            return view(request, *args, **kwargs)
        return wrapped
    return decorate


def field_errors(error: DomainError) -> dict[str, list[str]]:
    """Problems by field path (``lines[0].sku``), for messages next to the inputs."""
    out: dict[str, list[str]] = {}
    for p in error.problems:
        out.setdefault(p.field or "general", []).append(str(p.message))
    return out


def refused(request, error: DomainError, to: str):
    """Show a refused request as a message and go back to ``to``."""
    messages.error(request, error.message)
    for p in error.problems:
        if str(p.message) != error.message:
            messages.error(request, str(p.message))
    return redirect(to)

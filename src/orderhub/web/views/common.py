"""Shared pieces for the pages: the actor of a request, each page's capability, problems shown
next to fields."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.shortcuts import redirect

from orderhub.core import permissions
from orderhub.core.actors import Actor, RequestContext
from orderhub.core.errors import DomainError, NotFound
from orderhub.orders.selectors import check_visible


def actor_for(request) -> Actor:
    """The signed-in user as an Actor, made once per request."""
    actor = getattr(request, "_orderhub_actor", None)
    if actor is None:
        context = getattr(request, "orderhub_context", None) or RequestContext()
        actor = Actor.for_user(request.user, context=context)
        request._orderhub_actor = actor
    return actor


def requires(capability: str):
    """A page's capability, decided by ``core.permissions``: signed in first (else to the login
    page), then the capability (the 403 page otherwise). Public pages (a customer's quick-order
    link) declare ``requires("public")``."""
    cap = permissions.capability(capability)  # a misspelt code fails at import

    def decorate(view):
        if cap.public:
            view.capability = capability
            return view

        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not permissions.allowed(actor_for(request), capability):
                raise DjangoPermissionDenied(capability)
            return view(request, *args, **kwargs)
        wrapped.capability = capability
        return wrapped
    return decorate


def visible_or_404(request, number: str) -> None:
    """Before changing an order: one the user may not see does not exist for them."""
    try:
        check_visible(number, actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e


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

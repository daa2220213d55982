"""Bearer tokens for systems, the session for the web UI; both become an Actor, which must then
hold the operation's capability (``requires``)."""


from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router
from ninja.operation import Operation
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from orderhub.core import permissions, ratelimit
from orderhub.core.actors import Actor, RequestContext
from orderhub.core.client import client_ip
from orderhub.core.errors import PermissionDenied, TooManyRequests
from orderhub.core.store import token_actor


class ActorRequest(HttpRequest):
    """The request an operation declared with ``requires`` receives: its actor is set."""

    actor: Actor


def _context(request: HttpRequest) -> RequestContext:
    return getattr(request, "orderhub_context", None) or RequestContext()


def requires(capability: str) -> list:
    """An operation's authentication and capability, declared on its route:
    ``@router.get(..., auth=requires("orders.view"))``. A bearer token or the session; no
    credentials is 401, credentials without the capability 403 (before the body is read)."""
    permissions.capability(capability)  # a misspelt code fails at import
    return [BearerToken(capability), SessionAuth(capability)]


def _count_refused_token(request: HttpRequest) -> None:
    """A bearer credential that names no live token counts against ``api_token_refused`` for the
    client address; over the limit the answer is 429 with ``Retry-After`` instead of 401. Only
    refusals are counted: a valid token never touches the counter."""
    wait = ratelimit.hit(ratelimit.TOKEN_REFUSED, ratelimit.client_key(client_ip(request)))
    if wait:
        raise TooManyRequests(
            _("Too many requests with an unknown API token from your address. Please try again in "
              "%(s)d seconds.") % {"s": wait}, retry_after=wait)


class BearerToken(HttpBearer):
    def __init__(self, capability: str | None = None) -> None:
        self.capability = capability
        super().__init__()

    def authenticate(self, request, token):
        found = token_actor(token, context=_context(request))
        if found is None:
            _count_refused_token(request)
            return None
        request.actor = found[1]
        if self.capability:
            permissions.check(request.actor, self.capability)
        return found[0]


class SessionAuth(APIKeyCookie):
    """Django's session cookie, with CSRF checked for unsafe methods.

    The CSRF check only applies once a session has authenticated someone: a request with no
    credentials at all is answered 401 (not a CSRF 403), and a logged-in browser that sends an
    unsafe method without the CSRF token gets 403 ``csrf_failed``.
    """

    param_name = "sessionid"

    def __init__(self, capability: str | None = None) -> None:
        self.capability = capability
        super().__init__(csrf=True)

    def _get_key(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise PermissionDenied("csrf_failed",
                                   _("CSRF check failed: send the X-CSRFToken header with the session."))
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        request.actor = Actor.for_user(user, context=_context(request))
        if self.capability:
            permissions.check(request.actor, self.capability)
        return user


def capability_of(operation: Operation) -> str | None:
    """The capability an API operation declared: the one of its ``requires(...)``, "public" for
    ``auth=None`` (a webhook's signature, a quick-order link's token); None when it declared
    nothing (it then only needs someone signed in, and the permission matrix test fails)."""
    auth = operation.auth_param
    if auth is None:
        return "public"
    callbacks = auth if isinstance(auth, list | tuple) else [auth]
    caps = {getattr(cb, "capability", None) for cb in callbacks}
    return next(iter(caps)) if len(caps) == 1 and None not in caps else None


def declare_capabilities(*routers: Router) -> None:
    """Put each operation's capability into the OpenAPI as ``x-orderhub-capability``."""
    for router in routers:
        for view in router.path_operations.values():
            for op in view.operations:
                cap = capability_of(op)
                if cap is not None:
                    op.openapi_extra = {**(op.openapi_extra or {}), "x-orderhub-capability": cap}

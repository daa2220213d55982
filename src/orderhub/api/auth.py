"""Bearer tokens for systems, the session for the web UI; both become an Actor, which must then
hold the operation's capability (``requires``)."""

import hashlib
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from orderhub.core import fastsql, permissions
from orderhub.core.actors import API_CLIENT, Actor, RequestContext
from orderhub.core.errors import PermissionDenied
from orderhub.core.models import ApiToken
from orderhub.core.tokens import TOKEN_PREFIX, token_authenticate


def _context(request) -> RequestContext:
    return getattr(request, "orderhub_context", None) or RequestContext()


@cache
def _token_sql() -> str:
    """Token, its user and the user's roles and permissions, in one statement."""
    User = get_user_model()
    q = connection.ops.quote_name
    users, tokens = q(User._meta.db_table), q(ApiToken._meta.db_table)
    groups_rel = User._meta.get_field("groups").remote_field.through._meta.db_table
    perms_rel = User._meta.get_field("user_permissions").remote_field.through._meta.db_table
    return (
        "WITH p AS MATERIALIZED (SELECT %s::jsonb AS d) "
        "SELECT to_jsonb(t)::text, to_jsonb(u)::text, "
        "(SELECT jsonb_agg(jsonb_build_array(x.g, x.app, x.code))::text FROM ("
        f"  SELECT g.name AS g, ct.app_label AS app, pm.codename AS code FROM {q(groups_rel)} ug "
        "   JOIN auth_group g ON g.id = ug.group_id "
        "   LEFT JOIN auth_group_permissions gp ON gp.group_id = g.id "
        "   LEFT JOIN auth_permission pm ON pm.id = gp.permission_id "
        "   LEFT JOIN django_content_type ct ON ct.id = pm.content_type_id WHERE ug.user_id = u.id "
        "  UNION ALL "
        f"  SELECT '', ct.app_label, pm.codename FROM {q(perms_rel)} up "
        "   JOIN auth_permission pm ON pm.id = up.permission_id "
        "   JOIN django_content_type ct ON ct.id = pm.content_type_id WHERE up.user_id = u.id) x) "
        f"FROM {tokens} t JOIN {users} u ON u.id = t.user_id "
        "WHERE t.key_hash = (SELECT d->>0 FROM p) AND NOT t.revoked AND u.is_active"
    )


def _bearer_actor(request, raw: str) -> tuple[ApiToken, Actor] | None:
    """What ``token_authenticate`` + ``Actor.for_user`` give, with one prepared statement."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    found = fastsql.execute(_token_sql(), [hashlib.sha256(raw.encode()).hexdigest()])
    if not found:
        return None
    t, u, rows = found[0]
    user = fastsql.instance(get_user_model(), fastsql.loads(u))
    api_token = fastsql.instance(ApiToken, fastsql.loads(t))
    api_token.user = user
    now = timezone.now()
    # keep last-use fresh to the minute without a write per request (as token_authenticate)
    if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
    rows = fastsql.loads(rows) or []
    roles = frozenset(name for name, _a, _c in rows if name)
    if user.is_superuser:
        roles |= {"admin"}
    actor = Actor(kind=API_CLIENT, id=str(api_token.pk), label=f"api:{api_token.name}", roles=roles,
                  user=user, context=_context(request),
                  perms=frozenset(f"{app}.{code}" for _g, app, code in rows if code))
    return api_token, actor


def requires(capability: str) -> list:
    """An operation's authentication and capability, declared on its route:
    ``@router.get(..., auth=requires("orders.view"))``. A bearer token or the session; no
    credentials is 401, credentials without the capability 403 (before the body is read)."""
    permissions.capability(capability)  # a misspelt code fails at import
    return [BearerToken(capability), SessionAuth(capability)]


class BearerToken(HttpBearer):
    def __init__(self, capability: str | None = None) -> None:
        self.capability = capability
        super().__init__()

    def authenticate(self, request, token):
        if fastsql.available():
            found = _bearer_actor(request, token)
            if found is None:
                return None
            request.actor = found[1]
            api_token = found[0]
        else:
            api_token = token_authenticate(token)
            if api_token is None:
                return None
            request.actor = Actor.for_user(api_token.user, context=_context(request), kind=API_CLIENT,
                                           label=f"api:{api_token.name}", actor_id=str(api_token.pk))
        if self.capability:
            permissions.check(request.actor, self.capability)
        return api_token


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


def capability_of(operation) -> str | None:
    """The capability an API operation declared: the one of its ``requires(...)``, "public" for
    ``auth=None`` (a webhook's signature, a quick-order link's token); None when it declared
    nothing (it then only needs someone signed in, and the permission matrix test fails)."""
    auth = operation.auth_param
    if auth is None:
        return "public"
    callbacks = auth if isinstance(auth, list | tuple) else [auth]
    caps = {getattr(cb, "capability", None) for cb in callbacks}
    return next(iter(caps)) if len(caps) == 1 and None not in caps else None


def declare_capabilities(*routers) -> None:
    """Put each operation's capability into the OpenAPI as ``x-orderhub-capability``."""
    for router in routers:
        for view in router.path_operations.values():
            for op in view.operations:
                cap = capability_of(op)
                if cap is not None:
                    op.openapi_extra = {**(op.openapi_extra or {}), "x-orderhub-capability": cap}

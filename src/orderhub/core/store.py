"""Reading core's rows on the hot path: the API token behind a bearer credential.

Twins, chosen by ``core.fastsql.available()``: the ORM (the token with its user, then the
user's roles and permissions: two queries) and one prepared statement returning the same rows
(PostgreSQL). ``tests/core/test_store.py`` runs both and compares the actors they give.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.db.models import Model
from django.utils import timezone

from . import fastsql
from .actors import API_CLIENT, Actor, RequestContext
from .models import ApiToken
from .tokens import TOKEN_PREFIX, token_digest


def token_actor(raw: str, *, context: RequestContext | None = None) -> tuple[ApiToken, Actor] | None:
    """The API token ``raw`` names (not revoked, its user active) and the actor a request made
    with it acts as (the user's roles and permissions, labelled ``api:<token name>``); None for
    anything else. Keeps ``last_used_at`` fresh to the minute (at most one write a minute)."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    digest = token_digest(raw)
    found = _token_fast(digest) if fastsql.available() else _token_orm(digest)
    if found is None:
        return None
    token, roles, perms = found
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    user = token.user
    if user.is_superuser:
        roles |= {"admin"}
    return token, Actor(kind=API_CLIENT, id=str(token.pk), label=f"api:{token.name}", roles=roles, user=user,
                        context=context or RequestContext(), perms=perms)


def _token_orm(digest: str) -> tuple[ApiToken, frozenset[str], frozenset[str]] | None:
    """ORM twin of :func:`_token_fast`."""
    token = (ApiToken.objects.select_related("user")
             .filter(key_hash=digest, revoked=False, user__is_active=True).first())
    if token is None:
        return None
    held = Actor.for_user(token.user)
    return token, held.roles, held.perms


def _token_fast(digest: str) -> tuple[ApiToken, frozenset[str], frozenset[str]] | None:
    """Fast twin of :func:`_token_orm`: token, user, roles and permissions in one statement."""
    found = fastsql.execute(_token_sql(), [digest])
    if not found:
        return None
    t, u, rows = found[0]
    token = fastsql.instance(ApiToken, fastsql.loads(t))
    token.user = fastsql.instance(get_user_model(), fastsql.loads(u))
    rows = fastsql.loads(rows) or []
    return (token, frozenset(name for name, _a, _c in rows if name),
            frozenset(f"{app}.{code}" for _g, app, code in rows if code))


@cache
def _token_sql() -> str:
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    User = get_user_model()
    q = fastsql.quote
    groups_rel = _through(User, "groups")
    perms_rel = _through(User, "user_permissions")
    group_perms = _through(Group, "permissions")
    groups, perms, types = fastsql.table(Group), fastsql.table(Permission), fastsql.table(ContentType)
    return (
        "WITH p AS MATERIALIZED (SELECT %s::jsonb AS d) "
        "SELECT to_jsonb(t)::text, to_jsonb(u)::text, "
        "(SELECT jsonb_agg(jsonb_build_array(x.g, x.app, x.code))::text FROM ("
        f"  SELECT g.name AS g, ct.app_label AS app, pm.codename AS code FROM {fastsql.table(groups_rel)} ug "
        f"   JOIN {groups} g ON g.id = ug.group_id "
        f"   LEFT JOIN {fastsql.table(group_perms)} gp ON gp.group_id = g.id "
        f"   LEFT JOIN {perms} pm ON pm.id = gp.permission_id "
        f"   LEFT JOIN {types} ct ON ct.id = pm.content_type_id WHERE ug.user_id = u.id "
        "  UNION ALL "
        f"  SELECT '', ct.app_label, pm.codename FROM {fastsql.table(perms_rel)} up "
        f"   JOIN {perms} pm ON pm.id = up.permission_id "
        f"   JOIN {types} ct ON ct.id = pm.content_type_id WHERE up.user_id = u.id) x) "
        f"FROM {fastsql.table(ApiToken)} t JOIN {fastsql.table(User)} u ON u.id = t.user_id "
        f"WHERE t.{q(fastsql.column_of(ApiToken._meta.get_field('key_hash')))} = (SELECT d->>0 FROM p) "
        f"AND NOT t.revoked AND u.is_active"
    )


def _through(model: type[Model], name: str) -> type[Model]:
    """The table behind the many-to-many field ``model.name``."""
    through = getattr(model._meta.get_field(name).remote_field, "through", None)
    if through is None:
        raise LookupError(f"{model.__name__}.{name} is not a many-to-many field")
    return through

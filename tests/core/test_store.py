"""core.store: the bearer token lookup gives the same token and actor on both twins."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from orderhub.core.actors import API_CLIENT, RequestContext
from orderhub.core.models import ApiToken
from orderhub.core.store import token_actor
from orderhub.core.tokens import token_create

pytestmark = pytest.mark.django_db


def _seen(found):
    token, actor = found
    return (token.pk, token.name, token.user.pk, actor.kind, actor.id, actor.label, actor.roles, actor.perms,
            actor.context, actor.user.get_username())


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_both_twins_give_the_same_token_and_actor(company, role):
    user = company["users"][role]
    user.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    if role == "admin":
        user.is_superuser = True
        user.save()
    token, raw = token_create(user=user, name="erp")
    ctx = RequestContext(ip="10.0.0.9", user_agent="erp/1", request_id="r1")
    token_actor(raw)  # the first use records last_used_at (then at most once a minute)
    seen = {}
    for path in ("fast", "orm"):
        with override_settings(ORDERHUB_SQL_PATH=path), CaptureQueriesContext(connection) as ran:
            seen[path] = _seen(token_actor(raw, context=ctx))
        seen[path + "_queries"] = len(ran.captured_queries)
    assert seen["fast"] == seen["orm"]
    assert seen["orm"][3:6] == (API_CLIENT, str(token.pk), "api:erp")
    assert "core.view_apitoken" in seen["orm"][7] and role in seen["orm"][6]
    if connection.vendor == "postgresql":
        # the fast twin: one statement; the ORM: the token, then the user's roles and permissions
        assert (seen["fast_queries"], seen["orm_queries"]) == (1, 2)


@pytest.mark.parametrize("path", ["fast", "orm"])
def test_revoked_unknown_and_inactive_give_nothing(company, path):
    user = company["users"]["sales"]
    token, raw = token_create(user=user, name="erp")
    with override_settings(ORDERHUB_SQL_PATH=path):
        assert token_actor(raw) is not None
        assert token_actor(raw + "x") is None and token_actor("nope") is None and token_actor("") is None
        ApiToken.objects.filter(pk=token.pk).update(revoked=True)
        assert token_actor(raw) is None
        _, raw2 = token_create(user=user, name="erp2")
        user.is_active = False
        user.save()
        assert token_actor(raw2) is None

"""Bearer authentication gives the same actor as the ORM path, in one statement."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from orderhub.core.actors import API_CLIENT, Actor
from orderhub.core.http.auth import BearerToken
from orderhub.core.models import ApiToken
from orderhub.core.tokens import token_create

pytestmark = pytest.mark.django_db


def _auth(raw):
    request = RequestFactory().get("/api/orders")
    return BearerToken().authenticate(request, raw), request


@pytest.mark.parametrize("role", ["sales", "planner", "finance"])
def test_bearer_actor_matches_actor_for_user(company, role):
    user = company["users"][role]
    user.user_permissions.add(Permission.objects.get(codename="view_apitoken"))  # a direct one too
    token, raw = token_create(user=user, name="erp")
    found, request = _auth(raw)
    assert found.pk == token.pk and found.user.pk == user.pk
    expected = Actor.for_user(user, kind=API_CLIENT, label="api:erp", actor_id=str(token.pk))
    got = request.actor
    assert (got.kind, got.id, got.label, got.roles) == (expected.kind, expected.id, expected.label, expected.roles)
    assert got.perms == expected.perms and "core.view_apitoken" in got.perms
    assert got.user.get_username() == user.get_username() and got.user.is_active


def test_bearer_refuses_revoked_unknown_and_inactive(company):
    user = company["users"]["sales"]
    token, raw = token_create(user=user, name="erp")
    assert _auth(raw + "x")[0] is None
    assert _auth("nope")[0] is None
    ApiToken.objects.filter(pk=token.pk).update(revoked=True)
    assert _auth(raw)[0] is None
    _, raw2 = token_create(user=user, name="erp2")
    user.is_active = False
    user.save()
    assert _auth(raw2)[0] is None


def test_bearer_auth_costs_one_statement(company):
    _, raw = token_create(user=company["users"]["sales"], name="erp")
    _auth(raw)  # first use records last_used_at (at most once a minute)
    with CaptureQueriesContext(connection) as ctx:
        found, _request = _auth(raw)
    assert found is not None
    assert len(ctx.captured_queries) == (1 if connection.vendor == "postgresql" else 2), ctx.captured_queries


def test_unknown_tokens_are_rate_limited_per_address_and_valid_ones_are_not(company, settings):
    """Refused bearer tokens count per client address; over the limit the API answers 429 with
    Retry-After and a Chinese message instead of 401, while a valid token is never slowed."""
    from django.test import Client

    settings.ORDERHUB_RATE_LIMITS = {"api_token_refused": "3/600"}
    _token, raw = token_create(user=company["users"]["sales"], name="erp")
    bad = Client(HTTP_AUTHORIZATION="Bearer oh_guess", REMOTE_ADDR="10.9.8.7")
    assert [bad.get("/api/orders").status_code for _ in range(3)] == [401, 401, 401]
    over = bad.get("/api/orders")
    assert over.status_code == 429 and int(over["Retry-After"]) > 0
    assert over.json()["code"] == "rate_limited" and "无效 API 令牌" in over.json()["message"]
    good = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", REMOTE_ADDR="10.9.8.7", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert [good.get("/api/orders").status_code for _ in range(5)] == [200] * 5
    other = Client(HTTP_AUTHORIZATION="Bearer oh_guess", REMOTE_ADDR="10.9.8.8")
    assert other.get("/api/orders").status_code == 401  # counted per address

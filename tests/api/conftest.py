"""API test helpers: a JSON client that authenticates with a bearer token per role."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from orderhub.core.tokens import token_create


class ApiClient:
    """Sends JSON with a bearer token and gives back (status, parsed JSON)."""

    def __init__(self, raw_token: str | None, **client_kwargs):
        self.client = Client(**client_kwargs)
        self.headers = {"Authorization": f"Bearer {raw_token}"} if raw_token else {}

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | str | None = None,
             headers: dict[str, str] | None = None, **query):
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        kwargs: dict[str, Any] = {"headers": {**self.headers, **(headers or {})}}
        if method == "get":
            resp = self.client.get(path, query or None, **kwargs)
        else:
            resp = getattr(self.client, method)(path, data=data if data is not None else b"",
                                                content_type="application/json", **kwargs)
        return resp

    def get(self, path, **query):
        return self.call("get", path, **query)

    def post(self, path, body=None, **kw):
        return self.call("post", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("put", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("patch", path, body, **kw)


@pytest.fixture
def api_as(company):
    """``api_as("sales")`` → an ApiClient authenticated with a token of that role's user."""
    made: dict[str, ApiClient] = {}

    def make(role: str) -> ApiClient:
        if role not in made:
            _, raw = token_create(user=company["users"][role], name=f"test-{role}")
            made[role] = ApiClient(raw)
        return made[role]

    return make


def order_body(**overrides) -> dict[str, Any]:
    body: dict[str, Any] = {"customer": "C001", "lines": [{"sku": "HSG-100", "qty": 100}],
                            "required_date": "2026-12-20"}
    body.update(overrides)
    return body

"""The API keeps its documented contract under hostile input: the crashes and contract faults the
hostile tester found (issue 12), each pinned, and the rules behind them checked across the API.

A response is checked against the OpenAPI the server publishes (``jsonschema``), so a body that
does not match its documented schema fails here, not in a client."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from jsonschema_rs import validator_for

from orderhub.api.api import api
from orderhub.intake.models import Draft
from orderhub.orders.models import Order
from tests.api.conftest import order_body

pytestmark = pytest.mark.django_db

REFUSALS = {"401", "403", "404", "409", "413", "422"}


@pytest.fixture(scope="module")
def openapi():
    return json.loads(json.dumps(api.get_openapi_schema()))  # as published: status codes are strings


def conforms(openapi, path: str, method: str, resp) -> None:
    """The response's status is documented for the operation and its body matches the schema."""
    operation = openapi["paths"][path][method]
    documented = operation["responses"].get(str(resp.status_code))
    assert documented is not None, f"{resp.status_code} is not documented for {method.upper()} {path}"
    schema = documented["content"]["application/json"]["schema"]
    validator = validator_for({**schema, "components": openapi["components"]})
    errors = [str(e) for e in validator.iter_errors(resp.json())]
    assert not errors, errors


def _fields(resp) -> set[str]:
    return {e.get("field") for e in resp.json().get("errors") or []}


# --------------------------------------------------------------------------- the crashes


def test_discarding_a_draft_that_does_not_exist_is_404_not_500(api_as, openapi):
    resp = api_as("admin").post("/api/intake/drafts/999999/discard", {})
    assert resp.status_code == 404 and resp.json()["code"] == "draft_not_found"
    conforms(openapi, "/api/intake/drafts/{draft_id}/discard", "post", resp)
    resp = api_as("admin").post("/api/intake/drafts/999999/confirm", {})
    assert resp.status_code == 404


def test_a_row_that_vanished_under_a_service_is_404_json(api_as, monkeypatch):
    """Any ``DoesNotExist`` a service lets through (a ``.get()`` of an id from the request)
    answers 404 with a JSON body, never a 500 page."""
    from orderhub.intake import api as intake_api

    def vanished(**kwargs):
        raise Draft.DoesNotExist("Draft matching query does not exist.")

    monkeypatch.setattr(intake_api.services, "draft_discard", vanished)
    # the draft is seen (the scope check before the service), then vanishes under the service
    monkeypatch.setattr(intake_api.selectors, "get_draft", lambda draft_id, actor: None)
    resp = api_as("admin").post("/api/intake/drafts/1/discard", {})
    assert resp.status_code == 404 and resp.json() == {"code": "not_found", "message": "未找到。"}


@pytest.mark.parametrize("move", ["transition", "override"])
def test_a_move_of_a_cancelled_order_is_409_in_the_documented_shape(api_as, openapi, move):
    number = api_as("sales").post("/api/orders", order_body()).json()["number"]
    assert api_as("manager").post(f"/api/orders/{number}/cancel", {"reason": "客户取消"}).status_code == 200
    resp = api_as("manager").post(f"/api/orders/{number}/{move}", {"to": "scheduled", "reason": "急单"})
    assert resp.status_code == 409
    body = resp.json()
    assert body["code"] == "order_closed" and body["order"]["status"] == "cancelled"
    assert [r["code"] for r in body["reasons"]] == ["order_closed"]
    conforms(openapi, f"/api/orders/{{number}}/{move}", "post", resp)


def test_every_409_of_a_move_has_one_shape(api_as, openapi):
    number = api_as("sales").post("/api/orders", order_body()).json()["number"]
    skip = api_as("manager").post(f"/api/orders/{number}/transition", {"to": "shipped"})  # not next
    assert skip.status_code == 409 and skip.json()["code"] == "invalid_transition"
    conforms(openapi, "/api/orders/{number}/transition", "post", skip)
    api_as("finance").post(f"/api/orders/{number}/hold", {"reason": "税号错误"})
    held = api_as("service").post(f"/api/orders/{number}/transition", {"to": "scheduled"})
    assert held.status_code == 409 and held.json()["code"] == "blocked"
    conforms(openapi, "/api/orders/{number}/transition", "post", held)


def test_dates_in_query_strings_are_iso_dates_only(api_as, openapi):
    for param in ("required_to", "required_from", "created_from", "created_to"):
        for value in ("0", "1700000000", "2026-1-5", "20261205", "2026-12-05T00:00:00", "٢٠٢٦-١٢-٠٥"):
            resp = api_as("sales").get("/api/orders", **{param: value})
            assert resp.status_code == 422, (param, value, resp.content)
            assert _fields(resp) == {param}
            conforms(openapi, "/api/orders", "get", resp)


def test_iso_dates_in_query_strings_still_filter(api_as):
    api_as("sales").post("/api/orders", order_body(required_date="2026-12-20"))
    assert api_as("sales").get("/api/orders", required_to="2026-12-19").json()["count"] == 0
    assert api_as("sales").get("/api/orders", required_to="2026-12-20").json()["count"] == 1
    resp = api_as("sales").get("/api/intake/messages", received_from="0")
    assert resp.status_code == 422 and _fields(resp) == {"received_from"}


def test_dates_in_bodies_are_iso_dates_only(api_as):
    for value in (0, 1000000000, "1000000000", "2026/12/20", "2026-12-20T08:00:00"):
        resp = api_as("sales").post("/api/orders", order_body(required_date=value))
        assert resp.status_code == 422 and _fields(resp) == {"required_date"}, (value, resp.content)
    assert Order.objects.count() == 0


# --------------------------------------------------------------------------- control characters


CONTROL_CASES = [
    ({"tags": ["急\u000b单"]}, "tags[0]"),
    ({"external_ref": "PO-1\u000b"}, "external_ref"),
    ({"external_ref": "PO-1\n2"}, "external_ref"),  # one line: no line breaks either
    ({"customer": "C0\t01"}, "customer"),
    ({"remarks": "请避开周一\u0007送货"}, "remarks"),
    ({"remarks": "C1 \u0085 too"}, "remarks"),
    ({"lines": [{"sku": "HSG-100\u001b", "qty": 1}]}, "lines[0].sku"),
    ({"lines": [{"sku": "HSG-100", "qty": 1, "remarks": "\u000c"}]}, "lines[0].remarks"),
]


def test_control_characters_are_refused_naming_the_field(api_as):
    for overrides, field in CONTROL_CASES:
        resp = api_as("sales").post("/api/orders", order_body(**overrides))
        assert resp.status_code == 422, (overrides, resp.content)
        assert field in _fields(resp), (overrides, resp.content)
        assert "U+" in resp.json()["message"]  # says which character
    assert Order.objects.count() == 0


def test_multi_line_fields_keep_tabs_and_line_breaks(api_as):
    resp = api_as("sales").post("/api/orders", order_body(remarks="第一行\r\n第二行\t附检验报告",
                                                          lines=[{"sku": "HSG-100", "qty": 1, "remarks": "a\nb"}]))
    assert resp.status_code == 201, resp.content
    assert resp.json()["remarks"] == "第一行\r\n第二行\t附检验报告"


def test_control_characters_are_refused_in_changes_moves_and_filters(api_as):
    number = api_as("sales").post("/api/orders", order_body()).json()["number"]
    resp = api_as("sales").patch(f"/api/orders/{number}", {"tags": ["ok", "b\u0000d"]})
    assert resp.status_code == 422 and "tags[1]" in _fields(resp)
    resp = api_as("finance").post(f"/api/orders/{number}/hold", {"reason": "税号\u001b错误"})
    assert resp.status_code == 422 and _fields(resp) == {"reason"}
    resp = api_as("sales").get("/api/orders", tag="a\u000bb")
    assert resp.status_code == 422 and _fields(resp) == {"tag"}
    resp = api_as("sales").get(f"/api/orders/{number}\u000b")
    assert resp.status_code == 422 and _fields(resp) == {"number"}
    # a channel that cannot exist is refused (and logged) before any query: was a DataError
    resp = Client().post("/api/intake/%00", data=b"{}", content_type="application/json")
    assert resp.status_code == 404 and resp.json()["code"] == "unknown_channel"


def test_the_service_refuses_control_characters_too(company):
    """Not only the API schema: every caller of ``order_create`` (forms, imports, drafts)."""
    from orderhub.core.errors import ValidationFailed
    from orderhub.orders.services import order_create
    from tests.conftest import order_input

    with pytest.raises(ValidationFailed) as refused:
        order_create(data=order_input(tags=["a\u000bb"]), actor=company["actors"]["sales"])
    assert [p.field for p in refused.value.problems] == ["tags"]


# --------------------------------------------------------------------------- the refusals, documented


def test_every_operation_documents_every_refusal(openapi):
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert REFUSALS <= documented, (method, path, REFUSALS - documented)
            for status in REFUSALS:
                assert operation["responses"][status]["description"] not in ("", "Unknown Status Code")


def test_the_422_rules_are_in_the_openapi(openapi):
    schemas = openapi["components"]["schemas"]
    for name in ("OverrideIn", "RequiredReasonIn"):  # reason required: override, hold, cancel
        reason = schemas[name]["properties"]["reason"]
        assert "reason" in schemas[name]["required"]
        assert reason["minLength"] == 1 and reason["pattern"] == r"\S"
    for path in ("/api/orders/{number}/hold", "/api/orders/{number}/cancel"):
        body = openapi["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].endswith("/RequiredReasonIn")
    assert schemas["TransitionIn"]["properties"]["to"]["pattern"] == "^[a-z][a-z0-9_]{0,39}$"
    required = schemas["OrderIn"]["properties"]["required_date"]
    assert required["format"] == "date"
    params = {p["name"]: p for p in openapi["paths"]["/api/orders"]["get"]["parameters"]}
    assert params["urgency"]["schema"]["anyOf"][0]["enum"] == ["red", "yellow", "green"]
    assert "ISO" in openapi["paths"]["/api/orders"]["get"]["description"]
    assert "reason" in openapi["paths"]["/api/orders/{number}/override"]["post"]["description"]
    assert "date" in openapi["paths"]["/api/orders"]["get"]["responses"]["422"]["description"]


def test_blank_reasons_are_refused_by_the_schema_in_the_users_language(api_as):
    number = api_as("sales").post("/api/orders", order_body()).json()["number"]
    resp = api_as("manager").post(f"/api/orders/{number}/cancel", {"reason": "   "})
    assert resp.status_code == 422 and _fields(resp) == {"reason"}
    assert resp.json()["errors"][0]["message"] == "必须填写原因。"
    resp = api_as("manager").post(f"/api/orders/{number}/cancel", {})
    assert resp.json()["errors"][0]["message"] == "此项为必填项。"


def test_unauthenticated_and_unknown_answers_match_their_schemas(company, api_as, openapi):
    resp = Client().get("/api/orders")
    assert resp.status_code == 401
    conforms(openapi, "/api/orders", "get", resp)
    resp = api_as("sales").get("/api/orders/SO-000000-000000")
    assert resp.status_code == 404
    conforms(openapi, "/api/orders/{number}", "get", resp)


def test_schema_names_are_unique():
    """OpenAPI names a component by its class name: two schemas of one name overwrite each
    other in the published document (an order's lines once read as a portal's)."""
    from ninja import Schema

    from orderhub.api.api import api as assembled

    assembled.get_openapi_schema()  # every router imported
    seen: dict[str, str] = {}
    clashes = []
    todo = list(Schema.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if not cls.__module__.startswith("orderhub."):
            continue
        where = f"{cls.__module__}.{cls.__qualname__}"
        if seen.setdefault(cls.__name__, where) != where:
            clashes.append(f"{cls.__name__}: {seen[cls.__name__]} and {where}")
    assert not clashes, clashes

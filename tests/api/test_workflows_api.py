"""Workflow definitions over the API: read, and save new versions that are validated first."""

from __future__ import annotations

import copy

import pytest

from orderhub.workflow.models import WorkflowDefinition
from tests.api.conftest import order_body

pytestmark = pytest.mark.django_db


def _t1(api_as) -> dict:
    resp = api_as("admin").get("/api/workflows/T1")
    assert resp.status_code == 200
    return copy.deepcopy(resp.json()["spec"])


def _stage(spec: dict, code: str) -> dict:
    return next(s for s in spec["stages"] if s["code"] == code)


def _versions() -> int:
    return WorkflowDefinition.objects.filter(code="T1").count()


def test_list_and_get_workflows(api_as):
    client = api_as("sales")
    resp = client.get("/api/workflows")
    assert resp.status_code == 200
    listed = resp.json()
    assert [w["code"] for w in listed] == ["T1", "T2", "T3", "T4"]
    assert all(w["version"] == 1 and w["is_current"] for w in listed)

    resp = client.get("/api/workflows/T1")
    assert resp.status_code == 200
    t1 = resp.json()
    assert t1["code"] == "T1" and t1["version"] == 1 and t1["created_by"] == "setup"
    assert t1["spec"]["initial"] == "pending"
    assert [s["code"] for s in t1["spec"]["stages"]][:3] == ["pending", "scheduled", "materials_ready"]

    resp = client.get("/api/workflows/T9")
    assert resp.status_code == 404 and resp.json()["code"] == "unknown_workflow"


def _refused(api_as, spec: dict, *needles: str) -> dict:
    before = _versions()
    resp = api_as("admin").put("/api/workflows/T1", spec, headers={"Accept-Language": "en"})
    assert resp.status_code == 422, resp.content
    body = resp.json()
    assert body["code"] == "invalid_definition"
    text = body["message"] + " " + " ".join(e["message"] + " " + (e.get("field") or "")
                                            for e in body.get("errors") or [])
    for needle in needles:
        assert needle in body["message"] or needle in text, (needle, body)
    assert _versions() == before
    assert api_as("admin").get("/api/workflows/T1").json()["version"] == 1
    return body


def test_unknown_field_is_refused_naming_it(api_as):
    spec = _t1(api_as)
    _stage(spec, "scheduled")["colour"] = "red"
    body = _refused(api_as, spec, "colour")
    assert "colour" in body["message"] and "scheduled" in body["message"]
    spec = _t1(api_as)
    spec["owner"] = "me"
    assert "owner" in _refused(api_as, spec)["message"]


def test_bad_expression_is_refused_naming_the_stage(api_as):
    spec = _t1(api_as)
    _stage(spec, "scheduled")["guards"] = [
        {"code": "credit_ok", "expr": "credit_avail > total *", "message": "信用额度不足"}]
    body = _refused(api_as, spec, "credit_ok")
    assert "scheduled" in body["message"]
    assert any((e.get("field") or "").endswith(".expr") for e in body["errors"])

    spec = _t1(api_as)  # a misspelt name in an otherwise valid expression
    _stage(spec, "scheduled")["guards"] = [
        {"code": "credit_ok", "expr": "credit_avail > total", "message": "信用额度不足"}]
    _refused(api_as, spec, "scheduled", "credit_ok")


def test_unreachable_and_dangling_stages_are_refused_naming_them(api_as):
    spec = _t1(api_as)
    spec["stages"].insert(3, {"code": "limbo", "name": "无人可达", "owner_role": "planner",
                              "next": ["machining"]})
    body = _refused(api_as, spec, "limbo")
    assert "limbo" in body["message"]

    spec = _t1(api_as)
    _stage(spec, "qc")["next"] = ["rework"]
    _refused(api_as, spec, "rework", "qc")

    spec = _t1(api_as)
    _stage(spec, "qc")["owner_role"] = "inspector"
    _refused(api_as, spec, "inspector")


def test_other_bad_bodies_are_refused(api_as):
    admin = api_as("admin")
    spec = _t1(api_as)
    resp = admin.put("/api/workflows/T2", spec)  # the body says T1
    assert resp.status_code == 422 and resp.json()["code"] == "code_mismatch"
    for raw in ("[1, 2]", '"T1"', "null"):
        resp = admin.put("/api/workflows/T1", raw=raw)
        assert resp.status_code == 422, raw
        assert resp.json()["code"]
    assert admin.put("/api/workflows/T1", raw="{bad json").status_code == 400
    resp = api_as("manager").put("/api/workflows/T1", spec)
    assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
    assert _versions() == 1


def test_valid_edit_makes_version_2_and_running_orders_keep_version_1(api_as):
    sales = api_as("sales")
    old = sales.post("/api/orders", order_body())
    assert old.status_code == 201 and old.json()["workflow_version"] == 1
    old = old.json()["number"]

    spec = _t1(api_as)
    _stage(spec, "pending")["name"] = "待客服确认"
    _stage(spec, "pending")["deadline"] = {"business_hours": 2.5}  # a fractional JSON number
    resp = api_as("admin").put("/api/workflows/T1", spec)
    assert resp.status_code == 200, resp.content
    saved = resp.json()
    assert saved["version"] == 2 and saved["is_current"] and saved["created_by"] == "api:test-admin"
    assert _stage(saved["spec"], "pending")["deadline"] == {"business_hours": 2.5}
    assert api_as("admin").get("/api/workflows/T1").json()["version"] == 2
    assert WorkflowDefinition.objects.filter(code="T1", is_current=True).count() == 1
    # saving the same definition again changes nothing
    assert api_as("admin").put("/api/workflows/T1", spec).json()["version"] == 2

    new = sales.post("/api/orders", order_body()).json()
    assert new["workflow_version"] == 2 and new["stage_name"] == "待客服确认"
    kept = sales.get(f"/api/orders/{old}").json()
    assert kept["workflow_version"] == 1 and kept["stage_name"] == "待确认"
    # the running order still moves under version 1
    moved = api_as("service").post(f"/api/orders/{old}/transition", {"to": "scheduled"})
    assert moved.status_code == 200 and moved.json()["workflow_version"] == 1


def test_guard_test_tries_saved_or_drafted_checks_on_an_order_and_writes_nothing(api_as):
    admin = api_as("admin")
    number = admin.post("/api/orders", order_body()).json()["number"]   # 100 housings, ¥12,000, no stock
    saved = admin.post("/api/workflows/T3/guard-test", {"order": number, "stage": "production_locked"})
    assert saved.status_code == 200, saved.json()
    body = saved.json()
    assert body["passed"] is False and body["stage_name"] == "排产锁定"
    assert body["guards"] == ["stock_cover", "credit_cover"]
    assert [r["code"] for r in body["reasons"]] == ["stock_cover"] and "库存不足" in body["reasons"][0]["message"]
    assert body["values"]["total"] == "12000" and "credit_available" in body["values"]
    draft = admin.post("/api/workflows/T3/guard-test", {"order": number, "stage": "production_locked", "guards": [
        {"code": "big", "expr": "total >= 12000", "message": "金额 {total} 太小"}]})
    assert draft.status_code == 200 and draft.json()["passed"] is True
    bad = admin.post("/api/workflows/T3/guard-test", {"order": number, "stage": "production_locked", "guards": [
        {"code": "big", "expr": "totl >= 12000", "message": "x"}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "guards[0].expr"
    assert admin.post("/api/workflows/T3/guard-test", {"order": number, "stage": "nowhere"}).status_code == 404
    assert admin.post("/api/workflows/T3/guard-test", {"order": "NOPE-1", "stage": "paid"}).status_code == 404
    assert api_as("planner").post("/api/workflows/T3/guard-test",
                                  {"order": number, "stage": "production_locked"}).status_code == 403
    assert WorkflowDefinition.objects.filter(code="T3").count() == 1

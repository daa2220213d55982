"""Rules over the API, the twin of the rules pages: read as anyone who sees orders, create and
change as an administrator, every fault named by its place, every save audited."""

import pytest

from orderhub.core.models import AuditEvent
from orderhub.rules.models import Rule

pytestmark = pytest.mark.django_db

RULE = {"name": "big", "trigger": "order_created", "condition": "total > 50000",
        "actions": [{"type": "notify", "roles": ["planning_supervisor"], "severity": "red"},
                    {"type": "open_ticket", "title": "大单复核", "business_hours": 4}]}


def test_create_read_change_and_refuse_with_the_place_named(api_as):
    admin = api_as("admin")
    made = admin.post("/api/rules", RULE)
    assert made.status_code == 201, made.json()
    rule = made.json()
    assert rule["actions"][1]["business_hours"] in (4, "4", 4.0) and "admin" in rule["updated_by"]
    assert [r["name"] for r in api_as("planner").get("/api/rules").json()] == ["big"]
    assert api_as("sales").get(f"/api/rules/{rule['id']}").json()["condition"] == "total > 50000"
    bad = admin.put(f"/api/rules/{rule['id']}", {**RULE, "condition": "totl > 1",
                                                   "actions": [{"type": "set_urgency", "value": "purple"}]})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"condition", "actions[0](set_urgency).value"}
    nul = admin.put(f"/api/rules/{rule['id']}", {**RULE, "actions": [{"type": "hold", "reason": "a\x00b"}]})
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "actions[0].reason"
    ok = admin.put(f"/api/rules/{rule['id']}", {**RULE, "enabled": False})
    assert ok.status_code == 200 and ok.json()["enabled"] is False
    assert not Rule.objects.get(pk=rule["id"]).enabled
    assert AuditEvent.objects.filter(subject_type="rule", subject_id=rule["id"]).count() == 2
    assert api_as("planner").post("/api/rules", {**RULE, "name": "x"}).status_code == 403
    assert admin.get("/api/rules/999999").status_code == 404

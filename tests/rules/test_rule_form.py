"""The rule editor's actions as form rows: a rule round-trips through the form unchanged, a
change is saved through the service, a fault is shown under its row's setting; the YAML list
stays as the advanced view."""

import pytest
from django.test import Client

from orderhub.core.actors import Actor
from orderhub.rules.models import Rule
from orderhub.rules.services import rules_install_defaults
from tests.web.test_workflow_editor import form_fields

pytestmark = [pytest.mark.django_db]


def admin() -> Client:
    c = Client()
    assert c.login(username="admin", password="pw-admin")
    return c


def _fields(c, rule) -> dict:
    html = c.get(f"/rules/{rule.pk}/").content.decode().replace("<form method=\"post\" class=\"card\">",
                                                                  "<form method=\"post\" class=\"card\" data-testid=\"rule-form\">")
    fields = form_fields(html, "rule-form")
    fields["mode"] = ["form"]
    return fields


def test_shipped_rules_round_trip_through_the_form_and_a_row_change_is_saved(company):
    rules_install_defaults(actor=Actor.system("setup"))
    c = admin()
    for rule in Rule.objects.all():
        before = rule.actions
        assert c.post(f"/rules/{rule.pk}/", _fields(c, rule)).status_code == 302
        rule.refresh_from_db()
        assert rule.actions == before, rule.name
    rule = Rule.objects.get(name="t1_triage_urgent_big")
    fields = _fields(c, rule)
    assert fields["a-0-roles"] == ["planning_supervisor", "production_director"]
    fields.update({"a-0-severity": ["warning"], "a-1-type": ["add_tag"], "a-1-tag": ["急单大单"]})
    assert c.post(f"/rules/{rule.pk}/", fields).status_code == 302
    rule.refresh_from_db()
    assert rule.actions[0]["severity"] == "warning" and rule.actions[0]["channels"] == ["dingtalk", "inapp"]
    assert rule.actions[1] == {"type": "add_tag", "tag": "急单大单"}


def test_a_fault_is_shown_under_its_row_and_nothing_is_saved(company):
    rules_install_defaults(actor=Actor.system("setup"))
    c = admin()
    rule = Rule.objects.get(name="t1_override_report")
    fields = _fields(c, rule)
    fields.update({"a-1-type": ["set_urgency"], "a-1-value": [""], "a-0-roles": []})
    r = c.post(f"/rules/{rule.pk}/", fields)
    assert r.status_code == 400
    html = r.content.decode()
    value = html.split('name="a-1-value"')[1].split("data-for=")[0]
    assert "invalid-feedback" in value
    first = html.split('name="a-0-type"')[1].split("data-for=")[0]
    assert "invalid-feedback" in first          # notify with nobody to tell
    rule.refresh_from_db()
    assert len(rule.actions) == 1 and rule.actions[0]["roles"] == ["operations_director"]
    # the advanced view saves the YAML list as before
    fields = _fields(c, rule)
    fields.update({"mode": ["yaml"], "actions": ["- type: hold\n  reason: 待复核\n"]})
    assert c.post(f"/rules/{rule.pk}/", fields).status_code == 302
    rule.refresh_from_db()
    assert rule.actions == [{"type": "hold", "reason": "待复核"}]


def test_the_condition_has_a_field_picker(company):
    html = admin().get("/rules/new/").content.decode()
    assert 'data-insert-into="f-cond"' in html and 'value="credit_available"' in html and 'value="forced"' in html

"""The rule editor's top box lists every fault in Chinese (issue 14: it said only 未保存), each
with a link to its field, the same message as under the field."""

import re

import pytest
from django.test import Client

from orderhub.rules.models import Rule

pytestmark = [pytest.mark.django_db]


def _post(fields: dict) -> str:
    c = Client()
    assert c.login(username="admin", password="pw-admin")
    base = {"name": "", "trigger": "order_created", "condition": "totl > 1", "mode": "form", "a-count": "3",
            "a-0-type": "notify", "a-0-severity": "info",
            "a-1-type": "hold", "a-1-reason": "",
            "a-2-type": "set_urgency", "a-2-value": ""}
    resp = c.post("/rules/new/", {**base, **fields})
    assert resp.status_code == 400
    return resp.content.decode()


def test_every_fault_is_listed_in_chinese_with_a_link_to_its_field(company):
    html = _post({})
    box = html.split('data-testid="rule-fault-list"')[1].split("</ul>")[0]
    items = re.findall(r'<li><a class="alert-link" href="#([^"]+)">([^<]+)</a>：([^<]+)</li>', box)
    anchors = {a for a, _, _ in items}
    assert {"f-name", "f-cond", "a-0-type", "a-1-reason", "a-2-value"} <= anchors, items
    for anchor, label, message in items:
        assert f'id="{anchor}"' in html, anchor                  # the link lands on the field
        assert re.search(r"[\u4e00-\u9fff]", label) and re.search(r"[\u4e00-\u9fff]", message), (label, message)
        assert "actions[" not in message and "String should" not in message, message
    labels = dict((a, label) for a, label, _ in items)
    assert labels["a-1-reason"] == "动作 2 · 挂起原因"
    assert "未保存。" not in box                                 # the title says it once
    assert not Rule.objects.exists()


def test_a_yaml_fault_is_listed_under_the_actions(company):
    html = _post({"mode": "yaml", "a-count": "0", "name": "r", "condition": "",
                  "actions": "- type: set_urgency\n  value: purple\n"})
    box = html.split('data-testid="rule-fault-list"')[1].split("</ul>")[0]
    assert 'href="#f-actions"' in box and "不是允许的取值" in box and "purple" not in box

"""Everyone the shipped rules, escalation ladders and stage owners address has a demo login."""

import pytest
import yaml

from orderhub.demo.loader import USERS, _users
from orderhub.rules.services import DEFAULTS_FILE
from orderhub.workflow.services import load_template, template_files

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def _addressed_roles() -> set[str]:
    roles: set[str] = set()
    for rule in yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8")):
        for action in rule["actions"]:
            roles.update(action.get("roles", []))
            if action.get("owner_role"):
                roles.add(action["owner_role"])
    for path in template_files():
        spec = load_template(path)
        for holder in [*spec["stages"], *spec.get("tickets", [])]:
            roles.add(holder["owner_role"])
            for step in holder.get("escalation", []):
                roles.update(step.get("roles", []))
    return roles


def test_every_role_the_shipped_configuration_alerts_has_a_demo_user():
    roles = _addressed_roles()
    assert {"planning_supervisor", "production_director", "operations_director", "vice_president",
            "production_manager"} <= roles  # the check reads what it claims to read
    users = _users()
    holders = {g.name for u in users.values() for g in u.groups.all()}
    assert roles - holders == set()
    assert set(users) == set(USERS)

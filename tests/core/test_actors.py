import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from orderhub.core.actors import Actor

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_actor_reads_roles_and_permissions_from_groups_and_direct_grants(company):
    planner = Actor.for_user(company["users"]["planner"])
    assert planner.roles == {"planner"}
    assert planner.has_perm("orders.add_order") and not planner.has_perm("orders.override_guard")
    loner = get_user_model().objects.create_user(username="loner", password="x")
    loner.user_permissions.add(Permission.objects.get(codename="override_guard"))
    actor = Actor.for_user(loner)
    assert actor.roles == frozenset() and actor.has_perm("orders.override_guard")
    assert not actor.has_perm("orders.add_order")
    loner.is_active = False
    assert not Actor.for_user(loner).has_perm("orders.override_guard")

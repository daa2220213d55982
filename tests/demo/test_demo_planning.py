"""The demo's capacity planning (issue 18 items 7-9): T1 orders promised from capacity at
confirmation while the history is replayed, a loaded capacity board, rush options on a released
order, a risk list, and the warning's precision and recall measured on the demo's history."""

import pytest
from django.test import Client

from orderhub.core.models import AuditEvent
from orderhub.demo.loader import load_demo
from orderhub.orders import events
from orderhub.planning.models import OrderPlan

pytestmark = [pytest.mark.django_db]


def test_demo_has_a_loaded_schedule_rush_options_and_risks():
    result = load_demo(orders=150)
    plan = result["planning"]
    print("demo planning:", plan)
    assert plan["released"] >= 20 and plan["operations"] > plan["released"]
    promised = [e for e in AuditEvent.objects.filter(subject_type="order", action=events.ORDER_TRANSITIONED,
                                                     data__to="scheduled") if "promised_date" in e.data["actions"]]
    assert len(promised) >= 20
    client = Client()
    assert client.login(username="planner", password=result["users"]["planner"])
    board = client.get("/planning/").content.decode()
    assert "数控车床一线" in board and ('data-level="full"' in board or 'data-level="high"' in board)
    released = OrderPlan.objects.filter(order__stage="scheduled", order__status="open").first()
    rush = client.get(f"/orders/{released.order.number}/rush/").content.decode()
    assert rush.count('data-testid="rush-option"') >= 2
    risks = client.get("/planning/risks/").content.decode()
    assert 'data-testid="risk-row"' in risks and 'data-testid="risk-score"' in risks

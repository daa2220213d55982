"""The demo company loads through the services, and the `orderhub` commands work."""

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from orderhub.core.models import ApiToken
from orderhub.demo.loader import load_demo
from orderhub.orders.models import Order
from orderhub.orders.selectors import verify_order_audit

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_demo_company_has_orders_in_every_t1_stage_some_overdue_and_blocked():
    result = load_demo(orders=300)
    assert result["orders"] == 300
    stages = set(Order.objects.filter(workflow__code="T1").values_list("stage", flat=True))
    assert stages == {"pending", "scheduled", "materials_ready", "machining", "qc", "packed", "shipped"}
    assert 10 <= result["overdue"] <= 150
    assert 3 <= result["blocked"] <= 100
    assert Order.objects.filter(on_hold=True).exists() and Order.objects.filter(forced=True).exists()
    _, breaks, bad = verify_order_audit()
    assert breaks == [] and bad == []
    # issue 15: ship-to address books, an order whose lines changed and one restored
    from orderhub.catalog.models import CustomerAddress
    from orderhub.core.models import AuditEvent
    from orderhub.orders import events

    assert CustomerAddress.objects.filter(customer__code="C0101", is_default=True).count() == 1
    actions = set(AuditEvent.objects.filter(subject_type="order").values_list("action", flat=True))
    assert {events.ORDER_LINES_CHANGED, events.ORDER_RESTORED, events.ORDER_CHANGE_REQUESTED} <= actions
    from orderhub.orders.models import ChangeRequest

    assert ChangeRequest.objects.filter(status="pending").count() == 1    # one frozen order awaiting approval
    # the first stage's owner was told as each order came in: first touch is seconds, not days
    from orderhub.notify.selectors import first_touch_stats

    touch = first_touch_stats()
    assert touch.count == 300 and touch.p99_seconds < 60
    # the printed logins work
    client = Client()
    assert client.login(username="planner", password=result["users"]["planner"])
    home = client.get("/").content.decode()
    assert "我的待办" in home and "已排产" in home  # the planner's own stage, with its orders
    board = client.get("/board/T1/").content.decode()
    assert all(name in board for name in ("待确认", "物料齐套", "已发货"))
    # the four-colour board of the distribution arm has orders in every colour
    t2 = set(Order.objects.filter(workflow__code="T2").values_list("stage", flat=True))
    assert t2 == {"paid", "picking", "shipped", "delivered"}
    assert "分拣中" in client.get("/board/T2/").content.decode()
    # purchasing: a PO partly received, one covering a shortage (named in the move's history),
    # one too late (named in the blocking reason)
    po = result["purchasing"]
    assert po["covered"] == "True"
    assert Order.objects.get(number=po["covered_order"]).stage == "materials_ready"
    late = Order.objects.get(number=po["late_order"])
    assert late.stage == "scheduled" and f"采购单 {po['late']}" in late.blocked_reasons[0]["message"]
    client.login(username="purchaser", password=result["users"]["purchaser"])
    assert po["partly_received"] in client.get("/purchasing/").content.decode()
    with pytest.raises(RuntimeError):
        load_demo(orders=10)


def test_token_create_prints_a_working_token(capsys, company):
    call_command("token", "create", user="planner", name="erp")
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("oh_") and ApiToken.objects.get(name="erp").prefix == raw[:10]
    resp = Client().get("/api/orders", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert resp.status_code == 200
    with pytest.raises(CommandError):
        call_command("token", "create", user="nobody", name="x")


def test_orderhub_command_lists_its_subcommands():
    out = subprocess.run([sys.executable, "-m", "orderhub.cli", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for word in ("demo", "serve", "migrate", "loaddemo", "token", "audit"):
        assert word in out

"""The demo company loads through the services, and the `orderhub` commands work."""

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from orderhub.catalog.models import Customer
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
    # shop-floor tickets: closed ones fill the knowledge base, a few are open on their clock
    from orderhub.floor.models import FloorTicket

    assert result["floor_tickets"] == 15
    closed = FloorTicket.objects.filter(ticket__status="resolved")
    assert closed.count() == 12 and closed.filter(search_text__icontains="尺寸").count() >= 3
    # each finance hold told the order's own sales owner (the shipped rule hold_tell_sales_owner)
    from orderhub.notify.models import Message

    # one order paused by the carrier breaker (a disrupted route), the rest held by people
    assert result["breaker_paused"] == 1
    assert Order.objects.filter(on_hold=True, breaker_trips__kind="carrier").count() == 1
    for held in Order.objects.filter(on_hold=True).exclude(breaker_trips__reset_at__isnull=True,
                                                            breaker_trips__holds=True).select_related("owner"):
        told = Message.objects.filter(event="rule.notify", order=held, channel="inapp")
        assert held.owner is not None and {m.user_id for m in told} == {held.owner_id}, held.number
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
    # the first stage's owner was told minutes after each order came in (the dashboards' first
    # touch has a figure to show): minutes, not days
    from orderhub.kpis import selectors as kpis
    from orderhub.notify.selectors import first_touch_stats

    touch = first_touch_stats()
    assert touch.count == 300 and 0 < touch.median_business_seconds <= 35 * 60
    # every KPI figure has something to show (docs/kpis.md)
    f = kpis.KpiFilter.build()
    assert kpis.stalled(f)["count"] >= 6 and kpis.exceptions(f)["count"] >= 15
    assert kpis.on_time(f)["completed"] > 0 and kpis.order_processing(f)["count"] > 0
    assert kpis.overdue(f)["count"] > 0 and kpis.stage_times(f) and kpis.open_by_stage(f)
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
    # issue 18 items 4 and 5: 6061 below safety stock, its not-yet-started orders red, owners
    # told; a replenishment request from order heat with its evidence
    from orderhub.orders.models import SafetyFlag

    alerts = result["stock_alerts"]
    flagged = SafetyFlag.objects.filter(product__sku="MAT-AL6061")
    assert flagged.filter(order__number=alerts["safety_order"]).exists() and alerts["told"] >= 1
    assert "6063铝棒" in client.get(f"/orders/{alerts['safety_order']}/").content.decode()
    from orderhub.purchasing.models import PurchaseRequest

    [pr] = PurchaseRequest.objects.filter(number__in=alerts["replenishment"], product__sku="AP-WPR-24")
    page = client.get(f"/purchasing/requests/{pr.number}/").content.decode()
    assert 'data-testid="evidence"' in page and "雨刮片" in page
    # partial deliveries: shipments with the rest of their line still open, some shipped, and a
    # printable delivery note
    from orderhub.shipping import documents
    from orderhub.shipping.models import Shipment
    from orderhub.shipping.selectors import line_progress

    assert result["shipments"] >= 3
    shipped = Shipment.objects.filter(status="shipped").first()
    assert shipped is not None and Shipment.objects.filter(status="planned").exists()
    assert any(p["open"] > 0 for p in line_progress(shipped.order))
    assert documents.shipment_pdf(shipped, "delivery-note").startswith(b"%PDF-")
    # finance (issue 19 items 4, 5): invoices, a bank import with a row left to match, a broken
    # promise alerted, a return received with its credit note; unpaid = open invoice balances
    # plus what the customer owed before (the demo's figures, kept as outside OrderHub)
    from orderhub.finance.models import BankImport, CreditNote, Invoice, PaymentPromise
    from orderhub.finance.services.credit import open_balance

    assert result["invoices"] >= 6 and BankImport.objects.get().unmatched == 1
    assert PaymentPromise.objects.filter(alerted_at__isnull=False).exists() and CreditNote.objects.exists()
    for cid in Invoice.objects.values_list("customer_id", flat=True).distinct():
        c = Customer.objects.get(pk=cid)
        assert c.unpaid_amount == open_balance(cid) + c.unpaid_external
    client.login(username="finance", password=result["users"]["finance"])
    page = client.get("/finance/").content.decode()
    assert 'data-testid="open-invoices"' in page and "逾期未兑现的付款承诺" in page and "某某贸易有限公司" in page
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

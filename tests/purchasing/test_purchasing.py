"""Purchasing on PostgreSQL: approval by the configured roles only, purchase orders from approved
requests serving their orders, partial receipts adding stock, and never over-receiving when
several receivers race."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError, PermissionDenied
from orderhub.core.models import AuditEvent
from orderhub.inventory.models import StockLevel, StockMove
from orderhub.orders import services as order_services
from orderhub.purchasing import events, models
from orderhub.purchasing.models import LineOrder, PurchaseOrderLine, PurchaseRequest, Receipt
from orderhub.purchasing.services import (
    LineIn,
    ReceiptIn,
    SupplierPrice,
    po_place,
    po_receive,
    request_decide,
    request_raise,
    supplier_save,
)
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


@pytest.fixture
def supplier(company):
    return supplier_save(actor=company["actors"]["purchaser"], code="S01", name="无锡铝材",
                         prices=[SupplierPrice(company["bar"].pk, Decimal("28.5"), 10, Decimal("100"))])


def test_supplier_prices_fill_a_line_and_are_audited(company, supplier):
    a = company["actors"]
    po = po_place(actor=a["purchaser"], supplier_id=supplier.pk,
                  lines=[LineIn(company["bar"].pk, Decimal("200"))])
    line = po.lines.get()
    assert line.unit_price == Decimal("28.5")
    assert (line.expected_date - po.created_at.date()).days == 10
    assert po.number.startswith("PO-")
    assert AuditEvent.objects.filter(subject_type=models.SUBJECT_ORDER, subject_id=po.pk,
                                     action=events.ORDER_PLACED).exists()
    assert AuditEvent.objects.filter(subject_type=models.SUBJECT_SUPPLIER, action=events.SUPPLIER_SAVED).exists()


@pytest.mark.parametrize("role", ["planning_supervisor", "manager"])
def test_configured_roles_approve_and_the_po_serves_the_order(company, supplier, role):
    a = company["actors"]
    order = order_services.order_create(data=order_input(), actor=a["sales"]).order
    pr = request_raise(actor=a["purchaser"], product_id=company["bar"].pk, qty=Decimal("40"),
                       order_id=order.pk, source=PurchaseRequest.Source.SHORTAGE)
    assert pr.supplier_id == supplier.pk           # the cheapest supplier of the material
    with pytest.raises(DomainError) as refused:
        po_place(actor=a["purchaser"], supplier_id=supplier.pk, lines=[], requests=[pr.number])
    assert refused.value.code == "request_not_approved"
    request_decide(actor=a[role], number=pr.number, approve=True)
    po = po_place(actor=a["purchaser"], supplier_id=supplier.pk, lines=[], requests=[pr.number])
    pr.refresh_from_db()
    assert pr.status == "ordered" and pr.purchase_order_id == po.pk
    link = LineOrder.objects.get(line__purchase_order=po)
    assert (link.order_id, link.qty) == (order.pk, Decimal("40"))


@pytest.mark.parametrize("role", ["purchaser", "sales", "warehouse", "admin", "planner"])
def test_other_roles_may_not_approve(company, supplier, role):
    a = company["actors"]
    pr = request_raise(actor=a["purchaser"], product_id=company["bar"].pk, qty=Decimal("5"))
    with pytest.raises(PermissionDenied):
        request_decide(actor=a[role], number=pr.number, approve=True)
    pr.refresh_from_db()
    assert pr.status == "pending"


def test_an_approver_may_not_approve_their_own_request_and_a_rejection_needs_a_reason(company, supplier):
    a = company["actors"]
    boss = company["users"]["manager"]
    boss.groups.add(company["users"]["purchaser"].groups.get())
    both = Actor.for_user(boss)
    mine = request_raise(actor=both, product_id=company["bar"].pk, qty=Decimal("5"))
    with pytest.raises(DomainError) as own:
        request_decide(actor=both, number=mine.number, approve=True)
    assert own.value.code == "own_request"
    pr = request_raise(actor=a["planner"], product_id=company["bar"].pk, qty=Decimal("5"))
    with pytest.raises(DomainError):
        request_decide(actor=a["manager"], number=pr.number, approve=False)
    request_decide(actor=a["manager"], number=pr.number, approve=False, note="库存够用")
    pr.refresh_from_db()
    assert (pr.status, pr.decision_note) == ("rejected", "库存够用")
    with pytest.raises(DomainError) as twice:
        request_decide(actor=a["planning_supervisor"], number=pr.number, approve=True)
    assert twice.value.code == "already_decided"


def test_partial_receipts_add_stock_and_close_the_po(company, supplier):
    a = company["actors"]
    po = po_place(actor=a["purchaser"], supplier_id=supplier.pk, warehouse_id=company["wh2"].pk,
                  lines=[LineIn(company["bar"].pk, Decimal("100"), date(2026, 12, 1))])
    po_receive(actor=a["warehouse"], number=po.number, receipts=[ReceiptIn(1, Decimal("30"))])
    assert StockLevel.objects.get(product=company["bar"], warehouse=company["wh2"]).on_hand == Decimal("60")
    with pytest.raises(DomainError) as over:
        po_receive(actor=a["warehouse"], number=po.number, receipts=[ReceiptIn(1, Decimal("70.5"))])
    assert over.value.code == "over_receipt" and "70.5" in over.value.message
    po_receive(actor=a["warehouse"], number=po.number, receipts=[ReceiptIn(1, Decimal("70"))])
    po.refresh_from_db()
    assert po.status == "received"
    assert StockMove.objects.filter(stock__product=company["bar"], kind="receipt").count() == 2
    assert AuditEvent.objects.filter(subject_type=models.SUBJECT_ORDER, subject_id=po.pk,
                                     action=events.GOODS_RECEIVED).count() == 2
    with pytest.raises(DomainError):
        po_receive(actor=a["warehouse"], number=po.number, receipts=[ReceiptIn(1, Decimal("1"))])
    with pytest.raises(PermissionDenied):
        po_receive(actor=a["sales"], number=po.number, receipts=[ReceiptIn(1, Decimal("1"))])


RECEIVERS = 12


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_receipts_never_over_receive(company, supplier):
    """12 connections each receive 10 kg at once against a line of 75 kg: 7 succeed, the rest are
    refused, received and stock on hand go up by exactly 70."""
    a = company["actors"]
    po = po_place(actor=a["purchaser"], supplier_id=supplier.pk, warehouse_id=company["wh1"].pk,
                  lines=[LineIn(company["bar"].pk, Decimal("75"), date(2026, 12, 1))])
    before = StockLevel.objects.get(product=company["bar"], warehouse=company["wh1"]).on_hand
    barrier = threading.Barrier(RECEIVERS)
    ok, refused, errors = [], [], []

    def receiver():
        try:
            barrier.wait(timeout=30)
            po_receive(actor=a["warehouse"], number=po.number, receipts=[ReceiptIn(1, Decimal("10"))])
            ok.append(1)
        except DomainError as exc:
            refused.append(exc.code)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=receiver) for _ in range(RECEIVERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert (len(ok), set(refused)) == (7, {"over_receipt"})
    line = PurchaseOrderLine.objects.get(purchase_order=po)
    assert line.received == Decimal("70")
    assert Receipt.objects.filter(line=line).aggregate(s=Sum("qty"))["s"] == Decimal("70")
    after = StockLevel.objects.get(product=company["bar"], warehouse=company["wh1"]).on_hand
    assert after - before == Decimal("70")

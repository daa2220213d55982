"""Invoices per shipment: the gate (POD and acceptance) refusing with the reason in Chinese and
passing, the customer's tax and bank details copied (专票 needs them all), never two invoices
for one shipment (also with threads at once on PostgreSQL), unpaid amount = open balances."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from orderhub.catalog.models import Customer
from orderhub.core.errors import Conflict, PermissionDenied, ValidationFailed
from orderhub.finance.models import Invoice
from orderhub.finance.services import invoice_issue
from orderhub.finance.services.credit import open_balance

pytestmark = pytest.mark.django_db
D = Decimal


def test_the_gate_refuses_without_pod_and_acceptance_and_passes_with_both(fin):
    finance = fin["a"]["finance"]
    _order, sh = fin["ship"]("100", "2.50", prove=False)
    with pytest.raises(Conflict) as refused:
        invoice_issue(shipment=sh.number, kind="normal", actor=finance)
    assert refused.value.code == "invoice_gate"
    assert refused.value.message == f"发货单 {sh.number} 不能开票：缺少签收凭证、缺少客户验收。"
    assert not Invoice.objects.exists()
    _order, ok = fin["ship"]("100", "2.50")
    inv = invoice_issue(shipment=ok.number, kind="special", actor=finance)
    assert (inv.number, inv.amount, inv.tax_amount) == (f"FP{ok.number}", D("250.00"), D("28.76"))
    assert (inv.tax_no, inv.bank_name, inv.bank_account) == ("91320500MA1XXXXX0K", "招商银行苏州分行", "512900000010101")
    assert inv.address_phone == "苏州工业园区星湖街 1 号 0512-66660000"
    assert Customer.objects.get(pk=inv.customer_id).unpaid_amount == D("250.00") == open_balance(inv.customer_id)


def test_only_finance_issues_and_special_vat_needs_the_bank_details(fin):
    _order, sh = fin["ship"]("10", "3")
    for role in ("sales", "warehouse"):
        with pytest.raises(PermissionDenied):
            invoice_issue(shipment=sh.number, kind="normal", actor=fin["a"][role])
    Customer.objects.filter(pk=fin["customer"].pk).update(bank_account="")
    with pytest.raises(ValidationFailed) as missing:
        invoice_issue(shipment=sh.number, kind="special", actor=fin["a"]["finance"])
    assert missing.value.code == "customer_details_missing" and "银行账号" in missing.value.message
    assert invoice_issue(shipment=sh.number, kind="normal", actor=fin["a"]["finance"]).kind == "normal"
    with pytest.raises(Conflict) as twice:
        invoice_issue(shipment=sh.number, kind="normal", actor=fin["a"]["finance"])
    assert twice.value.code == "already_invoiced"


@pytest.mark.django_db(transaction=True)
def test_concurrent_issuers_invoice_a_shipment_once(fin):
    """6 connections issue the same shipment's invoice at once: one invoice, five refusals."""
    _order, sh = fin["ship"]("10", "3")
    finance = fin["a"]["finance"]
    barrier, results, errors = threading.Barrier(6), [], []

    def client():
        try:
            barrier.wait(timeout=30)
            invoice_issue(shipment=sh.number, kind="normal", actor=finance)
            results.append("ok")
        except Conflict as e:
            results.append(e.code)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(results) == ["already_invoiced"] * 5 + ["ok"]
    assert Invoice.objects.filter(shipment=sh).count() == 1
    assert Customer.objects.get(pk=fin["customer"].pk).unpaid_amount == D("30.00")


def test_what_the_customer_owes_outside_orderhub_stays_in_their_unpaid_amount(fin):
    """A typed (or ERP) unpaid amount is not replaced by the first invoice OrderHub issues: the
    total is both, and changing the outside part later keeps the invoices in it."""
    from orderhub.catalog.services import customer_save

    a = fin["a"]
    customer_save(code=fin["customer"].code, data={"unpaid_external": D("5000")}, actor=a["admin"])
    assert Customer.objects.get(pk=fin["customer"].pk).unpaid_amount == D("5000")
    _order, sh = fin["ship"]("100", "2.50")
    inv = invoice_issue(shipment=sh.number, kind="normal", actor=a["finance"])
    assert Customer.objects.get(pk=inv.customer_id).unpaid_amount == D("5250.00")
    customer_save(code=fin["customer"].code, data={"unpaid_external": D("1000")}, actor=a["admin"])
    c = Customer.objects.get(pk=inv.customer_id)
    assert (c.unpaid_external, c.unpaid_amount) == (D("1000"), D("1250.00"))

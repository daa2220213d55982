"""Returns: only shipped quantities less earlier returns, QC before receipt (a failed QC
refuses it), stock back in the warehouse it shipped from (a stock move through inventory), a
credit note that settles the order's invoice and lowers the customer's unpaid amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderhub.catalog.models import Customer
from orderhub.core.errors import Conflict, PermissionDenied, ValidationFailed
from orderhub.finance.models import CreditNote, ReturnOrder
from orderhub.finance.services import (
    ReturnInput,
    invoice_issue,
    return_create,
    return_qc,
    return_receive,
)
from orderhub.inventory.models import StockLevel, StockMove

pytestmark = pytest.mark.django_db
D = Decimal


def _on_hand(product, wh) -> Decimal:
    return StockLevel.objects.get(product=product, warehouse=wh).on_hand


def test_a_return_goes_through_qc_back_to_its_warehouse_and_credits_the_customer(fin):
    a = fin["a"]
    order, sh = fin["ship"]("100", "2.50")
    inv = invoice_issue(shipment=sh.number, kind="normal", actor=a["finance"])
    before = _on_hand(fin["bolt"], fin["wh1"])
    with pytest.raises(Conflict) as over:
        return_create(order=order.number, actor=a["sales"], data=ReturnInput({1: D("101")}, "螺纹不良"))
    assert over.value.code == "over_returned" and "100" in over.value.message
    with pytest.raises(ValidationFailed):
        return_create(order=order.number, actor=a["sales"], data=ReturnInput({1: D("10")}, " "))
    ret = return_create(order=order.number, actor=a["sales"], data=ReturnInput({1: D("40")}, "螺纹不良"))
    with pytest.raises(Conflict) as early:
        return_receive(ret=ret.number, actor=a["warehouse"])
    assert early.value.code == "qc_required" and "还没有质检报告" in early.value.message
    with pytest.raises(PermissionDenied):
        return_qc(ret=ret.number, passed=True, remark="ok", actor=a["warehouse"])
    qc = return_qc(ret=ret.number, passed=True, remark="抽检 5 件螺纹不合格，同意退货", actor=a["qc"],
                   file_name="qc.pdf", content=b"%PDF-1.4 report")
    assert qc.file_sha256 and qc.file_name == "qc.pdf"
    with pytest.raises(PermissionDenied):
        return_receive(ret=ret.number, actor=a["finance"])
    note = return_receive(ret=ret.number, actor=a["warehouse"])
    assert _on_hand(fin["bolt"], fin["wh1"]) == before + 40
    move = StockMove.objects.filter(stock__product=fin["bolt"]).order_by("-pk").first()
    assert move.qty == 40 and move.stock.warehouse == fin["wh1"] and ret.number in move.note
    assert (note.number, note.amount, note.applied) == (f"HZ{ret.number}", D("100.00"), D("100.00"))
    inv.refresh_from_db()
    assert inv.settled == D("100.00")
    assert Customer.objects.get(pk=inv.customer_id).unpaid_amount == D("150.00")
    with pytest.raises(Conflict):
        return_receive(ret=ret.number, actor=a["warehouse"])
    # what is left to return: 100 shipped − 40 returned
    with pytest.raises(Conflict):
        return_create(order=order.number, actor=a["sales"], data=ReturnInput({1: D("61")}, "再退"))
    assert return_create(order=order.number, actor=a["sales"], data=ReturnInput({1: D("60")}, "再退")).number.endswith("-T2")


def test_stock_comes_back_to_the_warehouse_it_shipped_from(fin):
    """The bar ships from WH2 once WH1 is empty: its return goes back to WH2."""
    from orderhub.inventory.models import StockLevel as SL

    SL.objects.filter(product=fin["bar"], warehouse=fin["wh1"]).update(on_hand=0)
    order, _sh = fin["ship"]("20", "32", sku="AL6061-BAR")
    assert _on_hand(fin["bar"], fin["wh2"]) == D("10")
    ret = return_create(order=order.number, actor=fin["a"]["sales"], data=ReturnInput({1: D("5")}, "尺寸超差"))
    return_qc(ret=ret.number, passed=True, remark="复检尺寸超差属实", actor=fin["a"]["qc"])
    return_receive(ret=ret.number, actor=fin["a"]["warehouse"])
    assert _on_hand(fin["bar"], fin["wh2"]) == D("15") and _on_hand(fin["bar"], fin["wh1"]) == 0
    assert ReturnOrder.objects.get(pk=ret.pk).lines.get().warehouse == fin["wh2"]


def test_a_failed_qc_rejects_the_return_and_frees_its_quantity(fin):
    order, _sh = fin["ship"]("10", "1")
    ret = return_create(order=order.number, actor=fin["a"]["sales"], data=ReturnInput({1: D("10")}, "客户称有锈"))
    return_qc(ret=ret.number, passed=False, remark="未见锈蚀，不同意退货", actor=fin["a"]["qc"])
    with pytest.raises(Conflict) as refused:
        return_receive(ret=ret.number, actor=fin["a"]["warehouse"])
    assert "质检不合格" in refused.value.message and not CreditNote.objects.exists()
    assert return_create(order=order.number, actor=fin["a"]["sales"], data=ReturnInput({1: D("10")}, "再次申请"))


def test_only_shipped_quantities_come_back(fin):
    from orderhub.orders import services as orders
    from orderhub.orders.inputs import LineInput
    from tests.conftest import order_input

    order = orders.order_create(data=order_input(lines=[LineInput(sku="M8X30", qty=D("5"))]),
                                actor=fin["a"]["sales"]).order
    with pytest.raises(Conflict) as none:
        return_create(order=order.number, actor=fin["a"]["sales"], data=ReturnInput({1: D("1")}, "x"))
    assert "只有 0" in none.value.message

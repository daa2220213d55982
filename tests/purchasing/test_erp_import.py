"""ERP files: POs and receipts by CSV or XLSX, every row reported in Chinese, nothing applied
when any row is bad."""

import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from orderhub.core.errors import PermissionDenied
from orderhub.inventory.models import StockLevel
from orderhub.orders import services as order_services
from orderhub.purchasing.imports import erp_import
from orderhub.purchasing.models import LineOrder, PurchaseOrder, PurchaseOrderLine
from orderhub.purchasing.services import supplier_save
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(company):
    supplier_save(actor=company["actors"]["purchaser"], code="S01", name="无锡铝材")
    order = order_services.order_create(data=order_input(), actor=company["actors"]["sales"]).order
    return company["actors"]["purchaser"], order


def _csv(text):
    return ("\ufeff" + text).encode()


def test_a_po_file_is_applied_whole_with_its_orders(company, setup):
    actor, order = setup
    content = _csv("采购单号,供应商编码,物料编码,数量,预计到货,单价,订单号\n"
                   f"ERP-1,S01,AL6061-BAR,100,2026-12-05,28,{order.number}\n"
                   "ERP-1,S01,M8X30,5000,2026-12-06,,\n"
                   "ERP-2,S01,AL6063-BAR,50,2026-12-08,,\n")
    report = erp_import(actor=actor, kind="orders", content=content, filename="po.csv")
    assert report.applied and report.errors == 0 and len(report.rows) == 3
    po = PurchaseOrder.objects.get(erp_ref="ERP-1")
    assert po.lines.count() == 2
    assert LineOrder.objects.get(line__purchase_order=po).order_id == order.pk
    again = erp_import(actor=actor, kind="orders", content=content, filename="po.csv")
    assert not again.applied and "已导入过" in again.rows[0]["message"]


def test_one_bad_row_applies_nothing_and_each_row_says_why(company, setup):
    actor, _order = setup
    content = _csv("采购单号,供应商编码,物料编码,数量,预计到货\n"
                   "ERP-1,S01,AL6061-BAR,100,2026-12-05\n"
                   "ERP-2,S99,AL6061-BAR,abc,12/05\n")
    report = erp_import(actor=actor, kind="orders", content=content, filename="po.csv")
    assert not report.applied and report.errors == 1
    assert report.rows[0]["ok"] and report.rows[0]["row"] == 2
    bad = report.rows[1]["message"]
    assert "供应商「S99」不存在" in bad and "数量「abc」不是数字" in bad and "不是日期" in bad
    assert not PurchaseOrder.objects.exists()


def test_receipts_by_xlsx_add_stock_and_over_receipt_is_refused(company, setup):
    actor, _order = setup
    erp_import(actor=actor, kind="orders", filename="po.csv",
               content=_csv("采购单号,供应商编码,物料编码,数量,预计到货\nERP-9,S01,AL6061-BAR,100,2026-12-05\n"))
    po = PurchaseOrder.objects.get()
    wb = Workbook()
    ws = wb.active
    ws.append(["采购单号", "行号", "数量"])
    ws.append(["ERP-9", 1, 30])
    ws.append([po.number, 1, 20])
    buf = io.BytesIO()
    wb.save(buf)
    report = erp_import(actor=company["actors"]["warehouse"], kind="receipts", content=buf.getvalue(),
                        filename="gr.xlsx")
    assert report.applied, report.rows
    assert PurchaseOrderLine.objects.get(purchase_order=po).received == Decimal("50")
    assert StockLevel.objects.get(product=company["bar"], warehouse=company["wh1"]).on_hand == Decimal("100")
    over = erp_import(actor=company["actors"]["warehouse"], kind="receipts", filename="gr.csv",
                      content=_csv(f"采购单号,行号,数量\n{po.number},1,30\n{po.number},1,30\n"))
    assert not over.applied and over.rows[1]["message"] == "第 1 行最多还能收 50"
    assert PurchaseOrderLine.objects.get(purchase_order=po).received == Decimal("50")
    with pytest.raises(PermissionDenied):
        erp_import(actor=company["actors"]["sales"], kind="receipts", filename="gr.csv", content=b"x")

"""The quick-order page with products and quantities (issue 14.7): "要200件" is 200, a product
is required on every line, every fault shows at once, and drawings go to the order."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from orderhub.core import clock
from orderhub.orders.models import Order
from tests.api.conftest import api_as  # noqa: F401  (fixture)
from tests.intake.test_quick import link  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def _page(link):  # noqa: F811
    return f"/q/{link['token']}"


def test_the_page_orders_each_product_in_the_quantity_typed_with_its_files(link, tmp_path, settings):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path
    c = Client()
    page = c.get(_page(link)).content.decode()
    assert 'name="line_qty"' in page and 'name="files"' in page
    drawing = SimpleUploadedFile("图纸.pdf", b"%PDF-1.4 drawing", content_type="application/pdf")
    with clock.frozen(datetime(2026, 3, 2, 9, 0, tzinfo=SH)):
        resp = c.post(_page(link), {"line_item": ["M8X30-HEX-88", ""], "line_qty": ["200", ""],
                                     "due_date": "2026-03-20", "remark": "要200件", "files": [drawing]})
    assert resp.status_code == 200, resp.content.decode()[-3000:]
    order = Order.objects.get(channel="quick")
    line = order.lines.get()
    assert line.product.sku == "M8X30-HEX-88" and line.qty == Decimal("200")
    assert order.attachments.get().name == "图纸.pdf"


def test_every_fault_of_the_page_at_once_and_nothing_stored(link):  # noqa: F811
    c = Client()
    resp = c.post(_page(link), {"line_item": ["", "NOPE-SKU"], "line_qty": ["5", "0"], "due_date": ""})
    assert resp.status_code == 400
    html = resp.content.decode()
    assert html.count("is-invalid") >= 4  # no product, unknown product, zero quantity, no date
    assert "第 1 行" in html and "第 2 行" in html
    resp = c.post(_page(link), {"line_item": [""], "line_qty": [""], "due_date": "2099-01-01"})
    assert resp.status_code == 400 and "请至少选择一个产品" in resp.content.decode()
    assert not Order.objects.filter(channel="quick").exists()


def test_the_api_takes_lines_with_quantities(link):  # noqa: F811
    with clock.frozen(datetime(2026, 3, 2, 9, 0, tzinfo=SH)):
        resp = Client().post(f"/api/intake/quick/{link['token']}", data={
            "lines": [{"item": "M8X30-HEX-88", "qty": 200}], "due_date": "2026-03-20"},
            content_type="application/json")
        assert resp.status_code == 201, resp.content
        bad = Client().post(f"/api/intake/quick/{link['token']}", data={
            "lines": [{"item": "NOPE", "qty": 1}, {"item": "M8X30-HEX-88", "qty": 2}], "due_date": "2026-03-21"},
            content_type="application/json")
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["lines[0].item"]
    assert Order.objects.get(channel="quick").lines.get().qty == Decimal("200")

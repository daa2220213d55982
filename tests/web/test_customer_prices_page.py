"""The customer's price-list page (settings → customer → 价格表): add a break, change a row's
validity, delete a row; each save lands in the customer's history."""

from datetime import date
from decimal import Decimal

import pytest

from orderhub.catalog.models import CustomerPrice
from orderhub.core.models import AuditEvent
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db
URL = "/settings/customers/C001/prices"


def test_add_a_break_change_its_validity_and_delete_it(company, monday_morning):
    admin = login("admin")
    assert "价格表" in admin.get("/settings/customers/C001/").content.decode()
    page = admin.get(URL)
    assert page.status_code == 200 and "尚无客户价格" in page.content.decode()
    resp = admin.post(URL, {"action": "add", "sku": "HSG-100", "min_qty": "100", "unit_price": "99.5"})
    assert resp.status_code == 302 and resp["Location"] == URL, resp.get("Location")
    row = CustomerPrice.objects.get()
    assert (row.product.sku, row.min_qty, row.unit_price, row.valid_to) == ("HSG-100", 100, Decimal("99.5"), None)
    assert "¥99.5" in admin.get(URL).content.decode()
    assert admin.post(URL, {"action": "dates", "index": "0", "valid_from": "2026-11-01",
                            "valid_to": "2026-12-31"}).status_code == 302
    row = CustomerPrice.objects.get()   # the list is saved as a whole
    assert (row.valid_from, row.valid_to) == (date(2026, 11, 1), date(2026, 12, 31))
    bad = admin.post(URL, {"action": "dates", "index": "0", "valid_from": "2026-12-31", "valid_to": "2026-11-01"})
    assert bad.status_code == 400 and "失效日期早于生效日期" in bad.content.decode()
    unknown = admin.post(URL, {"action": "add", "sku": "NOPE", "unit_price": "1"})
    assert unknown.status_code == 400 and CustomerPrice.objects.count() == 1
    assert admin.post(URL, {"action": "delete", "index": "0"}).status_code == 302
    assert not CustomerPrice.objects.exists()
    assert AuditEvent.objects.filter(action="customer.prices_changed").count() == 3
    assert login("sales").get(URL).status_code == 403

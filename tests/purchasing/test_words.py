"""The purchasing pages speak Chinese: no codes, None or machine timestamps in their text (the
server-rendered text with tags, scripts and code blocks stripped; the browser crawl of
tests/e2e/test_every_word.py covers them too, with the page's visible text)."""

import html
import re
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.purchasing.services import (
    LineIn,
    ReceiptIn,
    SupplierPrice,
    po_place,
    po_receive,
    request_raise,
    supplier_save,
)
from tests.conftest import order_input
from tests.e2e.visible import offending_tokens

pytestmark = pytest.mark.django_db

TAGS = re.compile(r"<(script|style|code|pre|textarea)\b.*?</\1>|<[^>]+>", re.S)


def _text(page: str) -> str:
    return html.unescape(TAGS.sub(" ", page))


def test_purchasing_pages_have_no_codes(company, monday_morning):
    a = company["actors"]
    order = services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("200"))]),
                                  actor=a["sales"]).order
    sup = supplier_save(actor=a["purchaser"], code="S01", name="无锡铝材",
                        prices=[SupplierPrice(company["bar"].pk, Decimal("28"), 5, Decimal("100"))])
    po = po_place(actor=a["purchaser"], supplier_id=sup.pk,
                  lines=[LineIn(company["bar"].pk, Decimal("30"), date(2026, 11, 20), orders={order.pk: Decimal("30")})])
    po_receive(actor=a["warehouse"], number=po.number, receipts=[ReceiptIn(1, Decimal("10"))])
    request_raise(actor=a["planner"], product_id=company["bar"].pk, qty=Decimal("5"))
    pages = ["/", "/purchasing/", "/purchasing/?status=all", "/purchasing/new/", "/purchasing/suppliers/",
             "/purchasing/shortages/", f"/purchasing/{po.number}/", f"/orders/{order.number}/"]
    with translation.override("zh-hans"):
        for role in ("purchaser", "manager", "warehouse"):
            c = Client(headers={"Accept-Language": "zh-hans"})
            c.force_login(company["users"][role])
            for url in pages:
                r = c.get(url)
                if r.status_code == 403:
                    continue
                assert r.status_code == 200, (role, url)
                bad = offending_tokens(_text(r.content.decode()), allowed=frozenset(company["users"]))
                assert bad == [], (role, url, bad)

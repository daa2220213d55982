"""The purchasing pages and API end to end: a purchaser raises a request, a manager approves it,
the purchaser places the PO, the warehouse receives part of it; each step through its page, and
the same through the JSON API."""

from decimal import Decimal

import pytest
from django.test import Client

from orderhub.inventory.models import StockLevel
from orderhub.purchasing.models import PurchaseOrder, PurchaseRequest
from orderhub.purchasing.services import SupplierPrice, supplier_save

pytestmark = pytest.mark.django_db


def _client(company, role):
    c = Client()
    c.force_login(company["users"][role])
    return c


def test_request_approve_order_receive_through_the_pages(company):
    supplier_save(actor=company["actors"]["purchaser"], code="S01", name="无锡铝材",
                  prices=[SupplierPrice(company["bar"].pk, Decimal("28"), 7)])
    buyer, boss, store = (_client(company, r) for r in ("purchaser", "manager", "warehouse"))
    r = buyer.post("/purchasing/requests/", {"sku": "AL6061-BAR", "qty": "120", "reason": "补库"})
    assert r.status_code == 302
    pr = PurchaseRequest.objects.get()
    page = boss.get("/purchasing/").content.decode()
    assert pr.number in page and "批准" in page
    boss.post(f"/purchasing/requests/{pr.number}/approve", {"decision": "approve"})
    pr.refresh_from_db()
    assert pr.status == "approved"
    assert buyer.get("/purchasing/new/").status_code == 200
    r = buyer.post("/purchasing/new/", {"supplier": pr.supplier_id, "warehouse": company["wh2"].pk,
                                        "requests": [pr.number]})
    po = PurchaseOrder.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/purchasing/{po.number}/"
    r = store.post(f"/purchasing/{po.number}/receive", {"qty-1": "50", "note": "送货单 A1"})
    assert r.status_code == 302
    detail = store.get(f"/purchasing/{po.number}/").content.decode()
    assert 'data-testid="received-1">50<' in detail and "在途" in detail
    assert StockLevel.objects.get(product=company["bar"], warehouse=company["wh2"]).on_hand == Decimal("80")
    assert buyer.get("/purchasing/suppliers/").status_code == 200


def test_the_api_does_the_same(company):
    from orderhub.core.tokens import token_create

    def auth(role):
        return {"Authorization": "Bearer " + token_create(user=company["users"][role], name=role)[1]}

    c = Client()
    r = c.put("/api/purchasing/suppliers/S01", {"name": "无锡铝材", "prices": [
        {"sku": "AL6061-BAR", "unit_price": "28", "lead_time_days": 7}]}, content_type="application/json",
        headers=auth("purchaser"))
    assert r.status_code == 200, r.content
    r = c.post("/api/purchasing/requests", {"sku": "AL6061-BAR", "qty": "40"}, content_type="application/json",
               headers=auth("planner"))
    assert r.status_code == 201, r.content
    number = r.json()["number"]
    refused = c.post(f"/api/purchasing/requests/{number}/approve", {}, content_type="application/json",
                     headers=auth("purchaser"))
    assert refused.status_code == 403
    ok = c.post(f"/api/purchasing/requests/{number}/approve", {}, content_type="application/json",
                headers=auth("planning_supervisor"))
    assert ok.json()["status"] == "approved"
    r = c.post("/api/purchasing/orders", {"supplier": "S01", "requests": [number]}, content_type="application/json",
               headers=auth("purchaser"))
    assert r.status_code == 201, r.content
    po = r.json()["number"]
    over = c.post(f"/api/purchasing/orders/{po}/receipts", {"receipts": [{"line_no": 1, "qty": "41"}]},
                  content_type="application/json", headers=auth("warehouse"))
    assert over.status_code == 409 and over.json()["code"] == "over_receipt"
    got = c.post(f"/api/purchasing/orders/{po}/receipts", {"receipts": [{"line_no": 1, "qty": "15"}]},
                 content_type="application/json", headers=auth("warehouse")).json()
    assert Decimal(got["lines"][0]["received"]) == 15 and Decimal(got["lines"][0]["open_qty"]) == 25

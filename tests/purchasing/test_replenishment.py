"""Replenishment from order heat (issue 18 item 5): the rule fires on constructed order history
for the hot SKU below safety stock, not for the control SKUs; never two open requests for one SKU;
the rule's numbers are data edited on a page and over the API; the evidence is on the request."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from orderhub.catalog.models import Product
from orderhub.core import clock
from orderhub.core.tokens import token_create
from orderhub.inventory.models import StockLevel
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.purchasing.models import PurchaseRequest
from orderhub.purchasing.replenishment import replenishment_scan, rule_get, rule_save
from orderhub.purchasing.services import request_decide
from orderhub.purchasing.tasks import replenishment_job
from tests.conftest import SH, order_input

pytestmark = pytest.mark.django_db

DAY0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)      # Monday; the window is the 3 days before the 26th


@pytest.fixture
def history(company):
    """SKUs in 件 ordered on 23, 24, 25 Nov: HOT 100/day, WARM as hot but stocked above its
    safety stock, COOL hot on two of the three days only, and four calm peers (5/day). HOT and
    COOL are below safety stock. Peers: the other SKUs of the unit ordered in the window."""
    wh = company["wh1"]
    skus = {}
    for sku, stock, safety in (("HOT-1", "5", "50"), ("WARM-1", "500", "50"), ("COOL-1", "5", "50"),
                               *((f"PEER-{i}", "1000", "0") for i in range(4))):
        p = Product.objects.create(sku=sku, name=f"物料{sku}", unit="件", list_price=Decimal("10"),
                                   safety_stock=Decimal(safety), moq=Decimal("30"))
        StockLevel.objects.create(product=p, warehouse=wh, on_hand=Decimal(stock))
        skus[sku] = p
    daily = {"HOT-1": [100, 100, 100], "WARM-1": [100, 100, 100], "COOL-1": [100, 5, 100],
             **{f"PEER-{i}": [5, 5, 5] for i in range(4)}}
    for n in range(3):
        with clock.frozen(DAY0 + timedelta(days=n)):
            for sku, qtys in daily.items():
                services.order_create(data=order_input(lines=[LineInput(sku=sku, qty=Decimal(qtys[n]))]),
                                      actor=company["actors"]["sales"])
    return skus


def test_the_rule_fires_on_the_hot_sku_only_and_once(company, history):
    today = (DAY0 + timedelta(days=3)).date()
    [pr] = replenishment_scan(today=today)
    assert pr.product.sku == "HOT-1" and pr.source == "replenishment" and pr.status == "pending"
    # back to the 50 safety stock from 5 plus one more window at this pace (300)
    assert pr.qty == 345
    ev = pr.evidence
    assert [d["date"] for d in ev["days"]] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    # peers: WARM 100, COOL 100 / 5 / 100, four at 5: (220 / 6) and, on the 24th, (125 / 6)
    assert [Decimal(d["qty"]) for d in ev["days"]] == [100, 100, 100]
    assert [Decimal(d["peer_avg"]) for d in ev["days"]] == [Decimal("36.6667"), Decimal("20.8333"),
                                                            Decimal("36.6667")]
    assert ev["days"][1]["ratio"] == "4.80"
    assert (Decimal(ev["free"]), Decimal(ev["safety_stock"]), Decimal(ev["multiple"])) == (5, 50, Decimal("2.3"))
    assert replenishment_scan(today=today) == []                      # idempotent
    with clock.frozen(DAY0 + timedelta(days=3)):
        replenishment_job()                                           # the job, as registered
    assert PurchaseRequest.objects.filter(source="replenishment").count() == 1
    # once decided (rejected), the SKU may be raised again
    request_decide(actor=company["actors"]["planning_supervisor"], number=pr.number, approve=False, note="暂缓")
    assert [p.product.sku for p in replenishment_scan(today=today)] == ["HOT-1"]


def test_the_numbers_are_data(company, history):
    today = (DAY0 + timedelta(days=3)).date()
    rule_save(actor=company["actors"]["purchaser"], multiple=Decimal("3"), days=3, peers="unit", enabled=True)
    assert replenishment_scan(today=today) == []                      # 100 ≤ 3 × 36.67 on the 23rd
    rule_save(actor=company["actors"]["purchaser"], multiple=Decimal("2.3"), days=1, peers="unit", enabled=True)
    assert sorted(p.product.sku for p in replenishment_scan(today=today)) == ["COOL-1", "HOT-1"]
    rule = rule_get()
    assert rule.updated_by == "purchaser"


def test_the_page_and_the_api(company, history):
    today = (DAY0 + timedelta(days=3)).date()
    [pr] = replenishment_scan(today=today)
    buyer = Client()
    buyer.force_login(company["users"]["purchaser"])
    page = buyer.get(f"/purchasing/requests/{pr.number}/").content.decode()
    assert 'data-testid="evidence"' in page and "36.6667" in page and "低于安全库存 50" in page
    assert buyer.get("/purchasing/replenishment/").status_code == 200
    r = buyer.post("/purchasing/replenishment/save", {"multiple": "2.5", "days": "4", "peers": "all", "enabled": "on"})
    assert r.status_code == 302
    rule = rule_get()
    assert (rule.multiple, rule.days, rule.peers, rule.enabled) == (Decimal("2.5"), 4, "all", True)
    raw = token_create(user=company["users"]["purchaser"], name="p")[1]
    auth = {"Authorization": f"Bearer {raw}"}
    got = Client().get(f"/api/purchasing/requests/{pr.number}", headers=auth).json()
    assert len(got["evidence"]["days"]) == 3 and Decimal(got["evidence"]["safety_stock"]) == 50
    r = Client().put("/api/purchasing/replenishment", {"multiple": "0.5", "days": 3, "peers": "unit"},
                     content_type="application/json", headers=auth)
    assert r.status_code == 422
    r = Client().put("/api/purchasing/replenishment", {"multiple": "2.3", "days": 3, "peers": "unit"},
                     content_type="application/json", headers=auth)
    assert r.status_code == 200 and Decimal(r.json()["multiple"]) == Decimal("2.3")

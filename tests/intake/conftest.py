"""Intake fixtures: the sample master data (customers, products) and the shipped templates.

The samples live outside the repository, in ``ORDERHUB_SAMPLES_DIR`` (default
/work/shared/samples), which stays where it is when the repository is cloned elsewhere.
"""

from __future__ import annotations

import csv
import os
from decimal import Decimal
from pathlib import Path

import pytest

from orderhub.core.actors import Actor

SAMPLES = Path(os.environ.get("ORDERHUB_SAMPLES_DIR", "/work/shared/samples"))
CHANNELS = SAMPLES / "channels"


def sample(*parts: str) -> bytes:
    return CHANNELS.joinpath(*parts).read_bytes()


@pytest.fixture
def intake_actor():
    return Actor.system("intake-test")


@pytest.fixture
def master(company, intake_actor):
    """The samples' customers and products, a Douyin retail account, the shipped templates
    and the aliases a Taobao shop would set up."""
    from orderhub.catalog.models import Customer, Product
    from orderhub.intake import services

    with (SAMPLES / "master" / "customers.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            Customer.objects.create(code=row["code"], name=row["name"], tier=row["tier"],
                                    credit_limit=Decimal(row["credit_limit"]), mobile=row["mobile"],
                                    wechat_openid=row["wechat_openid"])
    with (SAMPLES / "master" / "products.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            Product.objects.create(sku=row["code"], name=row["name"], unit=row["unit"],
                                   kg_per_unit=Decimal(row["kg_per_unit"]) if row["kg_per_unit"] else None,
                                   list_price=Decimal(row["list_price"]),
                                   safety_stock=Decimal(row["safety_stock"]), moq=Decimal(row["moq"]),
                                   lead_time_days=int(row["lead_time_days"]))
    Customer.objects.create(code="DY-RETAIL", name="抖音零售客户", tier="C")
    services.config_install_templates(actor=intake_actor)
    services.alias_set(kind="customer", channel="taobao", value="捷达汽配", code="C0502", actor=intake_actor)
    return company


@pytest.fixture(autouse=True)
def _fresh_intake_caches():
    """Compiled configurations are cached by row id, which SQLite reuses after a rollback."""
    from orderhub.intake.services import config, webhook

    config._compiled_by_id.cache_clear()
    webhook.forget_channels()
    yield


@pytest.fixture(autouse=True)
def _english_messages():
    """Messages are asserted in English (the zh_Hans catalog is merged by the lead)."""
    from django.utils import translation

    with translation.override("en"):
        yield

"""Shared fixtures: a small machining company with roles, users, products, BOMs and stock."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.services import roles_sync
from orderhub.orders.inputs import LineInput, OrderInput

SH = ZoneInfo("Asia/Shanghai")


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_keepdb,
                                 django_db_createdb):
    """PostgreSQL: the owner and app roles exist and Django sets the test database up as the
    owner (tests/pgroles.py)."""
    from tests import pgroles

    pgroles.before_setup(keepdb=django_db_keepdb and not django_db_createdb)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After pytest-django's set-up (as the owner): grant the app role, run every test as it."""
    from tests import pgroles

    with django_db_blocker.unblock():
        pgroles.after_setup()
    yield
    with django_db_blocker.unblock():
        pgroles.before_teardown()


@pytest.fixture(autouse=True)
def _audit_checkpoints(settings, tmp_path_factory):
    """Each test writes and reads its own audit checkpoints (core.checkpoints)."""
    settings.ORDERHUB_AUDIT_CHECKPOINT_DIR = tmp_path_factory.mktemp("audit-checkpoints")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _edge_defaults(settings):
    """django-axes refuses Client.login() (it authenticates without a request), so the login
    lockout is off unless a test turns it on (tests/web/test_login_lockout.py). Rate-limit
    counters live in the local cache: each test starts with an empty one."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    settings.AXES_ENABLED = False
    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Ids may be reused after a test's rollback (SQLite): start each test with empty caches."""
    from orderhub.core.calendar_config import clear_calendar_cache
    from orderhub.workflow import services as wf_services

    wf_services._compiled_by_id.cache_clear()
    wf_services._current_ids.clear()
    clear_calendar_cache()
    from orderhub.notify.services import clear_caches as clear_notify_caches

    clear_notify_caches()
    from orderhub.rules.engine import forget_rules

    forget_rules()   # rules saved by an earlier (rolled back) test must not fire in this one
    from orderhub.intake.services.config import forget_current_rules

    forget_current_rules()
    yield


@pytest.fixture
def system():
    return Actor.system("test")


@pytest.fixture
def company(db):
    """Roles, one user per role, T1–T4, two warehouses, a BOM product, stock."""
    from orderhub.catalog.models import BomItem, Customer, Product, Substitute
    from orderhub.floor.services import problem_types_seed
    from orderhub.inventory.models import StockLevel, Warehouse
    from orderhub.orders.breakers.configure import breakers_seed
    from orderhub.workflow.services import workflow_install_templates

    groups = roles_sync()
    User = get_user_model()
    users = {}
    for role, group in groups.items():
        u = User.objects.create_user(username=role, password="pw-" + role)
        u.groups.add(group)
        users[role] = u
    workflow_install_templates(actor=Actor.system("setup"))
    problem_types_seed()   # the migration's rows are gone after a transactional test's flush
    breakers_seed()        # the same for the circuit breakers' configuration
    wh1 = Warehouse.objects.create(code="WH1", name="一号仓", priority=1)
    wh2 = Warehouse.objects.create(code="WH2", name="二号仓", priority=2)
    cust = Customer.objects.create(code="C001", name="苏州博锐精工", tier="A",
                                   credit_limit=Decimal("100000"), sales_owner=users["sales"])
    bar = Product.objects.create(sku="AL6061-BAR", name="6061铝棒", unit="kg", unit_decimals=3,
                                 list_price=Decimal("32"))
    bar2 = Product.objects.create(sku="AL6063-BAR", name="6063铝棒", unit="kg", unit_decimals=3,
                                  list_price=Decimal("30"))
    housing = Product.objects.create(sku="HSG-100", name="传感器壳体", unit="件",
                                     list_price=Decimal("120"))
    bolt = Product.objects.create(sku="M8X30", name="M8×30 螺栓", unit="件",
                                  kg_per_unit=Decimal("0.0176"), list_price=Decimal("0.10"))
    BomItem.objects.create(parent=housing, component=bar, qty_per_unit=Decimal("0.6"))
    Substitute.objects.create(product=bar, substitute=bar2, note="成本 -2 元/kg")
    StockLevel.objects.create(product=bar, warehouse=wh1, on_hand=Decimal("50"))
    StockLevel.objects.create(product=bar, warehouse=wh2, on_hand=Decimal("30"))
    StockLevel.objects.create(product=bar2, warehouse=wh1, on_hand=Decimal("500"))
    StockLevel.objects.create(product=bolt, warehouse=wh1, on_hand=Decimal("100000"))
    StockLevel.objects.create(product=housing, warehouse=wh1, on_hand=Decimal("10"))
    actors = {role: Actor.for_user(u) for role, u in users.items()}
    return {"users": users, "actors": actors, "customer": cust, "bar": bar, "bar2": bar2,
            "housing": housing, "bolt": bolt, "wh1": wh1, "wh2": wh2}


def order_input(**overrides) -> OrderInput:
    base = dict(customer="C001", lines=[LineInput(sku="HSG-100", qty=Decimal("100"))],
                required_date=date(2026, 12, 20), channel="api")
    base.update(overrides)
    return OrderInput(**base)


@pytest.fixture
def monday_morning():
    """Pin the clock to Monday 2026-11-23 09:00 Shanghai (a normal workday)."""
    with clock.frozen(datetime(2026, 11, 23, 9, 0, tzinfo=SH)):
        yield


def advance(hours: float):
    return clock.frozen(clock.now() + timedelta(hours=hours))

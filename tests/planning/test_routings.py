"""The routings a confirmation reads (``schedule.routings``): the prepared statement of the
fast path and its ORM twin give the same steps in the same order (preferred line first, then
the cheaper, then the line's id), lines switched off left out."""

from decimal import Decimal

import pytest
from django.db import connection

from orderhub.planning.schedule import Step, routings
from orderhub.planning.services import RoutingIn, line_save

pytestmark = pytest.mark.django_db


def both(settings, pids):
    settings.ORDERHUB_SQL_PATH = "fast"
    fast = routings(pids)
    settings.ORDERHUB_SQL_PATH = "orm"
    orm = routings(pids)
    return ({p: dict(s) for p, s in fast.items()}, {p: dict(s) for p, s in orm.items()})


def test_fast_and_orm_routings_agree(company, settings):
    planner = company["actors"]["planner"]
    housing, bolt, bar = company["housing"].pk, company["bolt"].pk, company["bar"].pk
    line = {}
    for code, rate, pref, active, extra in (
            ("L1", "0.1", False, True, [RoutingIn(bolt, 20, "攻丝", Decimal("0.02"))]),
            ("L2", "0.3", True, True, []),
            ("L3", "0.1", False, True, [RoutingIn(bolt, 10, "下料", Decimal("0.01"))]),
            ("L4", "0.05", True, False, [])):       # switched off: never offered
        line[code] = line_save(actor=planner, code=code, name=code, hours_per_day=Decimal("8"), is_active=active,
                               routings=[RoutingIn(housing, 10, "机加工", Decimal(rate), pref), *extra]).pk
    fast, orm = both(settings, [housing, bolt, bar, housing])
    assert fast == orm
    assert fast[housing][10] == [   # preferred first, then the fewer hours, then the line's id
        Step(10, "机加工", line["L2"], 0.3, True), Step(10, "机加工", line["L1"], 0.1, False),
        Step(10, "机加工", line["L3"], 0.1, False)]
    assert list(fast[bolt]) == [10, 20] and bar not in fast
    assert both(settings, []) == ({}, {})


def test_fast_routings_are_one_statement(company, settings, django_assert_num_queries):
    if connection.vendor != "postgresql":
        pytest.skip("the fast path is PostgreSQL's")
    settings.ORDERHUB_SQL_PATH = "fast"
    with django_assert_num_queries(1):
        assert routings([company["housing"].pk]) == {}

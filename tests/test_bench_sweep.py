"""The overdue sweep bench writes its orders with hand-written SQL (a million rows in four
statements): it must keep up with the order table's columns. A NOT NULL column added without
it (the ship-to columns) broke ``make bench`` unseen until its whole run; this loads a few
rows the bench's way and sweeps them as the bench does."""

import sys
from pathlib import Path

import pytest
from django.db import connection  # noqa: F401 - the skip condition reads it

from orderhub.core import clock
from orderhub.orders.models import Order, StageInstance
from orderhub.rules.sweep import sweep_overdue

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import sweep_bench  # noqa: E402

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif("connection.vendor != 'postgresql'")]   # the bench's SQL


def test_the_sweep_benchs_orders_load_and_the_newly_overdue_ones_are_marked(company):
    sweep_bench.generate(40, 6)
    loaded = Order.objects.filter(pk__gt=sweep_bench.ID_BASE)
    assert loaded.count() == 40
    assert StageInstance.objects.filter(order__in=loaded, exited_at__isnull=True).count() == 40
    with clock.frozen(clock.now()):
        assert sweep_overdue(notify=False, rules=False).marked == 6
        assert sweep_overdue().marked == 0

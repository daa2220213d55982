"""The overdue sweep marks open, late stage instances once, tells their owner role (red) and
hands them to the rules engine; due states on the business calendar."""

from datetime import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orderhub.core import clock
from orderhub.core.calendar_config import get_business_calendar
from orderhub.notify.models import Message
from orderhub.orders import services
from orderhub.orders.models import StageInstance
from orderhub.rules.sweep import sweep_overdue
from orderhub.rules.timing import DUE_SOON, NO_DEADLINE, ON_TRACK, OVERDUE, due_state
from orderhub.workflow.spec import DueSoonSpec
from tests.conftest import SH, order_input

pytestmark = [pytest.mark.django_db]


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def three_orders(company):
    """Three T1 orders created Monday 09:00 (pending: 4 business hours → 13:30); the third
    moves on at 10:00 (its pending stay is closed, its scheduled stage is due Tuesday)."""
    a = company["actors"]
    with clock.frozen(at(2026, 11, 23, 9, 0)):
        orders = [services.order_create(data=order_input(), actor=a["sales"]).order for _ in range(3)]
    with clock.frozen(at(2026, 11, 23, 10, 0)):
        assert services.order_transition(order=orders[2].number, to="scheduled", actor=a["service"]).ok
    return orders


@pytest.mark.postgres
def test_sweep_marks_late_open_stages_once_and_tells_the_owner_role(company, three_orders):
    with clock.frozen(at(2026, 11, 23, 13, 29)):
        assert sweep_overdue().marked == 0
    with clock.frozen(at(2026, 11, 23, 14, 0)):
        result = sweep_overdue()
    assert result.marked == 2 and result.batches == 1
    marked = StageInstance.objects.filter(overdue_at__isnull=False)
    assert {(s.order_id, s.stage) for s in marked} == {(o.pk, "pending") for o in three_orders[:2]}
    assert {s.overdue_at for s in marked} == {at(2026, 11, 23, 14, 0)}
    service = company["users"]["service"]
    msgs = Message.objects.filter(event="stage.overdue")
    assert {(m.order_id, m.user_id, m.severity) for m in msgs} == {
        (o.pk, service.pk, "red") for o in three_orders[:2]}
    # idempotent: nothing new to mark, nothing sent twice
    with clock.frozen(at(2026, 11, 23, 15, 0)):
        assert sweep_overdue().marked == 0
    assert Message.objects.filter(event="stage.overdue").count() == msgs.count()
    # the moved order's next stage (8 business hours from Monday 10:00 → Tuesday 10:00)
    with clock.frozen(at(2026, 11, 24, 10, 0, 1)):
        again = sweep_overdue()
    assert again.marked == 1
    assert StageInstance.objects.get(order=three_orders[2], exited_at__isnull=True).overdue_at is not None


@pytest.mark.postgres
def test_sweep_statements_do_not_grow_with_rows(company):
    a = company["actors"]
    with clock.frozen(at(2026, 11, 23, 9, 0)):
        services.order_create_batch(items=[order_input(external_ref=f"R{i}") for i in range(40)],
                                    actor=a["sales"])
    with clock.frozen(at(2026, 11, 23, 14, 0)), CaptureQueriesContext(connection) as ctx:
        result = sweep_overdue(batch=100)
    assert result.marked == 40
    small = len(ctx.captured_queries)
    with clock.frozen(at(2026, 11, 23, 9, 0)):
        services.order_create_batch(items=[order_input(external_ref=f"S{i}") for i in range(4)],
                                    actor=a["sales"])
    with clock.frozen(at(2026, 11, 23, 14, 0)), CaptureQueriesContext(connection) as ctx:
        assert sweep_overdue(batch=100).marked == 4
    assert len(ctx.captured_queries) == small, [q["sql"][:80] for q in ctx.captured_queries]


@pytest.mark.smoke
def test_sweep_works_on_sqlite_too(company, three_orders):
    with clock.frozen(at(2026, 11, 23, 14, 0)):
        assert sweep_overdue().marked == 2
        assert sweep_overdue().marked == 0


def test_due_states_count_business_time():
    cal = get_business_calendar()
    entered = at(2026, 9, 30, 9, 0)               # the last workday before National Day
    due = cal.add_business_hours(entered, 10)      # 7.5 h that day, 2.5 h on 10-08 → 11:00
    assert due == at(2026, 10, 8, 11, 0)
    pct = DueSoonSpec(percent=Decimal("20"))       # the last 2 business hours
    hrs = DueSoonSpec(business_hours=Decimal("4"))
    kw = dict(entered=entered, due=due)
    # Friday 10-02 is a holiday: 2.5 business hours are still left, on track
    assert due_state(cal, now=at(2026, 10, 2, 12, 0), soon=pct, **kw) == ON_TRACK
    assert due_state(cal, now=at(2026, 10, 2, 12, 0), soon=hrs, **kw) == DUE_SOON
    assert due_state(cal, now=at(2026, 9, 30, 16, 30), soon=pct, **kw) == ON_TRACK   # 3.5 h left
    assert due_state(cal, now=at(2026, 10, 8, 8, 59), soon=pct, **kw) == ON_TRACK    # 2 h 1 min
    assert due_state(cal, now=at(2026, 10, 8, 9, 0), soon=pct, **kw) == DUE_SOON     # 2 h left
    assert due_state(cal, now=at(2026, 10, 8, 11, 0), soon=pct, **kw) == OVERDUE
    assert due_state(cal, now=at(2026, 9, 30, 10, 0), soon=pct, overdue_at=at(2026, 9, 30, 10, 0),
                     **kw) == OVERDUE
    assert due_state(cal, entered=entered, due=None, now=entered, soon=pct) == NO_DEADLINE
    # plain-hour deadlines count plain time
    assert due_state(cal, entered=at(2026, 10, 2, 10, 0), due=at(2026, 10, 2, 12, 0),
                     now=at(2026, 10, 2, 11, 0), soon=pct, business=False) == ON_TRACK
    assert due_state(cal, entered=at(2026, 10, 2, 10, 0), due=at(2026, 10, 2, 12, 0),
                     now=at(2026, 10, 2, 11, 40), soon=pct, business=False) == DUE_SOON


@pytest.mark.postgres
def test_the_overdue_mark_twins_mark_and_return_the_same_rows(company):
    """``stage_instances_mark_overdue``: the PostgreSQL statement and its ORM twin, from the same
    data, mark the same stage instances (earliest deadline first, up to the limit) and return the
    same rows."""
    from django.db import transaction

    from orderhub.orders.services import overdue as stages

    a = company["actors"]
    for hour in (9, 10, 11):      # pending is due 4 business hours later: 14:00, 15:00, 16:00
        with clock.frozen(at(2026, 11, 23, hour, 0)):
            services.order_create_batch(items=[order_input(external_ref=f"T{hour}-{i}") for i in range(3)],
                                        actor=a["sales"])
    due = sorted(StageInstance.objects.values_list("due_at", flat=True))
    assert due == [at(2026, 11, 23, h, 0) for h in (14, 15, 16) for _ in range(3)]
    results = {}
    for twin in (stages._mark_sql, stages._mark_orm):
        with transaction.atomic():
            first = twin(at(2026, 11, 23, 15, 0), 4)
            second = twin(at(2026, 11, 23, 15, 0), 10)
            third = twin(at(2026, 11, 23, 15, 0), 10)
            marked = sorted(StageInstance.objects.filter(overdue_at__isnull=False)
                            .values_list("pk", "overdue_at"))
            results[twin.__name__] = (first, sorted(second, key=lambda r: r.stage_instance_id), third, marked)
            transaction.set_rollback(True)
    fast, orm = results["_mark_sql"], results["_mark_orm"]
    assert fast == orm
    first, second, third, marked = fast
    assert [r.due_at for r in first] == sorted(r.due_at for r in first) and len(first) == 4
    assert len(second) == 2 and third == [] and len(marked) == 6          # due 14:00 ×3 and 15:00 ×3
    assert sorted(r.due_at for r in first + second) == due[:6]

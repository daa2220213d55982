"""Item 7: the promised date at confirmation (entering 已排产 runs the entry action
``promise_date``): materials from stock and open POs, then each operation on the earliest days
with free hours on its line, on the business calendar; the operations stored; a slip after a
capacity change told to the owner once."""

from datetime import date
from decimal import Decimal

import pytest

from orderhub.core.models import AuditEvent
from orderhub.notify.models import Message
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.planning import events
from orderhub.planning.models import OrderPlan, ScheduledOperation
from orderhub.planning.services import RoutingIn, line_save, schedule_rebuild
from orderhub.purchasing.services import LineIn, po_place, supplier_save
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def confirm(company, qty="100", **kw):
    a = company["actors"]
    order = services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal(qty))], **kw),
                                  actor=a["sales"]).order
    assert services.order_transition(order=order, to="scheduled", actor=a["service"]).ok
    order.refresh_from_db()
    return order


def test_confirmation_promises_from_capacity_and_books_it(company, lines, monday_morning):
    first = confirm(company)          # 10 h on L1: Monday 8 h, Tuesday 2 h
    assert first.promised_date == date(2026, 11, 24)
    booked = list(ScheduledOperation.objects.filter(order=first).order_by("day").values_list("day", "hours"))
    assert booked == [(date(2026, 11, 23), Decimal("8.00")), (date(2026, 11, 24), Decimal("2.00"))]
    second = confirm(company)         # Tuesday's 6 h left, then 4 h on Wednesday
    assert second.promised_date == date(2026, 11, 25)
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=second.pk).latest("seq")
    old, new, note = ev.data["actions"]["promised_date"]
    assert (old, new) == (None, "2026-11-25") and "11月25日完工" in note
    plan = OrderPlan.objects.get(order=second)
    assert plan.expected_date == plan.promised_date == date(2026, 11, 25)


def test_weekends_and_holidays_have_no_hours(company, lines, monday_morning):
    for _ in range(4):
        confirm(company)              # 40 h fill Monday to Friday on L1
    fifth = confirm(company, qty="10")
    assert fifth.promised_date == date(2026, 11, 30)   # the next Monday, not Saturday


def test_materials_due_on_a_po_start_the_work_that_day(company, lines, monday_morning):
    a = company["actors"]
    sup = supplier_save(actor=a["purchaser"], code="S01", name="无锡铝材")
    po_place(actor=a["purchaser"], supplier_id=sup.pk, lines=[LineIn(company["bar"].pk, Decimal("50"), date(2026, 11, 27))])
    order = confirm(company, qty="200")   # 120 kg of bar, 80 on hand: the PO of Friday 27th makes it up
    days = list(ScheduledOperation.objects.filter(order=order).order_by("day").values_list("day", flat=True))
    assert days[0] == date(2026, 11, 27)
    assert order.promised_date == date(2026, 12, 1)    # 20 h: Fri 8, Mon 8, Tue 4


def test_an_order_without_routings_keeps_its_typed_date(company, monday_morning):
    order = confirm(company, promised_date=date(2026, 12, 18))
    assert order.promised_date == date(2026, 12, 18)
    assert not ScheduledOperation.objects.exists()


def test_a_capacity_cut_slips_the_order_and_tells_its_owner_once(company, lines, monday_morning):
    order = confirm(company, qty="200")       # 20 h on L1: Mon, Tue, Wed 4 h
    assert order.promised_date == date(2026, 11, 25)
    a = company["actors"]["planner"]
    line_save(actor=a, code="L1", name="一号线", hours_per_day=Decimal("4"),
              routings=[RoutingIn(company["housing"].pk, 10, "机加工", Decimal("0.1"))])
    plan = OrderPlan.objects.get(order=order)
    assert plan.expected_date == date(2026, 11, 27) and plan.slipped_to == date(2026, 11, 27)
    told = Message.objects.filter(event=events.SLIPPED, order=order)
    assert told.count() >= 1 and "11月27日" in told.first().payload["context"]["message"]
    n = told.count()
    schedule_rebuild(actor=a)                  # nothing moved: nobody told again
    assert Message.objects.filter(event=events.SLIPPED, order=order).count() == n
    order.refresh_from_db()
    assert order.promised_date == date(2026, 11, 25)   # the promise stays; the slip is planning's


def test_rebuild_places_urgent_orders_first(company, lines, monday_morning):
    green = confirm(company)
    red = confirm(company, urgency="red")
    schedule_rebuild(actor=company["actors"]["planner"])
    first_day = {o: ScheduledOperation.objects.filter(order=o).order_by("day").values_list("day", flat=True)[0]
                 for o in (green, red)}
    assert first_day[red] == date(2026, 11, 23)
    assert OrderPlan.objects.get(order=red).expected_date == date(2026, 11, 24)
    assert OrderPlan.objects.get(order=green).expected_date == date(2026, 11, 25)

"""Escalation ladders, driven by the clock across China's 2026 National Day holiday.

From the ``holidays`` package's CN calendar: 2026-09-25 (Mid-Autumn) and 10-01 … 10-07 are days
off; Sunday 09-20 and Saturday 10-10 are make-up workdays (调休上班). Working time is
08:30–12:00 and 13:00–17:30 (8 h a day).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.models import AuditEvent
from orderhub.notify.models import Message
from orderhub.orders import services
from orderhub.orders.models import EscalationStep, Order
from orderhub.rules.ladders import ladder_fire_due
from orderhub.rules.timing import subtract_business_hours
from orderhub.workflow.services import current_definition
from tests.conftest import SH, order_input

pytestmark = [pytest.mark.django_db]


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def fire(moment: datetime) -> int:
    with clock.frozen(moment):
        return ladder_fire_due()


def test_the_calendar_facts_this_file_relies_on():
    cal = get_business_calendar()
    assert cal.day_kind(date(2026, 10, 1)) == "holiday"
    assert cal.day_kind(date(2026, 10, 7)) == "holiday"
    assert cal.day_kind(date(2026, 9, 25)) == "holiday"
    assert cal.day_kind(date(2026, 10, 10)) == "makeup_workday"
    assert cal.day_kind(date(2026, 9, 20)) == "makeup_workday"


def test_subtracting_business_hours_mirrors_adding():
    cal = get_business_calendar()
    end = at(2026, 10, 14, 17, 30)
    # back over the make-up Saturday 10-10 and the whole holiday week
    assert subtract_business_hours(cal, end, 72) == at(2026, 9, 28, 8, 30)
    for start in (at(2026, 9, 28, 8, 30), at(2026, 9, 30, 10, 15), at(2026, 10, 9, 16, 0)):
        for hours in (Decimal("0.5"), 3, 8, 27, 72):
            assert subtract_business_hours(cal, cal.add_business_hours(start, hours), hours) == start
    # lunch is not working time: 1 h before 13:30 is 11:30
    assert subtract_business_hours(cal, at(2026, 9, 29, 13, 30), 1) == at(2026, 9, 29, 11, 30)


def _t4_order(company, *, required: date, created: datetime) -> Order:
    """A T4 order walked to material_purchase (the stage whose ladder is under test)."""
    a = company["actors"]
    with clock.frozen(created):
        order = services.order_create(data=order_input(workflow="T4", required_date=required),
                                      actor=a["sales"]).order
        for to, who in (("design", "sales"), ("quote_confirmed", "designer"), ("material_purchase", "sales")):
            assert services.order_transition(order=order.number, to=to, actor=a[who]).ok
    return Order.objects.get(pk=order.pk)


def test_an_order_on_hold_does_not_escalate_until_resumed(company):
    order = _t4_order(company, required=date(2026, 10, 14), created=at(2026, 9, 21, 9, 0))
    a = company["actors"]
    with clock.frozen(at(2026, 9, 25, 9, 0)):
        services.order_hold(order=order.number, actor=a["finance"], reason="税号待确认")
    assert fire(at(2026, 9, 28, 8, 30)) == 0          # the first rung's moment, but held
    assert fire(at(2026, 9, 29, 10, 0)) == 0
    assert not Message.objects.filter(event="escalation", order=order).exists()
    with clock.frozen(at(2026, 9, 29, 11, 0)):
        services.order_resume(order=order.number, actor=a["finance"])
    assert fire(at(2026, 9, 29, 11, 1)) == 1          # still untouched after the hold: it fires
    assert _history(order)[0].data["step"] == "not_started_72h"


def _history(order) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(subject_type="order", subject_id=order.pk,
                                          action="order.escalated").order_by("seq"))


@pytest.mark.smoke
def test_t4_ladder_each_step_fires_once_at_its_business_time_moment(company):
    order = _t4_order(company, required=date(2026, 10, 14), created=at(2026, 9, 21, 9, 0))
    steps = list(EscalationStep.objects.filter(order=order).order_by("seq"))
    assert [s.step for s in steps] == ["not_started_72h", "untouched_48h"]
    # 72 working hours before the required date's end of day (10-14 17:30), skipping the
    # holiday week and counting the make-up Saturday 10-10
    assert steps[0].fire_at == at(2026, 9, 28, 8, 30)
    # 48 working hours later: across 10-01…10-07 (off) onto the make-up Saturday
    assert steps[1].fire_at == at(2026, 10, 10, 17, 30)

    assert fire(at(2026, 9, 28, 8, 29)) == 0
    assert fire(at(2026, 9, 28, 8, 30)) == 1
    assert fire(at(2026, 9, 28, 8, 31)) == 0            # fired once
    first = EscalationStep.objects.get(pk=steps[0].pk)
    assert first.fired_at == at(2026, 9, 28, 8, 30) and first.outcome == "notified"
    pm = company["users"]["production_manager"]
    msgs = Message.objects.filter(event="escalation", order=order)
    assert {(m.user_id, m.channel) for m in msgs} == {(pm.pk, "inapp")}
    assert all(m.severity == "warning" for m in msgs)

    # nothing during the holiday; the second rung waits for the make-up Saturday's end
    assert fire(at(2026, 10, 5, 12, 0)) == 0
    assert fire(at(2026, 10, 10, 17, 29)) == 0
    assert fire(at(2026, 10, 10, 17, 30)) == 1
    assert fire(at(2026, 10, 12, 9, 0)) == 0
    vp = company["users"]["vice_president"]
    red = Message.objects.filter(event="escalation", order=order, severity="red")
    assert {m.user_id for m in red} == {vp.pk}

    # each firing is recorded on the order, in its hash chain
    events = _history(order)
    assert [(e.data["step"], e.data["outcome"], e.actor_id) for e in events] == [
        ("not_started_72h", "notified", "escalation"), ("untouched_48h", "notified", "escalation")]
    assert events[1].data["roles"] == ["vice_president"]


def test_t4_ladder_is_cancelled_when_the_work_moves(company):
    order = _t4_order(company, required=date(2026, 10, 14), created=at(2026, 9, 21, 9, 0))
    with clock.frozen(at(2026, 9, 25, 10, 0)):
        # kitting would block: the manager forces the order into production
        assert services.order_override(order=order.number, to="parts_production",
                                       actor=company["actors"]["manager"], reason="材料已到").ok
    states = {s.step: (s.cancelled_at, s.fired_at) for s in EscalationStep.objects.filter(order=order)}
    assert states == {"not_started_72h": (at(2026, 9, 25, 10, 0), None),
                      "untouched_48h": (at(2026, 9, 25, 10, 0), None)}
    assert fire(at(2026, 10, 12, 9, 0)) == 0
    assert not _history(order)
    assert not Message.objects.filter(event="escalation").exists()


def test_cancelling_the_order_cancels_its_ladder(company):
    order = _t4_order(company, required=date(2026, 10, 14), created=at(2026, 9, 21, 9, 0))
    with clock.frozen(at(2026, 9, 22, 10, 0)):
        services.order_cancel(order=order.number, actor=company["actors"]["manager"], reason="客户撤单")
    assert not EscalationStep.objects.filter(order=order, cancelled_at__isnull=True).exists()
    assert fire(at(2026, 10, 12, 9, 0)) == 0


def test_a_late_entry_fires_the_first_rung_at_once_and_counts_the_next_from_there(company):
    # entered 09-29 10:00, already past "72 h before": the first rung is due at entry
    order = _t4_order(company, required=date(2026, 10, 14), created=at(2026, 9, 29, 10, 0))
    steps = list(EscalationStep.objects.filter(order=order).order_by("seq"))
    assert steps[0].fire_at == at(2026, 9, 29, 10, 0)
    # 48 working hours from 09-29 10:00: 09-29 (6.5), 09-30 (8), 10-08, 10-09, 10-10 (24),
    # 10-12 (8) = 46.5, then 1.5 h on 10-13 → 10:00
    assert steps[1].fire_at == at(2026, 10, 13, 10, 0)
    assert fire(at(2026, 9, 29, 10, 0, 5)) == 1


@pytest.mark.smoke
def test_t2_no_action_for_two_hours_turns_the_order_red(company):
    a = company["actors"]
    with clock.frozen(at(2026, 11, 23, 10, 0)):
        order = services.order_create(data=order_input(workflow="T2"), actor=a["service"]).order
    step = EscalationStep.objects.get(order=order)
    assert step.fire_at == at(2026, 11, 23, 12, 0)          # plain hours: the T2 board is 2 h
    assert fire(at(2026, 11, 23, 11, 59)) == 0
    assert fire(at(2026, 11, 23, 12, 0, 1)) == 1
    order.refresh_from_db()
    assert order.urgency == "red"
    upd = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk, action="order.updated").get()
    assert upd.changes["urgency"] == ["green", "red"] and upd.actor_id == "escalation"
    assert Message.objects.filter(event="escalation", order=order, severity="red").exists()


def test_t1_change_request_unanswered_for_two_business_hours_reaches_the_operations_director(company):
    a = company["actors"]
    with clock.frozen(at(2026, 9, 30, 16, 30)):      # the last workday before the holiday
        order = services.order_create(data=order_input(), actor=a["sales"]).order
        ticket = services.ticket_open(order=order.number, kind="change_request",
                                      title="客户要求改为阳极氧化黑色", actor=a["sales"])
    # 1 h left on 09-30, then the holiday week: the next working hour is 10-08 08:30–09:30
    assert ticket.owner_role == "planner" and ticket.due_at == at(2026, 10, 8, 9, 30)
    step = EscalationStep.objects.get(ticket=ticket)
    assert step.fire_at == at(2026, 10, 8, 9, 30)
    assert fire(at(2026, 10, 3, 12, 0)) == 0
    assert fire(at(2026, 10, 8, 9, 30)) == 1
    od = company["users"]["operations_director"]
    assert Message.objects.filter(event="escalation", user_id=od.pk, severity="red").exists()
    ev = _history(order)[0]
    assert ev.data["ticket"] == ticket.pk and ev.data["step"] == "unanswered_2h"


def test_answering_the_change_request_cancels_its_escalation(company):
    a = company["actors"]
    with clock.frozen(at(2026, 11, 23, 9, 0)):
        order = services.order_create(data=order_input(), actor=a["sales"]).order
        ticket = services.ticket_open(order=order.number, kind="change_request", title="改数量",
                                      actor=a["sales"])
    with clock.frozen(at(2026, 11, 23, 10, 0)):
        with pytest.raises(Exception, match="planner"):
            services.ticket_resolve(ticket=ticket, resolution="同意", actor=a["sales"])
        services.ticket_resolve(ticket=ticket, resolution="可以改, 交期顺延 1 天", actor=a["planner"])
    step = EscalationStep.objects.get(ticket=ticket)
    assert step.cancelled_at == at(2026, 11, 23, 10, 0)
    assert fire(at(2026, 11, 24, 9, 0)) == 0
    actions = list(AuditEvent.objects.filter(subject_type="order", subject_id=order.pk)
                   .order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == ["ticket.opened", "ticket.resolved"]


def test_a_false_condition_is_recorded_and_sends_nothing(company):
    """A ladder with a condition that no longer holds: fired once, recorded, nothing sent."""
    from orderhub.workflow.services import workflow_save

    data = current_definition("T2").spec
    data["stages"][0]["escalation"][0]["condition"] = "urgency == 'red'"
    workflow_save(data=data, actor=Actor.system("test"))
    with clock.frozen(at(2026, 11, 23, 10, 0)):
        order = services.order_create(data=order_input(workflow="T2"), actor=company["actors"]["service"]).order
    assert fire(at(2026, 11, 23, 12, 0)) == 1
    step = EscalationStep.objects.get(order=order)
    assert step.outcome == "condition_false" and step.fired_at is not None
    assert not Message.objects.filter(event="escalation").exists()
    assert _history(order)[0].data["outcome"] == "condition_false"
    assert fire(at(2026, 11, 23, 13, 0)) == 0


def test_two_runners_fire_a_rung_once(company):
    """The rung is claimed under the order's row lock with SKIP LOCKED: a second pass (as a
    second machine would) finds nothing to do."""
    with clock.frozen(at(2026, 11, 23, 10, 0)):
        services.order_create(data=order_input(workflow="T2"), actor=company["actors"]["service"])
    moment = at(2026, 11, 23, 12, 0) + timedelta(seconds=1)
    assert fire(moment) + fire(moment) == 1


def test_a_rung_fires_under_one_lock_of_its_order_and_publishes_once(company):
    """Record, notify and mark fired in one transaction holding the order's row lock once; the
    history gets order.escalated and the order.updated of set_urgency, published in one call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orderhub.core.audit_verify import verify
    from orderhub.orders import hooks

    with clock.frozen(at(2026, 11, 23, 10, 0)):
        order = services.order_create(data=order_input(workflow="T2"), actor=company["actors"]["service"]).order
    published: list[list] = []
    with hooks.listening(published.append), CaptureQueriesContext(connection) as ctx:
        assert fire(at(2026, 11, 23, 12, 0, 1)) == 1
    locks = [q["sql"] for q in ctx.captured_queries
             if "FOR UPDATE" in q["sql"] and 'FROM "orders_order"' in q["sql"]]
    assert len(locks) == 1, locks
    assert [[(c.action, c.actor.id) for c in call] for call in published] == [
        [("order.escalated", "escalation"), ("order.updated", "escalation")]]
    escalated, updated = published[0]
    assert updated.changes["urgency"] == ["green", "red"] and escalated.extra["step"] == updated.event.reason.split()[-1]
    order.refresh_from_db()
    assert order.urgency == "red" and order.audit_seq == 3 and order.version == 2
    report = verify(subject_types={"order"})   # compares each order's recorded head too
    assert report.events >= 3 and not report.findings

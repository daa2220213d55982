"""Change requests with approval (issue 15.2): raised with their impact, approved by the roles the
workflow names for the order's stage, applied as version n+1; the order frozen meanwhile."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from orderhub.core.errors import DomainError, PermissionDenied, ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.inventory.models import Reservation
from orderhub.notify.models import Message
from orderhub.orders import events, services
from orderhub.orders.inputs import LineInput
from orderhub.orders.models import ChangeRequest, EscalationStep, Order, Snapshot, Ticket
from orderhub.orders.services import LineChange
from tests.conftest import order_input

pytestmark = pytest.mark.django_db

D = Decimal


def _picking(company) -> str:
    """A T2 order in picking: its stock reserved; change approvers service and warehouse."""
    a = company["actors"]
    number = services.order_create(data=order_input(workflow="T2", lines=[LineInput(sku="M8X30", qty=D("5"))]),
                                   actor=a["sales"]).order.number
    assert services.order_transition(order=number, to="picking", actor=a["service"]).ok
    return number


def _held(number: str) -> Decimal:
    return Reservation.objects.filter(order__number=number, status="active").aggregate(s=Sum("qty"))["s"] or D(0)


def _actions(order: Order) -> list[str]:
    return list(AuditEvent.objects.filter(subject_type="order", subject_id=order.pk)
                .order_by("seq").values_list("action", flat=True))


def test_raise_computes_the_impact_freezes_and_approval_applies_as_next_version(company):
    a = company["actors"]
    number = _picking(company)
    order = Order.objects.get(number=number)
    v, new_date = order.version, order.required_date + timedelta(days=7)
    cr = services.change_request_raise(order=number, actor=a["sales"], reason="客户加量并推迟交期",
                                       header={"required_date": new_date, "remarks": "加急包装"},
                                       lines=[LineChange("update", line_no=1, qty=D("8"))])
    assert cr.status == "pending" and cr.base_version == v
    assert cr.approvers == ["service", "warehouse", "finance"]     # the amount changes: finance too
    stock = cr.impact["stock"]
    assert stock["holds_stock"] and stock["products"][0]["sku"] == "M8X30"
    assert (stock["products"][0]["held"], stock["products"][0]["needed"], stock["products"][0]["to_reserve"]) == (
        "5", "8", "3")
    assert cr.impact["deadlines"] == [{"field": "required_date", "before": order.required_date.isoformat(),
                                       "after": new_date.isoformat(), "days": 7}]
    credit = cr.impact["credit"]
    assert credit["amount_changes"] and D(credit["total_after"]) > D(credit["total_before"])
    assert set(cr.impact["notify_roles"]) >= {"warehouse", "service", "planner", "finance"}
    # nothing changed yet; the order is frozen; the owners were told; a ticket carries the ladder
    order.refresh_from_db()
    assert order.version == v and _held(number) == D("5")
    assert Message.objects.filter(event=events.ORDER_CHANGE_REQUESTED, order=order).exists()
    ticket = Ticket.objects.get(pk=cr.ticket_id)
    assert ticket.kind == "change_request" and ticket.status == "open"
    assert EscalationStep.objects.filter(ticket=ticket, cancelled_at__isnull=True).exists()
    with pytest.raises(DomainError) as exc:
        services.order_lines_change(order=number, actor=a["sales"], changes=[LineChange("update", line_no=1, qty=D("9"))])
    assert exc.value.status == 409 and "变更审批中" in exc.value.message
    # each approver role decides once; the last approval applies
    services.change_request_decide(request=cr.pk, approve=True, comment="可以", actor=a["service"])
    services.change_request_decide(request=cr.pk, approve=True, comment="有货", actor=a["warehouse"])
    order.refresh_from_db()
    assert order.version == v       # finance still to approve
    cr = services.change_request_decide(request=cr.pk, approve=True, comment="额度够", actor=a["finance"])
    order.refresh_from_db()
    assert cr.status == "approved" and cr.applied_version == v + 1 == order.version
    assert order.required_date == new_date and order.remarks == "加急包装"
    assert order.lines.get().qty == D("8") and _held(number) == D("8")       # re-reserved
    assert Snapshot.objects.filter(order=order, version=v + 1).exists()
    acts = _actions(order)
    assert acts.count(events.ORDER_CHANGE_DECIDED) == 3 and events.ORDER_CHANGE_APPLIED in acts
    assert Message.objects.filter(event=events.ORDER_CHANGE_APPLIED, order=order).exists()
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert not EscalationStep.objects.filter(ticket=ticket, fired_at__isnull=True, cancelled_at__isnull=True).exists()
    assert services.order_transition(order=number, to="shipped", actor=a["warehouse"]).ok   # no longer frozen


def test_reject_tells_the_requester_why_and_unfreezes(company):
    a = company["actors"]
    number = _picking(company)
    cr = services.change_request_raise(order=number, actor=a["sales"], header={"remarks": "换包装"})
    assert cr.approvers == ["service", "warehouse"]       # the amount does not change
    with pytest.raises(ValidationFailed):
        services.change_request_decide(request=cr.pk, approve=False, comment=" ", actor=a["warehouse"])
    with pytest.raises(PermissionDenied):
        services.change_request_decide(request=cr.pk, approve=True, comment="好", actor=a["planner"])
    cr = services.change_request_decide(request=cr.pk, approve=False, comment="已打包，无法更换", actor=a["warehouse"])
    assert cr.status == "rejected"
    order = Order.objects.get(number=number)
    assert order.remarks != "换包装"
    msgs = list(Message.objects.filter(event=events.ORDER_CHANGE_REJECTED, order=order))
    assert msgs and all(m.user_id == company["users"]["sales"].pk for m in msgs)
    assert all(m.payload["context"]["comment"] == "已打包，无法更换" for m in msgs)
    with pytest.raises(DomainError):
        services.change_request_decide(request=cr.pk, approve=True, comment="好", actor=a["service"])
    assert services.order_transition(order=number, to="shipped", actor=a["warehouse"]).ok


def test_a_move_during_a_pending_request_is_refused_with_the_reason(company):
    a = company["actors"]
    number = _picking(company)
    services.change_request_raise(order=number, actor=a["service"], lines=[LineChange("update", line_no=1, qty=D("4"))])
    with pytest.raises(DomainError) as exc:
        services.order_transition(order=number, to="shipped", actor=a["warehouse"])
    assert exc.value.status == 409 and exc.value.code == "change_pending"
    assert "变更审批中" in exc.value.message
    with pytest.raises(DomainError) as exc:   # one pending request at a time
        services.change_request_raise(order=number, actor=a["sales"], header={"remarks": "再改"})
    assert "变更审批中" in exc.value.message
    assert Order.objects.get(number=number).stage == "picking"


def test_nothing_to_change_and_bad_lines_are_refused(company):
    a = company["actors"]
    number = _picking(company)
    with pytest.raises(DomainError) as exc:
        services.change_request_raise(order=number, actor=a["sales"], header={})
    assert exc.value.code == "no_change"
    with pytest.raises(ValidationFailed) as vexc:
        services.change_request_raise(order=number, actor=a["sales"], lines=[LineChange("update", line_no=9, qty=D(1))])
    assert vexc.value.problems[0].field == "changes[0].line_no"
    with pytest.raises(PermissionDenied):
        services.change_request_raise(order=number, actor=a["warehouse"], header={"remarks": "x"})
    assert not ChangeRequest.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_both_count_and_the_change_applies_once(company):
    a = company["actors"]
    number = _picking(company)
    cr = services.change_request_raise(order=number, actor=a["sales"], header={"remarks": "两人同时批"})
    v = Order.objects.get(number=number).version
    barrier = threading.Barrier(3)
    outcome: dict[str, object] = {}

    def decide(role: str, who: str):
        try:
            barrier.wait(timeout=30)
            services.change_request_decide(request=cr.pk, approve=True, comment="同意", actor=a[who], role=role)
            outcome[who] = True
        except DomainError as exc:
            outcome[who] = exc.code
        finally:
            connection.close()

    # two connections approve as the two approver roles; a third repeats the warehouse's role
    threads = [threading.Thread(target=decide, args=("service", "service")),
               threading.Thread(target=decide, args=("warehouse", "warehouse")),
               threading.Thread(target=decide, args=("warehouse", "admin"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert outcome["service"] is True
    # the warehouse's role is decided once: the later of the two is refused (already decided by the
    # role, or the whole request decided when the service's approval came in between)
    late = [o for o in (outcome["warehouse"], outcome["admin"]) if o is not True]
    assert len(late) == 1 and late[0] in ("already_decided", "change_request_decided"), outcome
    cr.refresh_from_db()
    order = Order.objects.get(number=number)
    assert cr.status == "approved" and len(cr.decisions) == 2
    assert order.version == v + 1 == cr.applied_version and order.remarks == "两人同时批"
    assert _actions(order).count(events.ORDER_CHANGE_APPLIED) == 1


def test_the_batch_move_refuses_the_frozen_order_and_moves_the_others(company):
    a = company["actors"]
    frozen, free = _picking(company), _picking(company)
    services.change_request_raise(order=frozen, actor=a["sales"], header={"remarks": "待审批"})
    results = {r.number: r for r in services.order_transition_batch(numbers=[frozen, free], to="shipped",
                                                                      actor=a["warehouse"])}
    assert results[free].ok
    assert results[frozen].outcome == "refused" and results[frozen].error.code == "change_pending"
    assert "变更审批中" in results[frozen].error.message
    assert Order.objects.get(number=frozen).stage == "picking"

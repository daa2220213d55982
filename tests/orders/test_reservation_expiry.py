"""The reservation expiry job with the clock pinned: holds past ``expires_at`` go back to stock,
the order's history says so, its owner is told (an outbox message of its own event type) and the
stage's guards are checked again."""

from datetime import timedelta
from decimal import Decimal

import pytest

from orderhub.core import clock
from orderhub.core.models import AuditEvent
from orderhub.inventory.models import Reservation, StockLevel
from orderhub.notify.models import Message
from orderhub.orders import events, services
from orderhub.orders.inputs import LineInput
from orderhub.orders.tasks import expire_reservations_job
from tests.conftest import advance, order_input

pytestmark = pytest.mark.django_db


def _picking(company):
    a = company["actors"]
    order = services.order_create(data=order_input(workflow="T2", lines=[LineInput(sku="M8X30", qty=Decimal("500"))]),
                                  actor=a["sales"]).order
    assert services.order_transition(order=order, to="picking", actor=a["service"]).ok
    return order


def test_expired_holds_are_released_and_the_owner_told(company, monday_morning):
    order = _picking(company)
    bolt_stock = StockLevel.objects.get(product=company["bolt"])
    assert bolt_stock.reserved == Decimal("500")
    with advance(47):
        assert services.reservations_expire() == []           # 48 h hold not yet over
    with advance(48):
        expire_reservations_job()                             # the periodic job, as registered
        assert services.reservations_expire() == []           # twice releases nothing twice
    bolt_stock.refresh_from_db()
    assert bolt_stock.reserved == 0
    assert set(Reservation.objects.filter(order=order).values_list("status", flat=True)) == {"released"}
    ev = AuditEvent.objects.get(subject_type="order", subject_id=order.pk,
                                action=events.ORDER_RESERVATION_EXPIRED)
    assert ev.data["released"][0]["qty"] == "500.0000" and ev.data["reasons"] == []
    msg = Message.objects.filter(event=events.ORDER_RESERVATION_EXPIRED, order=order).first()
    assert msg is not None and msg.user_id == order.owner_id == company["users"]["sales"].pk
    assert "M8×30 螺栓 500" in msg.payload["context"]["message"]


def test_the_job_is_registered_with_the_others():
    from orderhub.celery import periodic_jobs

    job = {j.name: j for j in periodic_jobs()}["orders.expire_reservations"]
    assert job.seconds == 60 and job.raw is expire_reservations_job


def test_the_stage_guards_are_checked_again(company, monday_morning):
    """An order forced into materials_ready with 40 kg short holds the 80 kg there were; when
    that hold expires the kitting guard fails again and says why, on the order and to its owner."""
    a = company["actors"]
    order = services.order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("200"))]),
                                  actor=a["sales"]).order
    assert services.order_transition(order=order, to="scheduled", actor=a["service"]).ok
    assert services.order_override(order=order, to="materials_ready", actor=a["manager"], reason="先做一半").ok
    Reservation.objects.filter(order=order).update(expires_at=clock.now() + timedelta(hours=1))
    other = _picking(company)                                 # a hold not yet expired stays
    with advance(2):
        assert services.reservations_expire() == [order.number]
    order.refresh_from_db()
    assert [r["code"] for r in order.blocked_reasons] == ["bom_kitted"]
    assert "40" in order.blocked_reasons[0]["message"]
    assert Reservation.objects.filter(order=other, status="active").exists()
    msg = Message.objects.get(event=events.ORDER_RESERVATION_EXPIRED, order=order, channel="inapp")
    assert "当前环节的条件不再满足" in msg.payload["context"]["message"]

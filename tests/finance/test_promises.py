"""Payment promises: the sweep alerts the sales owner and finance once when a promise's date
passes unpaid (outbox rows), marks a settled one kept, and is safe to run twice."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from orderhub.core import clock
from orderhub.core.errors import ValidationFailed
from orderhub.finance import events
from orderhub.finance.models import PaymentPromise
from orderhub.finance.services import invoice_issue, payment_record, promise_create, promises_sweep
from orderhub.notify.models import Message
from tests.conftest import SH

pytestmark = pytest.mark.django_db
D = Decimal


def test_a_broken_promise_alerts_sales_owner_and_finance_once(fin):
    with clock.frozen(datetime(2026, 11, 23, 9, 0, tzinfo=SH)):
        _o, sh = fin["ship"]("100", "1")
        _o2, sh2 = fin["ship"]("50", "1")
        finance = fin["a"]["finance"]
        inv = invoice_issue(shipment=sh.number, kind="normal", actor=finance)
        inv2 = invoice_issue(shipment=sh2.number, kind="normal", actor=finance)
        with pytest.raises(ValidationFailed):
            promise_create(invoice=inv.number, promised_on=date(2026, 11, 22), actor=finance)
        broken = promise_create(invoice=inv.number, promised_on=date(2026, 11, 25), amount=D("60"), actor=finance)
        kept = promise_create(invoice=inv2.number, promised_on=date(2026, 11, 25), actor=finance)
        assert promises_sweep() == 0                      # not due yet
        payment_record(customer="C001", amount=D("50"), received_on=date(2026, 11, 24), actor=finance,
                       invoice=inv2.number)
    with clock.frozen(datetime(2026, 11, 26, 9, 0, tzinfo=SH)):
        sent = promises_sweep()
        assert sent >= 2
        msgs = Message.objects.filter(event=events.PROMISE_OVERDUE)
        people = {m.address for m in msgs}
        assert {"sales", "finance"} <= {m.user.username for m in msgs if m.user_id}, people
        assert "客户 苏州博锐精工 承诺 2026年11月25日 前支付发票" in msgs.first().payload["context"]["message"]
        assert promises_sweep() == 0                      # once per promise
        assert Message.objects.filter(event=events.PROMISE_OVERDUE).count() == msgs.count()
    assert PaymentPromise.objects.get(pk=broken.pk).alerted_at is not None
    assert PaymentPromise.objects.get(pk=kept.pk).kept_at is not None
    assert PaymentPromise.objects.get(pk=kept.pk).alerted_at is None


def test_the_sweep_is_a_periodic_job_with_a_beat_entry():
    from orderhub.celery import app, periodic_jobs

    assert app.conf.beat_schedule["finance.promises"]["task"] == "finance.promises"
    assert "finance.promises" in {j.name for j in periodic_jobs()}

"""Every outbound webhook carries an idempotency key stable across retries (and restarts: it is
derived from the stored row), inside the signed body too, and the attempt number apart."""

import json
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orderhub.core import clock, signing
from orderhub.notify.delivery import deliver_due
from orderhub.notify.models import IDEMPOTENCY_NAMESPACE, Message
from orderhub.notify.services import Recipient, endpoint_save, message_resend, notify

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def test_the_key_is_the_same_on_every_attempt_and_signed(company, receiver, inline_jobs, admin_actor,
                                                         settings, django_capture_on_commit_callbacks):
    settings.ORDERHUB_NOTIFY_MAX_ATTEMPTS = 2
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin_actor,
                  config={"url": f"{receiver.url}/h", "secret": "k"})
    receiver.status = 503
    start = datetime(2026, 11, 23, 10, 0, tzinfo=SH)
    with clock.frozen(start), django_capture_on_commit_callbacks(execute=True):
        notify(event="rule.notify", recipients=[Recipient.webhook("erp")], context={"message": "交期"},
               dedupe_key="订单:42")        # a key that is not ASCII still goes out in a header
    receiver.status = 200
    with clock.frozen(start + timedelta(minutes=5)):
        deliver_due()
    m = Message.objects.get()
    assert m.status == "delivered" and m.attempts == 2
    first, second = receiver.wait_for(2)
    key = first["headers"]["Idempotency-Key"]
    assert key == second["headers"]["Idempotency-Key"] == m.idempotency_key
    assert uuid.UUID(key) == uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{m.pk}|{m.dedupe_key}")   # from the row alone
    assert [r["headers"]["X-OrderHub-Delivery-Attempt"] for r in (first, second)] == ["1", "2"]
    for r in (first, second):
        body = json.loads(r["body"])
        assert body["idempotency_key"] == key and body["dedupe_key"] == m.dedupe_key   # inside the signature
        assert signing.verify("k", r["headers"]["X-OrderHub-Timestamp"], r["body"],
                              r["headers"]["X-OrderHub-Signature"])
    # re-sent by hand later: still the same message, the same key
    Message.objects.filter(pk=m.pk).update(status=Message.Status.DEAD)
    with django_capture_on_commit_callbacks(execute=True):
        message_resend(message=m.pk, actor=admin_actor)
    third = receiver.wait_for(3)[2]
    assert third["headers"]["Idempotency-Key"] == key
    assert third["headers"]["X-OrderHub-Delivery-Attempt"] == "1"


def test_different_messages_have_different_keys(company, receiver, inline_jobs, admin_actor,
                                                django_capture_on_commit_callbacks):
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin_actor,
                  config={"url": f"{receiver.url}/h", "secret": "k"})
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            notify(event="rule.notify", recipients=[Recipient.webhook("erp")], context={"message": "x"},
                   dedupe_key=f"k{i}")
    keys = {r["headers"]["Idempotency-Key"] for r in receiver.wait_for(3)}
    assert len(keys) == 3

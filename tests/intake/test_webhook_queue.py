"""Webhooks in queue mode: acknowledged once stored (202 + inbox id), parsed by
`orderhub intake process-pending`; a processor killed mid-batch loses and doubles nothing."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db import connection

from orderhub.core.audit_verify import verify
from orderhub.core.models import AuditEvent
from orderhub.intake import services
from orderhub.intake.models import InboundMessage, InboundOrder, RefusedRequest
from orderhub.orders.models import Order
from tests.pgroles import database_url

from .conftest import sample
from .test_api import SECRET, post_webhook

S = InboundMessage.Status


def body(i: int, qty: int = 20) -> bytes:
    data = json.loads(sample("miniprogram", "01-paid.json"))
    data["order_id"] = f"WXQ{i:08d}"
    data["items"][0]["num"] = qty
    data["total_fee"] = qty * 38500 + 60 * 8600
    return json.dumps(data, ensure_ascii=False).encode()


def drain() -> dict:
    out = io.StringIO()
    call_command("intake", "process-pending", "--batch", "3", stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def queue_mode(settings, master, intake_actor):
    settings.ORDERHUB_INTAKE_WEBHOOK_MODE = "queue"
    services.channel_save(code="miniprogram", secret=SECRET, window_seconds=300, actor=intake_actor)
    return master


@pytest.mark.django_db
def test_queue_mode_acknowledges_with_the_inbox_id_and_parses_later(queue_mode, django_assert_max_num_queries,
                                                                    monkeypatch):
    with django_assert_max_num_queries(5):  # channel (cached after), insert, audit, savepoint: no parsing
        resp = post_webhook(sample("miniprogram", "01-paid.json"))
    assert resp.status_code == 202, resp.content
    ack = resp.json()
    assert (ack["status"], ack["queued"]) == ("received", True)
    stored = InboundMessage.objects.get(pk=ack["id"])
    assert bytes(stored.payload) == sample("miniprogram", "01-paid.json") and stored.queued
    assert not Order.objects.exists()  # nothing parsed yet
    tampered = post_webhook(sample("miniprogram", "01-paid.json").replace(b'"num": 20', b'"num": 2000'),
                            signature="sha256=" + "0" * 64)
    assert tampered.status_code == 401  # still refused at the door: logged, never stored or queued
    assert "id" not in tampered.json()
    assert InboundMessage.objects.count() == 1 and RefusedRequest.objects.get().reason == "bad_signature"
    post_webhook(sample("miniprogram", "02-same-again.json"))
    post_webhook(sample("miniprogram", "05-truncated.json"))
    from orderhub.intake.services import inbox

    calls = []
    real = inbox.order_create_batch
    monkeypatch.setattr(inbox, "order_create_batch", lambda **kw: calls.append(len(kw["items"])) or real(**kw))
    assert drain() == {"processed": 3, "statuses": {"parsed": 1, "duplicate": 1, "failed": 1}}
    assert calls == [2]  # one write for the batch: the same order twice, the truncated body refused before
    assert Order.objects.filter(external_ref="WX202602031512340001").count() == 1
    assert not InboundMessage.objects.filter(queued=True).exists()
    assert drain() == {"processed": 0, "statuses": {}}
    parsed = InboundMessage.objects.get(pk=ack["id"])
    assert (parsed.status, parsed.attempts) == (S.PARSED, 1)
    assert verify(subject_types={"inbound"}).findings == []


@pytest.mark.django_db
def test_sync_mode_stays_the_default(settings, master, intake_actor):
    services.channel_save(code="miniprogram", secret=SECRET, window_seconds=300, actor=intake_actor)
    assert services.webhook_mode() == "sync"
    resp = post_webhook(sample("miniprogram", "01-paid.json"))
    assert (resp.json()["status"], resp.json()["queued"]) == ("parsed", False)


def _locked_by_other() -> int:
    """Queued rows some other transaction holds (a processor mid-batch)."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM intake_inboundmessage WHERE queued")
        queued = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM (SELECT id FROM intake_inboundmessage WHERE queued "
                    "FOR UPDATE SKIP LOCKED) free")
        free = cur.fetchone()[0]
    return queued - free


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_processor_killed_mid_batch_then_restarted_processes_every_payload_exactly_once(queue_mode):
    n = 120
    ids = []
    for i in range(n):
        resp = post_webhook(body(i, qty=1 + i % 9))
        assert resp.status_code == 202
        ids.append(resp.json()["id"])
    # the same order sent twice: processed once, recorded once as a duplicate
    ids.append(post_webhook(body(7, qty=1 + 7 % 9)).json()["id"])
    env = {**os.environ, "DATABASE_URL": database_url(),
           "DJANGO_SETTINGS_MODULE": "orderhub.settings"}
    cmd = [sys.executable, "-m", "orderhub.cli", "intake", "process-pending", "--loop", "--batch", "10"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline, killed = time.monotonic() + 120, None
    while time.monotonic() < deadline and proc.poll() is None:
        done = InboundMessage.objects.filter(queued=False, pk__in=ids).count()
        held = _locked_by_other()
        if done >= 10 and held:  # some batches committed, one in the processor's hands
            proc.send_signal(signal.SIGKILL)
            killed = (done, held)
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert killed is not None, proc.stderr.read().decode()[-2000:]
    left = InboundMessage.objects.filter(queued=True).count()
    assert 0 < left < n + 1 and killed[0] < n + 1  # the batch in hand went back to the queue
    # oldest first: the repeat (sent last) is still queued, so each processed message made one order
    assert Order.objects.filter(channel="miniprogram").count() == n + 1 - left
    restarted = subprocess.run(cmd[:-3] + ["--batch", "10"], env=env, capture_output=True, timeout=300)
    assert restarted.returncode == 0, restarted.stderr.decode()[-2000:]
    assert json.loads(restarted.stdout)["processed"] == left
    msgs = InboundMessage.objects.filter(pk__in=ids)
    assert not msgs.filter(queued=True).exists()
    assert msgs.filter(status=S.PARSED).count() == n and msgs.filter(status=S.DUPLICATE).count() == 1
    assert set(msgs.values_list("attempts", flat=True)) == {1}  # a rolled-back attempt left no trace
    assert Order.objects.filter(channel="miniprogram").count() == n
    assert Order.objects.values("external_ref").distinct().count() == n
    assert InboundOrder.objects.filter(message_id__in=ids, created=True).count() == n
    for action in ("intake.parsed", "intake.duplicate"):
        per_message = AuditEvent.objects.filter(subject_type="inbound", subject_id__in=ids, action=action)
        assert per_message.count() == per_message.values("subject_id").distinct().count()
    assert AuditEvent.objects.filter(action="order.created").count() == n
    report = verify(subject_types={"inbound"})  # batch-written events chain correctly
    assert report.events >= 2 * (n + 1) and report.findings == []


@pytest.mark.django_db
def test_a_batch_that_raises_is_processed_message_by_message(queue_mode, monkeypatch):
    from orderhub.intake.services import inbox

    for name in ("01-paid.json", "04-bad-qty-and-date.json"):
        assert post_webhook(sample("miniprogram", name)).status_code == 202

    def broken(*args, **kwargs):
        raise RuntimeError("batch bug")

    monkeypatch.setattr(inbox, "process_many", broken)
    assert drain() == {"processed": 2, "statuses": {"parsed": 1, "failed": 1}}
    assert Order.objects.count() == 1 and not InboundMessage.objects.filter(queued=True).exists()

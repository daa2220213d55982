"""A real Celery worker (subprocess) on a real Redis delivers the outbox; killed with SIGKILL in
the middle of a delivery, a restarted worker delivers everything: nothing lost, at most one
duplicate, which the receiver recognises by its dedupe key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import transaction

from orderhub.notify.models import Message
from orderhub.notify.services import Recipient, endpoint_save, notify
from tests.pgroles import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

REDIS_URL = os.environ.get("ORDERHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker(settings):
    """Redis db 5, emptied; this process sends its wake-ups there."""
    import redis

    from orderhub.celery import app

    r = redis.Redis.from_url(REDIS_URL)
    try:
        r.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    r.flushdb()
    app.conf.broker_url = REDIS_URL
    app.conf.result_backend = REDIS_URL
    settings.ORDERHUB_JOBS = "celery"
    yield r
    r.flushdb()


class Worker:
    def __init__(self, log: Path):
        env = {**os.environ, "DATABASE_URL": _db_url(), "REDIS_URL": REDIS_URL,
               "ORDERHUB_NOTIFY_LEASE_SECONDS": "3", "ORDERHUB_JOBS": "celery",
               "ORDERHUB_LOG_LEVEL": "INFO"}
        self.log = open(log, "ab")  # noqa: SIM115
        # -B: the beat runs inside the worker (the 2-s sweep re-claims rows whose lease ran out)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orderhub.cli", "worker", "--pool", "solo", "-B",
             "--without-mingle", "--without-gossip", "--schedule", str(log.with_suffix(".beat"))],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


def _db_url() -> str:
    return database_url()


def _wait(cond, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_killed_mid_delivery_loses_nothing(company, receiver, broker, tmp_path):
    admin = company["actors"]["admin"]
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=admin, timeout_seconds=30,
                  config={"url": f"{receiver.url}/hook", "secret": "k"})
    # the receiver holds its first request open: the worker is killed while it waits
    release = threading.Event()
    hold_first = {"armed": True}
    original = receiver.server.RequestHandlerClass.do_POST

    def slow_first(handler):
        if hold_first["armed"]:
            hold_first["armed"] = False
            n = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(n)
            with receiver.cond:
                receiver.requests.append({"path": handler.path, "headers": handler.headers, "body": body})
                receiver.cond.notify_all()
            release.wait(60)
            return
        original(handler)

    receiver.server.RequestHandlerClass.do_POST = slow_first
    w1 = Worker(tmp_path / "worker1.log")
    w2 = None
    try:
        with transaction.atomic():
            for i in range(20):
                notify(event="rule.notify", recipients=[Recipient.webhook("erp")], context={"message": f"m{i}"},
                       dedupe_key=f"k{i:02d}")
        # after commit the wake-up went to Redis; the worker takes it and posts the first message
        receiver.wait_for(1, timeout=60)
        assert len(receiver.requests) >= 1, (tmp_path / "worker1.log").read_text()[-3000:]
        in_flight = receiver.json(0)["dedupe_key"]
        w1.kill()
        release.set()
        assert Message.objects.get(dedupe_key=in_flight).status == "sending"
        assert Message.objects.filter(status="delivered").count() == 0
        w2 = Worker(tmp_path / "worker2.log")
        _wait(lambda: Message.objects.filter(status="delivered").count() == 20, 90,
              "all 20 delivered after the restart")
    finally:
        release.set()
        w1.stop()
        if w2 is not None:
            w2.stop()
    seen = Counter(receiver.json(i)["dedupe_key"] for i in range(len(receiver.requests)))
    keys = set(Message.objects.values_list("dedupe_key", flat=True))
    assert set(seen) == keys                                   # nothing lost
    dupes = {k: n for k, n in seen.items() if n > 1}
    assert dupes == {in_flight: 2}                             # only the one in flight, once more
    m = Message.objects.get(dedupe_key=in_flight)
    assert m.attempts == 2
    assert list(m.attempt_log.values_list("ok", flat=True)) == [True]   # the killed try left no record

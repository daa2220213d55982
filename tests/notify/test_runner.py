"""The periodic registry and the embedded runner (the demo's broker-less mode)."""

import threading
import time

import pytest
from django.db import transaction

from orderhub import celery as jobs
from orderhub.notify import runner
from orderhub.notify.models import Message
from orderhub.notify.services import Recipient, endpoint_save, notify


@pytest.fixture
def tick_job():
    calls = []
    done = threading.Event()

    def tick():
        calls.append(time.monotonic())
        if len(calls) >= 3:
            done.set()

    jobs.periodic(seconds=0.2, name="test.tick")(tick)
    yield calls, done
    jobs._registry.pop("test.tick", None)
    jobs.app.conf.beat_schedule.pop("test.tick", None)
    jobs.app.tasks.pop("test.tick", None)


@pytest.mark.smoke
def test_periodic_registers_a_task_a_beat_entry_and_a_runner_job(tick_job):
    assert "test.tick" in jobs.app.tasks
    assert jobs.app.conf.beat_schedule["test.tick"] == {"task": "test.tick", "schedule": 0.2,
                                                        "options": {"expires": 1.0}}
    assert "test.tick" in {j.name for j in jobs.periodic_jobs()}
    # the notify deliverer is registered the same way (and R's jobs, when their app is loaded)
    assert jobs.app.conf.beat_schedule["notify.deliver_due"]["schedule"] == 2.0
    with pytest.raises(ValueError):
        jobs.periodic(seconds=1, name="test.tick")(lambda: None)   # a name is taken once
    with pytest.raises(ValueError):
        jobs.periodic(seconds=0, name="test.zero")


@pytest.mark.django_db(transaction=True)
def test_embedded_runner_delivers_after_commit_and_runs_the_jobs(company, receiver, settings, tick_job):
    settings.ORDERHUB_JOBS = "embedded"
    settings.ORDERHUB_RUN_JOBS_INLINE = False
    calls, done = tick_job
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=company["actors"]["admin"],
                  config={"url": f"{receiver.url}/h", "secret": "k"})
    r = runner.start_embedded_runner(poll_seconds=30)    # a long poll: only the wake-up can be quick
    try:
        time.sleep(0.3)
        with transaction.atomic():
            notify(event="rule.notify", recipients=[Recipient.webhook("erp")], context={"message": "x"},
                   dedupe_key="emb")
            time.sleep(0.3)
            assert receiver.requests == []       # nothing leaves before the commit
        t = time.monotonic()
        receiver.wait_for(1, timeout=10)
        assert len(receiver.requests) == 1
        assert time.monotonic() - t < 5           # woken by the commit, not by the 30-s poll
        assert done.wait(10), calls               # the periodic job ran on its interval
        assert all(b - a >= 0.15 for a, b in zip(calls, calls[1:], strict=False))
    finally:
        runner.stop_embedded_runner()
    assert not r.is_alive()
    assert Message.objects.get().status == "delivered"

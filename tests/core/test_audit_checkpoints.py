"""Signed checkpoints of every chain head, written atomically outside the database by a periodic
job (Celery beat and the embedded runner), cheap at any number of orders, and never written over
a contradiction (which would launder tampering)."""

import gc
import gzip
import json
import stat
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orderhub.celery import app as celery_app
from orderhub.celery import periodic_jobs
from orderhub.core import audit
from orderhub.core.checkpoints import (
    checkpoint_dir,
    checkpoint_files,
    checkpoint_write,
    newest_valid,
    read,
)
from orderhub.core.models import AuditEvent
from orderhub.orders import services
from orderhub.orders.models import Order
from tests.conftest import order_input

from . import tamper


def _orders(company, n):
    return [services.order_create(data=order_input(), actor=company["actors"]["sales"]).order for _ in range(n)]


@pytest.mark.smoke
@pytest.mark.django_db
def test_a_checkpoint_lists_every_head_signed_and_written_atomically(company, settings):
    orders = _orders(company, 3)
    result = checkpoint_write()
    directory = checkpoint_dir()
    assert result.path.parent == directory and checkpoint_files(directory) == [result.path]
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in directory.iterdir()] == [result.path.name]   # no temporary file left
    cp = read(result.path, audit.keyring())
    assert cp.key_id == audit.current_key()[0] and cp.legacy == {"core_auditevent": 0, "orders_snapshot": 0}
    entries = list(cp.entries())
    others = AuditEvent.objects.exclude(subject_type="order").values("subject_type", "subject_id").distinct()
    assert cp.subjects == len(entries) == len(orders) + others.count() == result.subjects
    assert entries == sorted(entries, key=lambda e: (e[0], e[1]))
    rows = {e[1]: e for e in entries if e[0] == "order"}
    for o in Order.objects.all():
        assert rows[o.pk] == ("order", o.pk, o.number, o.audit_seq, o.audit_head)
    with gzip.open(result.path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert lines[0] == "orderhub-audit-checkpoint/1" and lines[-1].startswith("signature ")
    assert json.loads(lines[1])["key_id"] == cp.key_id


@pytest.mark.smoke
@pytest.mark.django_db
def test_nothing_changed_writes_nothing_and_old_files_are_pruned(company, settings):
    settings.ORDERHUB_AUDIT_CHECKPOINT_KEEP = 2
    first = checkpoint_write().path
    again = checkpoint_write()
    assert again.path is None and again.unchanged and checkpoint_files(checkpoint_dir()) == [first]
    made = [first]
    for _ in range(3):
        _orders(company, 1)
        made.append(checkpoint_write().path)
    assert checkpoint_files(checkpoint_dir()) == made[-2:]
    assert newest_valid().checkpoint.path == made[-1]


@pytest.mark.smoke
@pytest.mark.django_db
def test_a_checkpoint_signed_with_an_unknown_key_is_reported(company, settings):
    original = settings.ORDERHUB_AUDIT_KEY
    _orders(company, 1)
    path = checkpoint_write().path
    settings.ORDERHUB_AUDIT_KEY = "a-new-key"       # rotated, the old key not listed as retired
    selection = newest_valid()
    assert selection.checkpoint is None
    assert [(f.kind, f.label) for f in selection.findings] == [("checkpoint_key", f"检查点文件 {path.name}")]
    settings.ORDERHUB_AUDIT_RETIRED_KEYS = [original]
    assert newest_valid().checkpoint.path == path


@pytest.mark.smoke
@pytest.mark.django_db(transaction=True)
def test_the_job_refuses_to_write_over_a_contradiction(company, capsys):
    orders = _orders(company, 2)
    services.order_transition(order=orders[0], to="scheduled", actor=company["actors"]["service"])
    first = checkpoint_write().path
    evs = tamper.events(orders[0])
    tamper.run("DELETE FROM core_auditevent WHERE id = %s", [evs[-1].pk])
    tamper.run("UPDATE orders_order SET audit_seq = 1, audit_head = %s WHERE id = %s", [evs[0].hash, orders[0].pk])
    result = checkpoint_write()
    assert result.path is None and [(f.kind, f.label) for f in result.refused] == [
        ("tail_deleted", f"订单 {orders[0].number}")]
    with pytest.raises(CommandError, match="No checkpoint written"):
        call_command("audit", "checkpoint", language="en")
    assert f"BROKEN order {orders[0].number}" in capsys.readouterr().out
    assert checkpoint_files(checkpoint_dir()) == [first]   # the evidence stays the newest


@pytest.mark.smoke
@pytest.mark.django_db(transaction=True)
def test_the_job_confirms_that_a_moved_head_kept_its_old_events(company):
    orders = _orders(company, 2)
    checkpoint_write()
    kid, key = audit.current_key()

    def edit(ev):
        ev.reason = "改写"

    tamper.rewrite_chain(orders[1], key=key, key_id=kid, edit=edit)   # with the key: every MAC valid
    services.order_transition(order=Order.objects.get(pk=orders[1].pk), to="scheduled",
                              actor=company["actors"]["service"])     # and the head moved on
    result = checkpoint_write()
    assert result.path is None and [(f.kind, f.label) for f in result.refused] == [
        ("rewritten", f"订单 {orders[1].number}")]


@pytest.mark.django_db
def test_the_job_costs_the_same_queries_at_any_number_of_orders(company):
    def cost():
        with CaptureQueriesContext(connection) as ctx:
            result = checkpoint_write()
        assert not result.refused
        return len(ctx.captured_queries)

    _orders(company, 2)
    small = cost()
    _orders(company, 40)
    assert cost() == small                      # new heads: no query of their own
    for o in Order.objects.all()[:30]:          # 30 heads moved on: one query confirms them all
        services.order_transition(order=o, to="scheduled", actor=company["actors"]["service"])
    assert cost() == small + 1


def test_the_job_is_in_the_periodic_registry(settings):
    job = {j.name: j for j in periodic_jobs()}["audit.checkpoint"]
    assert job.seconds == settings.ORDERHUB_AUDIT_CHECKPOINT_SECONDS == 600
    assert celery_app.conf.beat_schedule["audit.checkpoint"]["task"] == "audit.checkpoint"
    assert "audit.checkpoint" in celery_app.tasks


@pytest.mark.django_db(transaction=True)
def test_the_embedded_runner_writes_checkpoints(company):
    from orderhub.notify import runner

    _orders(company, 2)
    r = runner.start_embedded_runner(poll_seconds=0.2)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not checkpoint_files(checkpoint_dir()):
            time.sleep(0.2)
    finally:
        runner.stop_embedded_runner()
    assert not r.is_alive()
    gc.collect()   # the runner thread's connection goes with it (the test database is dropped at the end)
    (path,) = checkpoint_files(checkpoint_dir())
    assert read(path, audit.keyring()).subjects >= 2

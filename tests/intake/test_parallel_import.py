"""A file imported in chunks by several processes: the same result as one process, the report in
row order, progress summed across workers, the job ended once; a worker killed mid-run (or the
whole import) loses nothing and doubles nothing."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection, connections

from orderhub.core.actors import Actor
from orderhub.core.canonical import to_plain
from orderhub.core.models import AuditEvent
from orderhub.intake import services
from orderhub.intake.liveness import importer_alive
from orderhub.intake.models import ImportChunk, ImportJob, InboundMessage, InboundOrder
from orderhub.intake.services.inbox import CHUNK, plain
from orderhub.notify.models import Message
from orderhub.orders.models import Order, OrderLine, Snapshot
from tests.pgroles import database_url

from .test_cli_and_crash import HEADER, taobao_csv


def mixed_csv(prefix: int, n: int = 1300) -> bytes:
    """``n`` Taobao rows over three chunks: bad rows (unknown SKU, negative quantity, 31 February),
    a row repeated in a later chunk (a duplicate), a key repeated with other content (a conflict)."""
    rows = [HEADER]
    for i in range(n):
        qty, sku, created = 1 + i % 7, "OIL-FLT-0915", "2026-02-18 09:12:03"
        if i in (3, 620):
            sku = "NO-SUCH-SKU"
        if i == 1001:
            qty = -2
        if i == 1250:
            created = "2026-02-31 08:00:00"
        ref, note = prefix + i, i
        if i == 700:   # the same row as row 10: a duplicate
            ref, note, qty = prefix + 10, 10, 1 + 10 % 7
        if i == 1100:  # row 20's key with another quantity: a conflict
            ref, note, qty = prefix + 20, 20, 9
        rows.append(f'"=""{ref}""",捷达汽配,{qty * 86}.00,0.00,{qty * 86}.00,{qty * 86}.00,买家已付款,'
                    f'"备注 {note}",李强,杭州,快递,13858012345,{created},{created},机油滤清器,1,{qty},{sku},')
    return ("\r\n".join(rows) + "\r\n").encode("gbk")


def by_row(msg: InboundMessage) -> dict[int, str]:
    return {i["rows"][0]: i["result"] for i in msg.report["items"]}


def test_plain_is_to_plain():
    tz = ZoneInfo("Asia/Shanghai")
    data = {"total": Decimal("86.00"), "big": Decimal("1E+3"), "paid_at": datetime(2026, 2, 18, 9, 12, tzinfo=tz),
            "day": date(2026, 2, 18), "notes": ["a", "b"], "n": 3, "f": 1.5, "ok": True, "none": None,
            "nested": [{"x": Decimal("0.10"), "t": ("a", 1)}], "odd": {1: "int key"}, "tags": {"b", "a"}}
    assert plain(data) == to_plain(data)


@pytest.mark.smoke
@pytest.mark.django_db
def test_chunked_import_in_one_process_is_the_one_process_import(master, intake_actor):
    """Inside a transaction (or on SQLite) the chunks are imported one after the other here."""
    one = services.upload_import(channel="taobao", filename="a.csv", content=mixed_csv(3100000000000000000),
                                 actor=intake_actor)
    chunked = services.upload_import(channel="taobao", filename="b.csv", content=mixed_csv(3200000000000000000),
                                     actor=intake_actor, workers=2)
    assert chunked.chunks.count() == 3 and one.chunks.count() == 0
    assert list(chunked.chunks.order_by("seq").values_list("after", "repeats")) == [([], []), ([0], [700]), ([0], [1100])]
    for job in (one, chunked):
        assert (job.status, job.rows_total, job.rows_done) == ("done", 1300, 1300)
        assert (job.orders_created, job.duplicates, job.rows_failed) == (1294, 1, 4 + 1)
        assert job.message.status == InboundMessage.Status.NEEDS_REVIEW
    a, b = by_row(one.message), by_row(chunked.message)
    assert a == b
    assert {r: v for r, v in b.items() if v != "created"} == {
        4: "refused", 621: "refused", 701: "duplicate", 1002: "refused", 1101: "conflict", 1251: "refused"}
    rows = [i["rows"][0] for i in chunked.message.report["items"]]
    assert rows == sorted(rows) == [i["rows"][0] for i in one.message.report["items"]]
    assert [e.get("row") for e in chunked.message.errors] == [e.get("row") for e in one.message.errors]
    assert chunked.message.report["summary"] == one.message.report["summary"]
    assert InboundOrder.objects.filter(message=chunked.message).count() == 1294  # the repeat: same link
    assert AuditEvent.objects.filter(subject_type="inbound", subject_id=chunked.message_id,
                                     action="intake.needs_review").count() == 1  # concluded once
    if connection.vendor == "postgresql":  # the chunks ran inside the test's transaction: its setting kept
        assert _synchronous_commit() == "on"


def _synchronous_commit() -> str:
    with connection.cursor() as cur:
        cur.execute("SHOW synchronous_commit")
        return cur.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_chunks_commit_without_waiting_for_the_disk_and_the_job_ends_with_a_flush(master, intake_actor,
                                                                                  monkeypatch):
    """Each chunk's transaction runs with ``synchronous_commit = off``; the job's end (the
    message concluded) commits as usual, which flushes every chunk before it; the session keeps
    its own setting."""
    from orderhub.intake.services import parallel

    seen: dict[str, list[str]] = {"chunk": [], "conclude": []}
    run_chunk, conclude = parallel._run_chunk, parallel.conclude

    def spy_chunk(*args, **kwargs):
        seen["chunk"].append(_synchronous_commit())
        return run_chunk(*args, **kwargs)

    def spy_conclude(*args, **kwargs):
        seen["conclude"].append(_synchronous_commit())
        return conclude(*args, **kwargs)

    monkeypatch.setattr(parallel, "_run_chunk", spy_chunk)
    monkeypatch.setattr(parallel, "conclude", spy_conclude)
    job = services.upload_receive(channel="taobao", filename="c.csv", content=mixed_csv(3600000000000000000),
                                  actor=intake_actor)
    monkeypatch.setattr(parallel, "can_fork", lambda: False)  # every chunk here, where the spies are
    job = parallel.import_parallel(job=job, actor=intake_actor.for_channel("taobao"), workers=2)
    assert seen == {"chunk": ["off", "off", "off"], "conclude": ["on"]}
    assert _synchronous_commit() == "on"
    assert (job.status, job.orders_created, job.duplicates, job.rows_failed) == ("done", 1294, 1, 5)


def _env() -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "orderhub.settings"}


def _import(path, *extra, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "orderhub.cli", "intake", "import", str(path), "--channel",
                             "taobao", "--workers", "2", *extra], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **popen)


def _chunks_done(job: ImportJob) -> list[ImportChunk]:
    return list(ImportChunk.objects.filter(job=job, status=ImportChunk.Status.DONE))


def _forked_workers_did_every_chunk(job: ImportJob) -> bool:
    pids = {int(c.worker.rsplit(":", 1)[1]) for c in job.chunks.all()}
    return bool(pids) and os.getpid() not in pids


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_import_the_file_as_one_process_would(master, intake_actor):
    one = services.upload_import(channel="taobao", filename="a.csv", content=mixed_csv(3300000000000000000),
                                 actor=intake_actor)
    two = services.upload_import(channel="taobao", filename="b.csv", content=mixed_csv(3400000000000000000),
                                 actor=intake_actor, workers=2)
    assert two.workers == 2 and len({c.worker for c in _chunks_done(two)}) >= 1
    assert _forked_workers_did_every_chunk(two)
    for field in ("status", "rows_total", "rows_done", "orders_created", "duplicates", "rows_failed"):
        assert getattr(two, field) == getattr(one, field), field
    assert by_row(two.message) == by_row(one.message)
    assert two.message.status == one.message.status == InboundMessage.Status.NEEDS_REVIEW
    assert Order.objects.filter(channel="taobao", external_ref__startswith="34").count() == 1294


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_forked_under_a_running_event_loop_use_connections_of_their_own(master, intake_actor,
                                                                                monkeypatch):
    """What Playwright's sync API leaves in the test thread (the browser tests): an asyncio loop
    marked running. Django then keeps the thread's connections per context, and the connection
    opened before (the thread's own) stays open beside them. A forked worker sees no running loop
    (asyncio checks the pid), so Django there finds that older connection: both workers used the
    one socket at once (psycopg: "the last operation didn't produce records (command status:
    BEGIN)"), failed, and the parent imported every chunk itself."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    before = asyncio._get_running_loop()   # browser tests earlier in this process leave theirs set
    asyncio._set_running_loop(None)
    connection.ensure_connection()  # the thread's connection, as the tests before left it
    inherited = connection.connection
    loop = asyncio.new_event_loop()
    asyncio._set_running_loop(loop)  # what playwright._impl._greenlets does in the test thread
    try:
        connection.close()  # the per-context storage: empty it (browser tests before may have used it)
        assert connection.connection is None  # another storage now: a fresh connection
        two = services.upload_import(channel="taobao", filename="b.csv", content=mixed_csv(3500000000000000000),
                                     actor=intake_actor, workers=2)
        connections.close_all()
    finally:
        asyncio._set_running_loop(None)
        loop.close()
    assert connection.connection is inherited and not inherited.closed  # the parent's, untouched
    asyncio._set_running_loop(before)
    connection.ensure_connection()
    assert two.status == "done" and two.orders_created == 1294
    assert _forked_workers_did_every_chunk(two)
    assert Order.objects.filter(channel="taobao", external_ref__startswith="35").count() == 1294


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_loses_nothing_and_doubles_nothing(master, tmp_path):
    n = 6000
    path = tmp_path / "big.csv"
    path.write_bytes(taobao_csv(n))
    proc = _import(path)
    deadline, victim = time.monotonic() + 120, None
    while time.monotonic() < deadline and proc.poll() is None:
        job = ImportJob.objects.first()
        done = _chunks_done(job) if job else []
        if done and len(done) < n // CHUNK - 2:
            victim = int(done[0].worker.rsplit(":", 1)[1])
            os.kill(victim, signal.SIGKILL)  # it has moved on to its next chunk
            break
        time.sleep(0.02)
    out, err = proc.communicate(timeout=180)
    assert victim is not None and victim != proc.pid, err.decode()[-2000:]
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "ended abnormally" in err.decode()
    job = ImportJob.objects.get()
    assert json.loads(out)["status"] == job.status == "done"
    assert Order.objects.filter(channel="taobao").count() == n
    assert Order.objects.filter(channel="taobao").values("external_ref").distinct().count() == n
    # exact: the killed worker's chunk was rolled back and imported once, by another worker
    assert (job.rows_done, job.rows_total, job.orders_created, job.duplicates, job.rows_failed) == (n, n, n, 0, 0)
    chunks = list(job.chunks.all())
    assert all(c.status == "done" for c in chunks) and sum(c.orders_created for c in chunks) == n
    assert InboundOrder.objects.filter(message=job.message).count() == n
    assert InboundMessage.objects.get(pk=job.message_id).status == InboundMessage.Status.PARSED
    # run again: nothing left to do, nothing doubled
    assert _resume() == []
    assert Order.objects.filter(channel="taobao").count() == n


def _resume() -> list:
    out = io.StringIO()
    call_command("intake", "resume", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_import_killed_whole_then_resumed_counts_every_order_once(master, tmp_path):
    n = 6000
    kill_import_midway(tmp_path, n)
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.RUNNING
    partial = Order.objects.filter(channel="taobao").count()
    done = _chunks_done(job)
    assert partial == sum(c.orders_created for c in done) and 0 < partial < n
    assert job.rows_done == sum(c.rows for c in done)  # progress as committed, chunk by chunk
    resumed = _resume()
    assert len(resumed) == 1 and resumed[0]["status"] == "done"
    job.refresh_from_db()
    assert Order.objects.filter(channel="taobao").count() == n
    assert Order.objects.filter(channel="taobao").values("external_ref").distinct().count() == n
    assert (job.rows_done, job.rows_total, job.orders_created, job.duplicates) == (n, n, n, 0)
    assert {c.seq: c.orders_created for c in done} == {
        c.seq: c.orders_created for c in job.chunks.filter(seq__in=[c.seq for c in done])}  # not redone
    assert InboundMessage.objects.get(pk=job.message_id).status == InboundMessage.Status.PARSED
    assert AuditEvent.objects.filter(subject_type="inbound", subject_id=job.message_id,
                                     action="intake.parsed").count() == 1
    # what each order came with (lines, audit events, snapshots, outbox messages, links) is what a
    # clean import of as many rows makes: the chunks committed without waiting for the disk and
    # redone after the kill left nothing twice
    killed = _per_order(Order.objects.filter(channel="taobao"))
    clean = services.upload_import(channel="taobao", filename="clean.csv", content=taobao_csv(n, start=n),
                                   actor=Actor.system("intake-test"))
    assert (clean.status, clean.orders_created) == ("done", n)
    assert killed == _per_order(Order.objects.filter(inbound_messages=clean.message))


def kill_import_midway(tmp_path, n: int) -> None:
    """``orderhub intake import --workers 2`` of ``n`` rows, killed with SIGKILL (the command and
    both workers) once 2 chunks are done and more than 2 are left. Its liveness lock is held
    while it runs and free once it is killed (the server frees it: nobody said goodbye)."""
    path = tmp_path / "big.csv"
    path.write_bytes(taobao_csv(n))
    proc = _import(path, start_new_session=True)
    deadline, killed = time.monotonic() + 120, False
    while time.monotonic() < deadline and proc.poll() is None:
        job = ImportJob.objects.first()
        if job and 2 <= len(_chunks_done(job)) < n // CHUNK - 2:
            assert importer_alive(job.pk) is True
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    assert killed, proc.stderr.read().decode()[-2000:]
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    freed = time.monotonic() + 10   # the server notices the closed sockets at once, in its own time
    while importer_alive(job.pk) and time.monotonic() < freed:
        time.sleep(0.05)
    assert importer_alive(job.pk) is False


def _per_order(orders) -> Counter:
    """How many orders have each combination of lines, audit events, snapshots, outbox messages
    and intake links."""
    ids = list(orders.values_list("pk", flat=True))

    def count(qs, field):
        return Counter(qs.values_list(field, flat=True))
    lines = count(OrderLine.objects.filter(order_id__in=ids), "order_id")
    events = count(AuditEvent.objects.filter(subject_type="order", subject_id__in=ids), "subject_id")
    snaps = count(Snapshot.objects.filter(order_id__in=ids), "order_id")
    messages = count(Message.objects.filter(order_id__in=ids), "order_id")
    links = count(InboundOrder.objects.filter(order_id__in=ids), "order_id")
    return Counter((lines[i], events[i], snaps[i], messages[i], links[i]) for i in ids)

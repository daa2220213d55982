"""One file imported by several processes at once (accept valid rows).

Planning (once per job, under the job row's lock): the file is read, its records are split into
chunks of ``CHUNK`` records, one ``ImportChunk`` row each, and the job notes the mapping, tag and
triage rule versions every worker reads them with.

Workers claim chunks in file order with ``SELECT … FOR UPDATE SKIP LOCKED``. A chunk is mapped,
its orders written through ``order_create_batch``, its links and report recorded, its counts
added to the job's progress (``rows_done = rows_done + n``: summed across workers) and the chunk
marked done, all in ONE transaction: a worker killed mid-chunk leaves nothing of it behind, its
lock goes with its connection, and another worker (or the next run: ``orderhub intake resume``)
takes the chunk again. A chunk done twice by mistake would find its orders as duplicates (the
key: channel + external reference), never make them twice.

Rows repeating the key of an order first met in an earlier chunk (``repeats``, found when
planning) are written last, in a second batch, after waiting (``FOR SHARE`` on those chunks'
rows) for the earlier chunks' transactions to end: they come out as duplicates (or conflicts) of
the order, as with one process, and two workers never insert one key at once (the second would
wait for the first's commit, then redo its whole batch one order at a time). Waits only go to
earlier chunks, so workers never wait on each other in a circle; triage alerts are recorded at
the chunk's end, under the message row's lock (the message's audit chain takes one append at a
time), then the job's progress.

The job ends once: whoever finds no chunk left takes the job row's lock and, if the job is still
running and no chunk is pending, puts the per-row report together from the chunks in row order
and concludes the message (status, errors, audit event) as the one-process import does.

Workers are forked from the process that runs the import (``orderhub intake import --workers N``),
so they share the file already read; a worker drops every connection it inherited, unclosed,
and opens its own (``_forget_inherited_connections``). Forking needs PostgreSQL (row locks that
skip) and no open transaction; otherwise the chunks are imported in this process, one after the other.
"""

from __future__ import annotations

import gc
import heapq
import logging
import multiprocessing
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from asgiref.local import Local
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import PermissionDenied

from ..mapping import Lookups, Mapper
from ..models import ConfigVersion, ImportChunk, ImportJob, InboundMessage
from ..ocr import DOCUMENT_TYPES
from ..readers import Record, Unreadable, read
from ..store import payload_of
from .config import compiled_config, current_config
from .dispatch import inbound_process
from .inbox import (
    CHUNK,
    MAX_REPORT_ITEMS,
    Outcome,
    Status,
    _status,
    accept_valid_chunk,
    conclude,
    plain,
)
from .triage import triage_record

logger = logging.getLogger(__name__)

MAX_WORKERS = 16
QUIET_LISTED = 50      # created orders without notes listed in a report (the first of the file)
RETRY_SQLSTATES = {"40P01", "40001", "55P03"}  # deadlock, serialization failure, lock not available


def can_fork() -> bool:
    """Whether this process may fork workers now: PostgreSQL, and no transaction open (the
    workers must see the committed plan, and a connection is never shared with a child)."""
    return (connection.vendor == "postgresql" and not connection.in_atomic_block
            and "fork" in multiprocessing.get_all_start_methods())


def import_parallel(*, job: ImportJob, actor: Actor, workers: int | None = None, fork: bool = True,
                    until: Callable[[], bool] | None = None,
                    forking: Callable[[], None] | None = None) -> ImportJob:
    """Import the job's file in chunks with ``workers`` processes (default: as planned), or
    finish one a crash left running; the job as it ends (or as it stands, with ``until``).

    ``fork=False``: this process never forks; it imports chunks itself, one after the other,
    and stops taking them once ``until`` says so (the upload page's thread, ``background``: an
    import's process takes the rest). ``forking``: called once the job is planned, just before
    the workers are forked (the import's process tells the page's thread that they are coming)."""
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    planned = _plan(job, workers)
    if planned is None:  # nothing to split (no mapping, unreadable, empty): one process says why
        inbound_process(message=job.message_id, actor=actor, mode=job.mode)
        return ImportJob.objects.select_related("message").defer("message__payload").get(pk=job.pk)
    job, records = planned
    n = min(max(job.workers, 1), MAX_WORKERS)
    if forking is not None:
        forking()
    if n > 1 and fork and can_fork():
        _fork_workers(job.pk, actor, records, n)
    elif n > 1:
        logger.info("intake: import %s runs its chunks in this process (no fork here)", job.pk)
    # in this process: all of it with one worker; else what a killed worker left, and the end
    work(job=job.pk, actor=actor, records=records, until=until)
    return ImportJob.objects.select_related("message").defer("message__payload").get(pk=job.pk)


def _fork_workers(job_id: int, actor: Actor, records: list[Record], n: int) -> None:
    connections.close_all()  # each worker opens its own connection
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_forked, args=(job_id, actor, records), name=f"import-{job_id}-{i + 1}",
                         daemon=False) for i in range(n)]
    gc.freeze()  # what the workers inherit (the file read) is never scanned (nor copied) by their collector
    try:
        for p in procs:
            p.start()
    finally:
        gc.unfreeze()
    for p in procs:
        p.join()
    lost = [(p.pid, p.exitcode) for p in procs if p.exitcode]
    if lost:
        logger.warning("intake: import %s: workers ended abnormally (pid, exit code): %s; their chunks "
                       "were rolled back and are taken again", job_id, lost)


def _forked(job_id: int, actor: Actor, records: list[Record]) -> None:
    _forget_inherited_connections()
    try:
        work(job=job_id, actor=actor, records=records)
    finally:
        connections.close_all()


# the parent's connections a worker inherited: kept referenced (never collected, never closed)
# until the worker ends with os._exit, so nothing is ever sent on their sockets from here
_inherited: list[Any] = []


def _forget_inherited_connections() -> None:
    """In a forked worker, before any query: drop every database connection the parent held,
    without a word to the server (closing one would end the parent's session: PQfinish sends
    Terminate on the shared socket), so the worker opens its own.

    ``connections.close_all()`` in the parent is not enough: Django keeps a thread's connections
    in a thread-local, or per context while an asyncio loop runs in the thread (what Playwright's
    sync API leaves in the test thread). The parent closes the ones it sees; the child, where
    no loop runs (asyncio checks the pid), saw the thread-local ones opened before the loop —
    still open, so every worker used the one socket at once and read the others' answers
    (psycopg: "the last operation didn't produce records (command status: BEGIN)")."""
    storage = object.__getattribute__(connections._connections, "_storage")
    places = [storage, getattr(storage, "cvar", None)] if isinstance(storage, threading.local) else [storage]
    for place in places:
        for alias in connections:
            wrapper = getattr(place, alias, None) if place is not None else None
            if wrapper is not None and wrapper.connection is not None:
                _inherited.append(wrapper.connection)
                wrapper.connection = None
    connections._connections = Local(connections.thread_critical)


# --------------------------------------------------------------------------- planning


def _plan(job: ImportJob, workers: int | None) -> tuple[ImportJob, list[Record]] | None:
    """Split the job into chunks (once); the job and the file's records, or None when the file
    cannot be split (the one-process path then reports why)."""
    with transaction.atomic():
        job = (ImportJob.objects.select_for_update(of=("self",)).select_related("message")
               .defer("message__payload").get(pk=job.pk))
        msg = job.message
        if job.plan.get("chunk"):  # planned before: carry on (a resumed import)
            if workers:
                job.workers = workers
                job.save(update_fields=["workers"])
            mapping = compiled_config(ConfigVersion.objects.get(pk=job.plan["mapping"]))
            return job, read(mapping.spec, payload_of(msg))
        version = current_config("mapping", msg.read_as)
        if version is None or msg.content_type.split(";")[0].strip().lower() in DOCUMENT_TYPES:
            return None
        mapping = compiled_config(version)
        try:
            records = read(mapping.spec, payload_of(msg))
        except Unreadable:
            return None
        if not records:
            return None
        tags_v, triage_v = current_config("tags", "default"), current_config("triage", "default")
        mapper = Mapper(mapping, Lookups(msg.read_as), channel=msg.read_as, received_at=msg.received_at,
                        tag_rules=[], triage_rules=[])
        chunks = []
        first_in: dict[str, int] = {}
        for seq, start in enumerate(range(0, len(records), CHUNK)):
            part = records[start:start + CHUNK]
            after, repeats = set(), []
            for i, key in enumerate(mapper.keys(part), start):
                if key is not None and first_in.setdefault(key, seq) != seq:
                    after.add(first_in[key])
                    repeats.append(i)
            chunks.append(ImportChunk(job=job, seq=seq, first=start, count=len(part),
                                      rows=sum(max(len(r.rows), 1) for r in part), after=sorted(after),
                                      repeats=repeats))
        ImportChunk.objects.bulk_create(chunks)
        job.plan = {"chunk": CHUNK, "chunks": len(chunks), "mapping": version.pk,
                    "tags": tags_v.pk if tags_v else None, "triage": triage_v.pk if triage_v else None}
        job.workers = workers or 1
        job.status = ImportJob.Status.RUNNING
        job.rows_total = sum(c.rows for c in chunks)
        job.rows_done = job.orders_created = job.duplicates = job.rows_failed = 0
        job.updated_at = clock.now()
        job.save()
    return job, records


# --------------------------------------------------------------------------- working


def work(*, job: ImportJob | int, actor: Actor, records: list[Record] | None = None,
         until: Callable[[], bool] | None = None) -> None:
    """Claim and import chunks of ``job`` until none is left (or, asked before each chunk,
    ``until`` says to stop), then end the job if nobody has and no chunk is left.

    Safe to run in any number of processes at once, and again after a crash."""
    job_id = job if isinstance(job, int) else job.pk
    job = ImportJob.objects.select_related("message").defer("message__payload").get(pk=job_id)
    if job.status != ImportJob.Status.RUNNING or not job.plan.get("chunk"):
        return
    msg = job.message
    mapping = compiled_config(ConfigVersion.objects.get(pk=job.plan["mapping"]))
    rules = {k: compiled_config(ConfigVersion.objects.get(pk=job.plan[k])) if job.plan.get(k) else []
             for k in ("tags", "triage")}
    if records is None:
        records = read(mapping.spec, payload_of(msg))
    mapper = Mapper(mapping, Lookups(msg.read_as), channel=msg.read_as, received_at=msg.received_at,
                    tag_rules=rules["tags"], triage_rules=rules["triage"])
    me = f"{socket.gethostname()}:{os.getpid()}"[:100]
    retries = 0
    while until is None or not until():
        state = _claim_and_run(job, msg, mapper, records, actor, me)
        if state == "none":  # none left, or the ones left are other workers' now
            break
        if state == "retry":  # a deadlock or serialization failure rolled the chunk back: again
            retries += 1
            time.sleep(min(0.05 * retries, 1.0))
    finish(job=job_id, actor=actor)


def _claim_and_run(job: ImportJob, msg: InboundMessage, mapper: Mapper, records: list[Record], actor: Actor,
                   me: str) -> str:
    """``ran`` a chunk, ``retry`` it, or ``none`` to take."""
    pk = None
    try:
        with transaction.atomic():
            _commit_without_flush()
            chunk = (ImportChunk.objects.select_for_update(skip_locked=True)
                     .filter(job_id=job.pk, status=ImportChunk.Status.PENDING).order_by("seq").first())
            if chunk is None:
                return "none"
            pk = chunk.pk
            _run_chunk(job, msg, chunk, mapper, records, actor, me)
        return "ran"
    except DatabaseError as exc:
        if pk is not None and getattr(exc.__cause__, "sqlstate", None) in RETRY_SQLSTATES:
            logger.info("intake: import %s chunk %s: %s; taken again", job.pk, pk, exc)
            return "retry"
        if pk is None:
            raise
        _chunk_failed(job, pk, exc, me)
        return "ran"
    except PermissionDenied:
        raise
    except Exception as exc:  # our code or a mapping raised: the chunk fails, the others go on
        if pk is None:
            raise
        _chunk_failed(job, pk, exc, me)
        return "ran"


def _run_chunk(job: ImportJob, msg: InboundMessage, chunk: ImportChunk, mapper: Mapper, records: list[Record],
               actor: Actor, me: str) -> None:
    t0 = time.perf_counter()
    out = Outcome(Status.FAILED, quiet_created=[], deferred_alerts=[])
    items = mapper.map(records[chunk.first:chunk.first + chunk.count], chunk.first)
    late = set(chunk.repeats)
    accept_valid_chunk(msg, [it for it in items if it.index not in late], actor, out, master=mapper.master)
    if late:
        _wait_for(job, chunk.after)
        accept_valid_chunk(msg, [it for it in items if it.index in late], actor, out, master=mapper.master)
    if out.deferred_alerts:
        InboundMessage.objects.select_for_update().filter(pk=msg.pk).values_list("pk").first()
        for order, alerts in out.deferred_alerts:
            triage_record(message=msg, order=order, alerts=alerts, actor=actor)
    now = clock.now()
    chunk.status = ImportChunk.Status.DONE
    chunk.orders_created, chunk.duplicates = out.created, out.duplicates
    chunk.refused, chunk.review = out.refused, out.review
    chunk.report = plain({"items": sorted(out.items, key=_index), "errors": out.errors,
                          "quiet": out.quiet_created[:QUIET_LISTED], "ref": out.external_ref})
    chunk.worker, chunk.done_at, chunk.seconds = me, now, round(time.perf_counter() - t0, 3)
    chunk.save(update_fields=["status", "orders_created", "duplicates", "refused", "review", "report", "worker",
                              "done_at", "seconds"])
    ImportJob.objects.filter(pk=job.pk).update(
        rows_done=F("rows_done") + chunk.rows, orders_created=F("orders_created") + out.created,
        duplicates=F("duplicates") + out.duplicates, rows_failed=F("rows_failed") + out.failed_rows,
        updated_at=now)


def _commit_without_flush() -> None:
    """A chunk's transaction commits without waiting for its WAL to reach the disk
    (``synchronous_commit = off``, this transaction only). What that risks, and only if the
    PostgreSQL server itself (or the machine) crashes: the chunks committed in the last moments
    (3 × ``wal_writer_delay``, 0.6 s by default) are lost whole — orders, lines, audit events,
    snapshots, outbox rows, the chunk marked done and the job's progress go together, in one
    transaction — so those chunks are pending again and ``intake resume`` imports them as if
    they had never run. A killed import process or worker loses nothing more than before (the
    server flushes what it committed). The file was committed before (``inbound_receive``), the
    plan too, and the job ends with a synchronous commit (``finish``), which flushes the WAL
    up to it, so once the job reads done every chunk is on disk. Before that, whatever sends an
    order outside (the outbox deliverer) first commits its claim synchronously, which flushes
    the chunk that made the order too. Only when the chunk is a transaction of its own: a
    caller's transaction (chunks run inside one, in this process) keeps its setting."""
    if connection.vendor == "postgresql" and not connection.savepoint_ids:
        with connection.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit TO OFF")


def _wait_for(job: ImportJob, seqs: list[int]) -> None:
    """Until the transactions working on chunks ``seqs`` have ended (FOR SHARE waits for a row
    locked FOR UPDATE; a chunk not being worked on is passed at once)."""
    if seqs and connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {ImportChunk._meta.db_table} WHERE job_id = %s AND seq = ANY(%s) "
                        f"ORDER BY seq FOR SHARE", [job.pk, list(seqs)])


def _chunk_failed(job: ImportJob, pk: int, exc: Exception, me: str) -> None:
    logger.error("intake: import %s chunk %s raised", job.pk, pk, exc_info=exc)
    error = {"code": "internal_error",
             "message": _("Processing raised %(type)s: %(error)s") % {"type": type(exc).__name__,
                                                                     "error": str(exc)[:500]}}
    with transaction.atomic():
        ImportChunk.objects.filter(pk=pk, status=ImportChunk.Status.PENDING).update(
            status=ImportChunk.Status.FAILED, report={"errors": [error]}, worker=me, done_at=clock.now())


def _index(entry: dict[str, Any]) -> int:
    return entry["index"]


# --------------------------------------------------------------------------- the end


def finish(*, job: ImportJob | int, actor: Actor) -> bool:
    """End the job if every chunk is done and nobody has ended it yet; True if this call did."""
    job_id = job if isinstance(job, int) else job.pk
    with transaction.atomic():
        job = (ImportJob.objects.select_for_update(of=("self",)).select_related("message")
               .defer("message__payload").get(pk=job_id))
        if job.status != ImportJob.Status.RUNNING:
            return False
        chunks = ImportChunk.objects.filter(job_id=job_id)
        if chunks.filter(status=ImportChunk.Status.PENDING).exists():
            return False
        out = Outcome(Status.FAILED, rows=job.rows_total,
                      mapping=ConfigVersion.objects.filter(pk=job.plan.get("mapping")).first())
        failed = 0
        for status, created, dupes, refused, review in chunks.values_list(
                "status", "orders_created", "duplicates", "refused", "review"):
            out.created += created
            out.duplicates += dupes
            out.refused += refused
            out.review += review
            failed += status == ImportChunk.Status.FAILED
        for report in chunks.order_by("seq").values_list("report", flat=True).iterator(chunk_size=20):
            _merge(out, report)
            if len(out.items) >= MAX_REPORT_ITEMS and len(out.errors) >= MAX_REPORT_ITEMS:
                break
        out.failed_rows = job.rows_failed  # the chunks' rows, counted as they ended
        out.status = _status(out)
        if failed:
            out.status, out.rows = Status.FAILED, 0  # the job failed, as when one process raises
        conclude(job.message, out, actor)
    return True


def _merge(out: Outcome, report: dict[str, Any]) -> None:
    """Add one chunk's report (chunks come in row order): its rows in row order, created orders
    without notes listed only while the report has fewer than ``QUIET_LISTED`` rows."""
    if len(out.items) < MAX_REPORT_ITEMS:
        listed = ((e, False) for e in report.get("items", ()))
        quiet = ((e, True) for e in report.get("quiet", ()))
        for entry, is_quiet in heapq.merge(listed, quiet, key=lambda x: x[0]["index"]):
            if is_quiet and len(out.items) >= QUIET_LISTED:
                continue
            out.items.append(entry)
    if len(out.errors) < MAX_REPORT_ITEMS:
        out.errors.extend(report.get("errors", ()))
    if not out.external_ref and report.get("ref"):
        out.external_ref = report["ref"]

"""An import started from a page runs after the response, while the page polls its progress.

A large file (``ORDERHUB_IMPORT_PROCESS_FROM_BYTES``, accept valid rows, PostgreSQL) is split
into chunks (``parallel``), and a thread of the web process imports them from the start, one
after another: a web server never forks itself (its other threads may hold locks a child would
inherit held). When the rest would take that thread longer than
``ORDERHUB_IMPORT_PROCESS_FROM_SECONDS``, it starts a process of its own, ``orderhub intake
run``, which forks ``ORDERHUB_IMPORT_WORKERS`` workers as ``orderhub intake import --workers
N`` does, and leaves them the rest once the process says they are coming (``_Handover``): a
process takes a couple of seconds to start, more than it saves on a file the thread soon
finishes. The process is started in a session of its own, so a web worker that restarts does
not end the import. It is told the job, the database and the starter on its standard input
(never on its command line, which every local user can read), refuses a job of another
database than the one the page wrote it to, and leaves alone a job that has ended meanwhile.

The thread then waits for it; when it ends with the job still running (killed midway), the
thread imports what is left itself (``upload_run`` carries on a split job with its chunks not
yet done; rows done before are never made twice). Small files, SQLite and all-or-nothing
imports run in that thread from the start, in one pass.

An import whose processes all ended before it did (the web server restarted while a small
file was read in its thread, the machine rebooted) stays ``running`` without progress. Once it
has made none for ``ORDERHUB_IMPORT_STALLED_SECONDS`` and, on PostgreSQL, no process holds its
liveness lock (``intake.liveness``: a slow import is never taken for a dead one), it is
*stalled*: the periodic job ``intake.resume_stalled`` resumes it (``imports_resume_stalled``, at
most ``ORDERHUB_IMPORT_AUTO_RESUMES`` times a job, so a file that kills its importer every time
is left to a person), and a person can resume it from its page (or an ERP through the API):
``upload_resume``. SQLite cannot tell a dead import from a slow one: there only a person
resumes."""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import SYSTEM, Actor, RequestContext
from orderhub.core.errors import Conflict, PermissionDenied

from .. import events
from ..liveness import WATCHDOG
from ..models import ImportJob
from ..selectors import job_stalled, resumes_by_itself
from .parallel import can_fork
from .upload import upload_run

logger = logging.getLogger(__name__)

INLINE, PROCESSES, THREAD = "inline", "processes", "thread"


def upload_start(*, job: ImportJob | int, actor: Actor) -> str:
    """Start the job's import after the caller returns; how it runs: ``inline`` (settings
    ``ORDERHUB_RUN_JOBS_INLINE``: tests inside one transaction, where nothing else could see
    the job), ``processes`` (split: the thread, and a process's workers if the rest is long
    enough) or ``thread`` (in one pass; see the module)."""
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    job = ImportJob.objects.select_related("message").defer("message__payload").get(
        pk=job if isinstance(job, int) else job.pk)
    if getattr(settings, "ORDERHUB_RUN_JOBS_INLINE", False):
        upload_run(job=job.pk, actor=actor, workers=1)
        return INLINE
    split = _split(job)
    threading.Thread(target=_finish_in_thread, args=(job.pk, actor.for_channel(job.message.channel), split),
                     name=f"import-{job.pk}", daemon=True).start()
    return PROCESSES if split else THREAD


def upload_resume(*, job: ImportJob | int, actor: Actor) -> ImportJob:
    """Start again an import that has stopped making progress (see the module); rows it had
    imported come back as duplicates, never twice. Refused (409) once it has ended, or while
    it still progresses. The job row's lock and its fresh progress time keep a second resume
    (a double click, two people) from starting it twice."""
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job if isinstance(job, int) else job.pk)
        if job.status != ImportJob.Status.RUNNING:
            raise Conflict("job_ended", _("This import has already ended."))
        if not job_stalled(job):
            raise Conflict("job_progressing", _(
                "This import is still running; it can be resumed once it has made no progress for "
                "%(n)d seconds and no process imports it any more.") % {
                    "n": settings.ORDERHUB_IMPORT_STALLED_SECONDS})
        events.import_resumed(job=job, actor=actor)
        job.updated_at = clock.now()
        job.save(update_fields=["updated_at"])
    upload_start(job=job.pk, actor=actor)
    job.refresh_from_db()
    return job


def upload_finish(*, job: ImportJob | int, actor: Actor) -> ImportJob:
    """Import the job's file in this thread and return the job as it ends (the API's
    ``wait=true``): as the page's thread does (see the module), a file the page would split
    in chunks, handed to a process's workers when the rest is long enough; any other file as
    ``upload_run`` does."""
    job = ImportJob.objects.select_related("message").defer("message__payload").get(
        pk=job if isinstance(job, int) else job.pk)
    if getattr(settings, "ORDERHUB_RUN_JOBS_INLINE", False) or not _split(job):
        return upload_run(job=job.pk, actor=actor, workers=1)
    _import(job.pk, actor.for_channel(job.message.channel), split=True)
    return ImportJob.objects.get(pk=job.pk)


def imports_resume_stalled(*, limit: int = 20) -> list[int]:
    """Resume the stalled imports nothing imports any more (PostgreSQL); the ids resumed. A job
    resumed ``ORDERHUB_IMPORT_AUTO_RESUMES`` times already this way is left to a person (its
    page still offers to resume it). Safe on several machines at once: ``upload_resume`` locks
    the job and refuses one that another has just resumed."""
    if settings.ORDERHUB_IMPORT_AUTO_RESUMES <= 0 or connection.vendor != "postgresql":
        return []
    stale = clock.now() - timedelta(seconds=settings.ORDERHUB_IMPORT_STALLED_SECONDS)
    jobs = list(ImportJob.objects.filter(status=ImportJob.Status.RUNNING, updated_at__lte=stale)
                .order_by("pk")[:limit])
    resumed = []
    for job in jobs:
        if not job_stalled(job) or not resumes_by_itself(job):
            continue
        try:
            upload_resume(job=job.pk, actor=Actor.system(WATCHDOG))
        except Conflict:   # resumed meanwhile (another machine, a person), or ended
            continue
        logger.warning("intake: import %s had stalled with no process importing it; resumed", job.pk)
        resumed.append(job.pk)
    return resumed


def _split(job: ImportJob) -> bool:
    """Whether the page imports the job's file in chunks (and maybe with a process's workers)."""
    return (settings.ORDERHUB_IMPORT_WORKERS > 1 and job.mode == ImportJob.Mode.ACCEPT_VALID
            and job.status == ImportJob.Status.RUNNING
            and job.message.size >= settings.ORDERHUB_IMPORT_PROCESS_FROM_BYTES and can_fork())


def _spawn(job_id: int, runner: Actor, ready_fd: int) -> subprocess.Popen | None:
    told = json.dumps({"job": job_id, "database": connection.settings_dict["NAME"],
                       "workers": settings.ORDERHUB_IMPORT_WORKERS, "actor": actor_dump(runner),
                       "ready_fd": ready_fd})
    try:
        proc = subprocess.Popen([sys.executable, "-m", "orderhub.cli", "intake", "run"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                                pass_fds=(ready_fd,))
    except OSError as exc:
        logger.warning("intake: import %s: its process could not start (%s); importing in this one", job_id, exc)
        return None
    try:  # a few hundred bytes: the pipe takes them at once, the process reads them when it starts
        proc.stdin.write(told.encode())
        proc.stdin.close()
    except OSError as exc:  # it ended before reading: the thread finds the job still running
        logger.warning("intake: import %s: its process did not take the job (%s)", job_id, exc)
    logger.info("intake: import %s: process %s started, with %s workers", job_id, proc.pid,
                settings.ORDERHUB_IMPORT_WORKERS)
    return proc


# seconds a row takes the import thread of this web process: the pace of its last split import
# (before the first: about what one process managed on the 2-core machine of the benchmark)
_pace = [1 / 2000]


class _Handover:
    """The page's thread imports a split job's chunks from the start, asking before each one
    (``until``) whether to stop. Once the rest of the file would take it longer than
    ``ORDERHUB_IMPORT_PROCESS_FROM_SECONDS`` at its pace (the last import's before its first
    chunk), it starts the import's process; it stops taking chunks once the process says its
    workers are being forked (one byte on a pipe) and leaves them the rest. A process that ends
    without saying so (it could not start, refused the job, was killed) closes the pipe: the
    thread then goes on alone. A file the thread would soon finish never starts one: a process
    takes a couple of seconds to start (Django, the rules' parser), more than it saves there."""

    def __init__(self, job_id: int, runner: Actor):
        self.job_id, self.runner = job_id, runner
        self.began: float | None = None   # when this thread took its first chunk
        self.done_before = 0              # rows done by then (a resumed job)
        self.proc: subprocess.Popen | None = None
        self.ready_r: int | None = None   # the pipe the process says "ready" on, until it has
        self.started = self.handed = False

    def until(self) -> bool:
        if self.handed:
            return True
        if not self.started:
            if self._left_seconds() > settings.ORDERHUB_IMPORT_PROCESS_FROM_SECONDS:
                self._start()
            return False
        if self.ready_r is not None and select.select([self.ready_r], [], [], 0)[0]:
            said = os.read(self.ready_r, 1)
            self.close()
            self.handed = bool(said)
            if not said:
                logger.warning("intake: import %s: its process ended without taking the job; importing "
                               "it in this one", self.job_id)
        return self.handed

    def _left_seconds(self) -> float:
        """How long this thread would take for the rows left, at its pace."""
        total, done = ImportJob.objects.filter(pk=self.job_id).values_list("rows_total", "rows_done").get()
        if self.began is None:
            self.began, self.done_before = time.monotonic(), done
        elif done > self.done_before:
            _pace[0] = (time.monotonic() - self.began) / (done - self.done_before)
        return (total - done) * _pace[0]

    def _start(self) -> None:
        self.started = True
        read_end, write_end = os.pipe()
        self.proc = _spawn(self.job_id, self.runner, write_end)
        os.close(write_end)   # the process holds its own: its end closes the pipe
        if self.proc is None:
            os.close(read_end)
        else:
            self.ready_r = read_end

    def close(self) -> None:
        if self.ready_r is not None:
            os.close(self.ready_r)
            self.ready_r = None

    def wait(self) -> int | None:
        """Once this thread takes no more chunks: the exit code of the process it started, when
        that has ended (None: it started none)."""
        self.close()
        return self.proc.wait() if self.proc is not None else None


def _import(job_id: int, runner: Actor, *, split: bool) -> None:
    """The job's import in this thread: split, with a process's workers once that pays
    (``_Handover``), then whatever that process left; else in one pass."""
    if split:
        handover = _Handover(job_id, runner)
        try:
            upload_run(job=job_id, actor=runner, workers=settings.ORDERHUB_IMPORT_WORKERS, fork=False,
                       until=handover.until)
        finally:
            code = handover.wait()
        if code is not None and _running(job_id):
            logger.warning("intake: import %s: its process ended (exit code %s) with the job still "
                           "running; importing what is left in this one", job_id, code)
    if _running(job_id):
        upload_run(job=job_id, actor=runner, workers=1)  # never forks here: a split job's chunks one by one


def _finish_in_thread(job_id: int, runner: Actor, split: bool) -> None:
    try:
        _import(job_id, runner, split=split)
    except Exception:  # the job row keeps its state; the file stays in the inbox for replay
        logger.exception("intake: import job %s raised", job_id)
    finally:
        connections.close_all()  # this thread's own: it ends here


def _running(job_id: int) -> bool:
    return ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.RUNNING).exists()


# --------------------------------------------------------------------------- the import's process


def actor_dump(actor: Actor) -> dict:
    """A system actor as data (what an import's process is told to act as)."""
    if not actor.is_system:
        raise ValueError("only a system actor is handed to another process")
    ctx = actor.context
    return {"id": actor.id, "label": actor.label, "roles": sorted(actor.roles),
            "context": {"ip": ctx.ip, "user_agent": ctx.user_agent, "request_id": ctx.request_id}}


def actor_load(data: dict) -> Actor:
    ctx = data.get("context") or {}
    return Actor(kind=SYSTEM, id=str(data["id"])[:64], label=str(data["label"])[:150],
                 roles=frozenset(data.get("roles") or ("system",)),
                 context=RequestContext(ip=ctx.get("ip"), user_agent=ctx.get("user_agent", ""),
                                        request_id=ctx.get("request_id", "")))


def run_told(told: dict) -> ImportJob:
    """In the import's process: the job it was told of, imported with the workers it was told;
    ``ValueError`` when it was told of another database than its own."""
    if told.get("database") != connection.settings_dict["NAME"]:
        raise ValueError(f"told of database {told.get('database')!r}; this process uses "
                         f"{connection.settings_dict['NAME']!r}")
    job = ImportJob.objects.get(pk=int(told["job"]))
    ready_fd = told.get("ready_fd")
    if job.status != ImportJob.Status.RUNNING:   # the page's thread has imported it all meanwhile
        return job

    def forking() -> None:   # the page's thread stops taking chunks: the workers take the rest
        if isinstance(ready_fd, int):
            try:
                os.write(ready_fd, b"1")
                os.close(ready_fd)
            except OSError:   # not a pipe from the page (run by hand): nobody to tell
                pass

    return upload_run(job=job, actor=actor_load(told["actor"]), workers=int(told.get("workers") or 2),
                      forking=forking)

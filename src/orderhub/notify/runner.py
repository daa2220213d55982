"""Waking deliverers, and the embedded runner for the demo (no broker).

``wake()`` runs after a transaction that queued messages commits:

* ``ORDERHUB_RUN_JOBS_INLINE`` (tests): deliver due messages now, in this thread;
* an embedded runner in this process: set its event (it delivers at once);
* ``ORDERHUB_JOBS=celery``: send the ``notify.deliver`` task to the broker (a failure to reach
  it is logged; the workers' periodic sweep delivers anyway).

The embedded runner delivers due messages (woken by ``wake()`` or every ``poll_seconds``) and
runs every job of the periodic registry (``orderhub.celery``) at its interval. Several runners
(or workers) may run at once: deliveries claim rows with ``SELECT … FOR UPDATE SKIP LOCKED``.

``orderhub serve`` runs it as a child process of the gunicorn master (``run_supervised``, started
and restarted by ``orderhub.serving``): the child asks the kernel for SIGTERM when its parent
dies (``prctl(PR_SET_PDEATHSIG)``) and also watches its parent's pid each round, so a master
killed with -9 leaves no runner behind; on SIGTERM it finishes the message in hand and gives the
rest of its claim back (``delivery.release``). Tests and ``start_embedded_runner`` run the same
loop as a thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connections

from orderhub.celery import app as celery_app
from orderhub.celery import periodic_jobs

from . import heartbeat
from .delivery import deliver_due, shutting_down

logger = logging.getLogger(__name__)

_runner: EmbeddedRunner | None = None


def wake() -> None:
    if getattr(settings, "ORDERHUB_RUN_JOBS_INLINE", False):
        deliver_due()
        return
    if _runner is not None and _runner.is_alive():
        _runner.wake_event.set()
        return
    if getattr(settings, "ORDERHUB_JOBS", "embedded") == "celery":
        try:
            celery_app.send_task("notify.deliver", retry=False)   # never hold the request up
        except Exception:  # the broker is down: the periodic sweep delivers later
            logger.warning("notify: could not wake a worker through the broker", exc_info=True)


class EmbeddedRunner(threading.Thread):
    def __init__(self, *, poll_seconds: float = 0.5, jobs: bool = True, parent_pid: int | None = None):
        super().__init__(name="orderhub-runner", daemon=True)
        self.poll_seconds = poll_seconds
        self.run_jobs = jobs
        self.parent_pid = parent_pid        # stop when this process is no longer our parent
        self.wake_event = threading.Event()
        self.stop_event = threading.Event()
        self._next_run: dict[str, float] = {}

    def orphaned(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.wake_event.set()
        self.join(timeout)

    def run(self) -> None:
        while not self.stop_event.is_set():
            if self.orphaned():
                logger.warning("runner: the parent process %s is gone, stopping", self.parent_pid)
                break
            try:
                deliver_due(stop=self.stop_event)
                if self.run_jobs:
                    for job in periodic_jobs():
                        if self.stop_event.is_set():
                            break
                        now = time.monotonic()     # each job's interval counts from its own start
                        due = self._next_run.get(job.name, 0.0)
                        if now >= due:
                            self._next_run[job.name] = now + job.seconds
                            try:
                                job.fn()
                            except Exception:
                                logger.exception("runner: periodic job %s raised", job.name)
            except Exception:
                logger.exception("runner: delivery round raised")
            finally:
                close_old_connections()
            wait = self.poll_seconds
            if self.run_jobs and self._next_run:
                wait = min(wait, max(0.0, min(self._next_run.values()) - time.monotonic()))
            self.wake_event.wait(wait)
            self.wake_event.clear()
        heartbeat.flush()            # the last runs seen, then this thread's connection closed
        connections.close_all()


def start_embedded_runner(*, poll_seconds: float = 0.5, jobs: bool = True) -> EmbeddedRunner:
    """Start (once per process) the embedded runner thread."""
    global _runner
    if _runner is None or not _runner.is_alive():
        _runner = EmbeddedRunner(poll_seconds=poll_seconds, jobs=jobs)
        _runner.start()
    return _runner


def stop_embedded_runner() -> None:
    global _runner
    if _runner is not None:
        _runner.stop()
        _runner = None


# --------------------------------------------------------------------------- supervised child

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux); False
    where that is not available (the runner's parent-pid watch still stops it)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def run_supervised(*, parent_pid: int | None, poll_seconds: float = 0.5) -> int:
    """The runner as a process of its own (``orderhub runner``), in the foreground.

    With ``parent_pid`` (started by ``orderhub serve``) it dies with its parent: SIGTERM from the
    kernel when the parent dies, and a check of the parent's pid every round (the parent may have
    died before the request was made). SIGTERM or SIGINT stop it cleanly: the message in hand is
    finished and recorded, the rest of the claim given back."""
    if parent_pid is not None:
        die_with_parent(signal.SIGTERM)
        if os.getppid() != parent_pid:      # the parent died before prctl took effect
            return 0
    runner = EmbeddedRunner(poll_seconds=poll_seconds, parent_pid=parent_pid)

    def stop(signum, _frame):
        shutting_down.set()
        runner.stop_event.set()
        runner.wake_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("runner: started (pid %s, parent %s)", os.getpid(), parent_pid)
    runner.run()             # in this thread: signals are handled between its steps
    logger.info("runner: stopped (pid %s)", os.getpid())
    return 0

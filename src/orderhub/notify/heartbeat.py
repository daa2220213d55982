"""The job heartbeat: when each periodic job last ran (``JobRun``), wherever it ran.

Every run of a periodic job (``orderhub.celery.periodic``: in the embedded runner or a Celery
worker) is reported here; each process writes what it saw at most every ``FLUSH_SECONDS`` with
one upsert, so a job running every second costs no write per run. ``/healthz`` calls the jobs
stale when none finished for ``ORDERHUB_HEALTH_STALE_SECONDS``; ``/metrics`` shows the time since
each job last ran.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime

from django.db import close_old_connections

from .models import JobRun

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
# the job that runs in every mode (runner and Celery beat) every 2 s: its last run is the heartbeat
HEARTBEAT_JOB = "notify.deliver_due"

_lock = threading.Lock()
_pending: dict[str, JobRun] = {}
_known: set[str] = set()      # jobs this process has written once (a first run is written at once)
_last_flush = 0.0


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def job_ran(name: str, started: float, finished: float, ok: bool) -> None:
    """Observer of ``orderhub.celery``: remember the run, write at most every FLUSH_SECONDS."""
    global _last_flush
    row = JobRun(name=name, last_started_at=datetime.fromtimestamp(started, UTC),
                 last_finished_at=datetime.fromtimestamp(finished, UTC), last_ok=ok,
                 last_seconds=max(finished - started, 0.0), worker=_worker())
    with _lock:
        _pending[name] = row
        due = name not in _known or time.monotonic() - _last_flush >= FLUSH_SECONDS
        if due:
            _known.add(name)
            _last_flush = time.monotonic()
    if due:
        flush()


def flush() -> int:
    """Write the runs remembered since the last flush (one statement); returns how many."""
    with _lock:
        rows = list(_pending.values())
        _pending.clear()
    if not rows:
        return 0
    try:
        JobRun.objects.bulk_create(rows, update_conflicts=True, unique_fields=["name"],
                                   update_fields=["last_started_at", "last_finished_at", "last_ok",
                                                  "last_seconds", "worker"])
    except Exception:
        logger.exception("heartbeat: the job runs could not be written")
        close_old_connections()
        return 0
    return len(rows)

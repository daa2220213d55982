"""Waking deliverers, and the embedded runner for the demo (no broker).

``wake()`` runs after a transaction that queued messages commits:

* ``ORDERHUB_RUN_JOBS_INLINE`` (tests): deliver due messages now, in this thread;
* an embedded runner in this process: set its event (it delivers at once);
* ``ORDERHUB_JOBS=celery``: send the ``notify.deliver`` task to the broker (a failure to reach
  it is logged; the workers' periodic sweep delivers anyway).

The embedded runner is one daemon thread: it delivers due messages (woken by ``wake()`` or
every ``poll_seconds``) and runs every job of the periodic registry (``orderhub.celery``) at its
interval. Several runners (or workers) may run at once: deliveries claim rows with
``SELECT … FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

_runner: EmbeddedRunner | None = None


def wake() -> None:
    if getattr(settings, "ORDERHUB_RUN_JOBS_INLINE", False):
        from .delivery import deliver_due

        deliver_due()
        return
    if _runner is not None and _runner.is_alive():
        _runner.wake_event.set()
        return
    if getattr(settings, "ORDERHUB_JOBS", "embedded") == "celery":
        try:
            from orderhub.celery import app

            app.send_task("notify.deliver", retry=False)   # never hold the request up
        except Exception:  # the broker is down: the periodic sweep delivers later
            logger.warning("notify: could not wake a worker through the broker", exc_info=True)


class EmbeddedRunner(threading.Thread):
    def __init__(self, *, poll_seconds: float = 0.5, jobs: bool = True):
        super().__init__(name="orderhub-runner", daemon=True)
        self.poll_seconds = poll_seconds
        self.run_jobs = jobs
        self.wake_event = threading.Event()
        self.stop_event = threading.Event()
        self._next_run: dict[str, float] = {}

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.wake_event.set()
        self.join(timeout)

    def run(self) -> None:
        from orderhub.celery import periodic_jobs

        from .delivery import deliver_due

        while not self.stop_event.is_set():
            try:
                deliver_due()
                if self.run_jobs:
                    now = time.monotonic()
                    for job in periodic_jobs():
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

"""The Celery app and the periodic-job registry.

Production runs ``orderhub worker`` and ``orderhub beat`` (Celery with Redis, any number of
machines); the embedded demo runs the same jobs in a thread with no broker
(``orderhub.notify.runner``). A job is a plain function registered once::

    from orderhub.celery import periodic

    @periodic(seconds=30, name="rules.sweep_overdue")
    def sweep_overdue() -> None:
        ...

which (1) registers a Celery task of that name, (2) adds a beat schedule entry every ``seconds``,
and (3) makes the embedded runner call it at that interval. Register jobs in a module your
AppConfig.ready() imports, so workers, beat and the runner all see them. The function takes no
arguments; it must be safe to run on several machines at once (claim rows with
``select_for_update(skip_locked=True)``) and to be run late or twice.

Broker and result backend: settings ``CELERY_BROKER_URL`` / ``CELERY_RESULT_BACKEND``, both from
env ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``).

Each run of a job, wherever it runs (worker or runner), is reported to the observers registered
with :func:`on_job_run` (name, start and end as Unix times, success): the notification hub
records them as the job heartbeat that ``/healthz`` and ``/metrics`` read (``notify.heartbeat``).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderhub.settings")

app = Celery("orderhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
# tasks modules of the installed apps (notify.tasks, ...) are imported when the worker starts
app.autodiscover_tasks()


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    seconds: float
    fn: Callable[[], object]        # the job as run: reports each run to the observers
    raw: Callable[[], object] | None = None   # the function as registered


_registry: dict[str, PeriodicJob] = {}
_observers: list[Callable[[str, float, float, bool], None]] = []


def on_job_run(observer: Callable[[str, float, float, bool], None]) -> None:
    """Call ``observer(name, started, finished, ok)`` after every run of a periodic job."""
    if observer not in _observers:
        _observers.append(observer)


def _reporting(name: str, fn: Callable[[], object]) -> Callable[[], object]:
    @functools.wraps(fn)
    def run() -> object:
        started, ok = time.time(), False
        try:
            result = fn()
            ok = True
            return result
        finally:
            finished = time.time()
            for observer in _observers:
                try:
                    observer(name, started, finished, ok)
                except Exception:  # a heartbeat that cannot be written must not fail the job
                    logger.exception("periodic: an observer of %s raised", name)

    return run


def periodic(*, seconds: float, name: str) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Register ``fn`` as a periodic job (Celery task + beat entry + embedded runner)."""
    if seconds <= 0:
        raise ValueError("periodic: seconds must be positive")

    def decorate(fn: Callable[[], object]) -> Callable[[], object]:
        known = _registry.get(name)
        if known is not None and known.raw is not fn and (known.raw.__module__, known.raw.__qualname__) != (
                fn.__module__, fn.__qualname__):
            raise ValueError(f"periodic: the name {name!r} is taken by {known.raw.__qualname__}")
        run = _reporting(name, fn)
        _registry[name] = PeriodicJob(name=name, seconds=float(seconds), fn=run, raw=fn)
        app.task(name=name, ignore_result=True)(run)
        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}),
                                  name: {"task": name, "schedule": float(seconds),
                                         # a run nobody took in time is dropped, not piled up
                                         "options": {"expires": max(float(seconds), 1.0)}}}
        return fn

    return decorate


def periodic_jobs() -> list[PeriodicJob]:
    """Every registered job, in registration order."""
    return list(_registry.values())

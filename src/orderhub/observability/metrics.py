"""Prometheus metrics (``prometheus-client``), served at ``/metrics``.

Recorded where they happen (in multiprocess mode under ``orderhub serve``: every gunicorn worker
and the job runner write to ``PROMETHEUS_MULTIPROC_DIR``, a scrape sums them):

* ``orderhub_http_request_duration_seconds{route,method,status}``: request latency by URL name
  (``web:order_detail``, ``api:transition``; ``static`` and ``unmatched`` for the rest);
* ``orderhub_notify_deliveries_total{channel,outcome}``: delivery attempts by outcome
  (``notify.metrics``).

Read from the database at each scrape (so they hold whoever delivers: runner or Celery workers):

* ``orderhub_outbox_messages{status}``: queued, sending, failed, dead;
* ``orderhub_outbox_due_messages``, ``orderhub_outbox_oldest_due_age_seconds`` (job lag: how long
  the oldest due message has waited), ``orderhub_notify_dead_letters``;
* ``orderhub_job_last_run_age_seconds{job}``, ``orderhub_job_last_run_duration_seconds{job}``,
  ``orderhub_job_last_run_ok{job}``, ``orderhub_job_interval_seconds{job}`` (the periodic jobs).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REQUEST_LATENCY = Histogram(
    "orderhub_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class DatabaseCollector:
    """Outbox depth and job lag, read at scrape time (two small indexed queries and one of
    the job table)."""

    def collect(self):
        from orderhub.celery import periodic_jobs
        from orderhub.notify import selectors

        now = datetime.now(UTC)
        depth = selectors.outbox_depth(now=now)
        by_status = GaugeMetricFamily("orderhub_outbox_messages", "Outbox messages not delivered, by status.",
                                      labels=["status"])
        for status, n in sorted(depth.by_status.items()):
            by_status.add_metric([status], n)
        yield by_status
        yield GaugeMetricFamily("orderhub_outbox_due_messages", "Outbox messages due now.", value=depth.due)
        yield GaugeMetricFamily("orderhub_outbox_oldest_due_age_seconds",
                                "How long the oldest due message has waited past its due time.",
                                value=depth.oldest_due_age)
        yield GaugeMetricFamily("orderhub_notify_dead_letters", "Messages that gave up (dead letters).",
                                value=depth.dead)
        age = GaugeMetricFamily("orderhub_job_last_run_age_seconds", "Seconds since the periodic job last finished.",
                                labels=["job"])
        took = GaugeMetricFamily("orderhub_job_last_run_duration_seconds", "How long its last run took.",
                                 labels=["job"])
        ok = GaugeMetricFamily("orderhub_job_last_run_ok", "1 if its last run succeeded.", labels=["job"])
        for run in selectors.job_runs():
            age.add_metric([run.name], max((now - run.last_finished_at).total_seconds(), 0.0))
            took.add_metric([run.name], run.last_seconds)
            ok.add_metric([run.name], 1.0 if run.last_ok else 0.0)
        interval = GaugeMetricFamily("orderhub_job_interval_seconds", "The periodic job's interval.",
                                     labels=["job"])
        for job in periodic_jobs():
            interval.add_metric([job.name], job.seconds)
        yield from (age, took, ok, interval)


def render() -> tuple[bytes, str]:
    """The exposition text of every metric: this process's (or, under ``orderhub serve``, every
    worker's and the runner's) and the database's."""
    from prometheus_client import CONTENT_TYPE_LATEST

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return generate_latest(processes) + generate_latest(database), CONTENT_TYPE_LATEST

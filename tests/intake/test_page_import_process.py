"""A large file uploaded on the page is imported by a process of its own (``orderhub intake
run``) whose forked workers split it, as the command line's ``--workers`` does; the web
process never forks. When that process cannot do the job, the web process does it."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orderhub.core.actors import Actor
from orderhub.core.models import AuditEvent
from orderhub.intake import services
from orderhub.intake.models import ImportJob
from orderhub.orders.models import Order
from tests.pgroles import database_url
from tests.web.test_pages import login

from .test_parallel_import import by_row, mixed_csv

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page_imports(settings):
    settings.ORDERHUB_RUN_JOBS_INLINE = False
    settings.ORDERHUB_IMPORT_WORKERS = 2
    settings.ORDERHUB_IMPORT_PROCESS_FROM_BYTES = 100_000  # mixed_csv's 1,300 rows are ~190 KB


def _ended(job: ImportJob, seconds: float = 90) -> ImportJob:
    """The job once it has ended and the web process's thread for it has stopped."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status != ImportJob.Status.RUNNING:
            break
        time.sleep(0.2)
    for t in threading.enumerate():
        if t.name == f"import-{job.pk}":
            t.join(timeout=max(1.0, deadline - time.monotonic()))
    assert job.status != ImportJob.Status.RUNNING, "the import did not end"
    return job


def _worker_pids(job: ImportJob) -> set[int]:
    return {int(c.worker.rsplit(":", 1)[1]) for c in job.chunks.all()}


def test_a_large_upload_is_imported_by_workers_outside_the_web_process(master, page_imports, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url())  # the process the page starts: the test database
    content = mixed_csv(3710000000000000000)
    assert len(content) >= 100_000
    c = login("service")
    resp = c.post("/intake/upload/", {"channel": "taobao", "mode": "accept_valid",
                                      "file": SimpleUploadedFile("店铺订单.csv", content, content_type="text/csv")})
    assert resp.status_code == 302 and "/intake/jobs/" in resp["Location"]
    job = _ended(ImportJob.objects.get())
    assert (job.status, job.workers, job.orders_created, job.duplicates, job.rows_failed) == ("done", 2, 1294, 1, 5)
    pids = _worker_pids(job)
    assert pids and os.getpid() not in pids  # forked workers of another process did every chunk
    # the same per-row report as one process gives
    one = services.upload_import(channel="taobao", filename="b.csv", content=mixed_csv(3720000000000000000),
                                 actor=Actor.system("t"))
    assert by_row(job.message) == by_row(one.message)
    # the orders are told as the starter's import (the channel's intake, started by the user)
    order = Order.objects.filter(external_ref__startswith="371").order_by("pk").first()
    told = set(AuditEvent.objects.filter(subject_type="order", subject_id=order.pk)
               .values_list("actor_label", "request_id"))
    assert told == {("intake:taobao (service)", resp["X-Request-ID"])}
    page = c.get(resp["Location"]).content.decode()
    assert 'data-status="done"' in page and "100%" in page


def test_the_web_process_imports_what_the_import_process_could_not(master, page_imports, caplog):
    """The process is told the database the page wrote the job to; here its own settings name
    another (the test's environment), so it refuses, and the web process's thread imports
    the file (one process: no chunks)."""

    job = services.upload_receive(channel="taobao", filename="c.csv", content=mixed_csv(3730000000000000000),
                                  actor=Actor.system("t"))
    caplog.set_level(logging.WARNING, logger="orderhub.intake.services.background")
    assert services.upload_start(job=job, actor=Actor.system("t")) == "processes"
    job = _ended(job)
    assert (job.status, job.orders_created, job.duplicates, job.rows_failed) == ("done", 1294, 1, 5)
    assert not job.chunks.exists()
    assert "with the job still running; importing what is left in this one" in caplog.text


def test_a_small_upload_is_imported_in_the_web_process(master, page_imports):

    job = services.upload_receive(channel="taobao", filename="d.csv", content=mixed_csv(3740000000000000000, n=300),
                                  actor=Actor.system("t"))
    assert services.upload_start(job=job, actor=Actor.system("t")) == "thread"
    job = _ended(job)
    assert (job.status, job.orders_created) == ("done", 299)

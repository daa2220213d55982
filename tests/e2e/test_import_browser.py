"""A person imports a marketplace export in a real browser (Debian's Chromium): the web
process imports the file's first chunk and hands the rest to a process of its own whose
workers split it, the progress bar follows it to 100 % and the per-row report appears; an
import whose processes died is resumed with the page's button."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from orderhub.core.actors import Actor
from orderhub.intake import services
from orderhub.intake.models import ImportJob
from tests.intake.conftest import _fresh_intake_caches, intake_actor, master  # noqa: F401 (fixtures)
from tests.intake.test_page_import_process import chunk_pids, hand_over_after_one_chunk  # noqa: F401 (fixture)
from tests.intake.test_parallel_import import mixed_csv
from tests.pgroles import database_url

from .test_workspace import _login

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page_imports(settings, monkeypatch):
    settings.ORDERHUB_RUN_JOBS_INLINE = False
    settings.ORDERHUB_IMPORT_WORKERS = 2
    settings.ORDERHUB_IMPORT_PROCESS_FROM_BYTES = 100_000
    monkeypatch.setenv("DATABASE_URL", database_url())  # the import's process: the test database


def test_a_marketplace_export_imported_from_the_page_by_worker_processes(master, page_imports, live_server,  # noqa: F811
                                                                         browser, tmp_path, shot,
                                                                         hand_over_after_one_chunk):  # noqa: F811
    path = tmp_path / "淘宝订单导出.csv"
    path.write_bytes(mixed_csv(3780000000000000000))
    base = live_server.url
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, base, "service")
        page.goto(f"{base}/intake/upload/")
        page.locator("select[name=channel]").select_option("taobao")
        page.locator("input[name=file]").set_input_files(str(path))
        page.get_by_role("button", name="导入").click()
        card = page.get_by_test_id("job")
        expect(card).to_have_attribute("data-status", "done", timeout=90_000)  # htmx polls the card
        expect(page.locator(".progress-bar")).to_have_attribute("style", "width: 100%;")
        expect(card).to_contain_text("1300 / 1300")
        expect(card).to_contain_text("1294")
        expect(page.get_by_test_id("row-report")).to_be_visible()
        shot(page, "import-done-by-workers")
    finally:
        ctx.close()
    job = ImportJob.objects.get()
    assert (job.workers, job.orders_created, job.duplicates, job.rows_failed) == (2, 1294, 1, 5)
    first, *rest = chunk_pids(job)
    assert first == os.getpid() and rest and os.getpid() not in rest   # the live server's thread, then workers


def test_a_stalled_import_is_resumed_with_the_pages_button(master, page_imports, live_server, browser):  # noqa: F811
    job = services.upload_receive(channel="taobao", filename="停滞.csv", content=mixed_csv(3790000000000000000, n=60),
                                  actor=Actor.system("t"))
    ImportJob.objects.filter(pk=job.pk).update(updated_at=job.updated_at - timedelta(minutes=7))
    base = live_server.url
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        _login(page, base, "service")
        page.goto(f"{base}/intake/jobs/{job.pk}/")
        stalled = page.get_by_test_id("job-stalled")
        expect(stalled).to_contain_text("7 分钟")
        expect(stalled).to_contain_text("没有进展")
        page.get_by_role("button", name="继续导入").click()
        expect(page.get_by_text("导入已重新开始。")).to_be_visible()
        expect(page.get_by_test_id("job")).to_have_attribute("data-status", "done", timeout=60_000)
        expect(page.get_by_test_id("job-stalled")).to_have_count(0)
    finally:
        ctx.close()
    job.refresh_from_db()
    assert (job.status, job.orders_created) == ("done", 59)

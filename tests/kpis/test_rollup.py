"""The daily rollup (kpis.rollup, kpis.rolled): the set-based writer and its plain twin write
the same rows; the rollup's figures agree with the exact ones on the demo company's history
(counts, means and the trend exactly; median and p90 within the stated error); today and any
day not rolled up are read live; the page and the API stay equal on the rollup path."""

import json
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from orderhub.celery import periodic_jobs
from orderhub.core import clock
from orderhub.demo.loader import load_demo
from orderhub.kpis import rolled, rollup, selectors
from orderhub.kpis.models import RolledDay, StageDurations, TrendDay
from orderhub.kpis.selectors import KpiFilter
from orderhub.orders.models import StageInstance

pytestmark = pytest.mark.django_db

def _close(estimate, exact):
    """Within the stated error: the bucket's relative error, the zero bucket's half second, and
    both sides' rounding to 0.1 s."""
    if exact is None:
        return estimate is None
    return abs(estimate - exact) <= rollup.ALPHA * exact + rollup.ZERO_BUCKET_SECONDS + 0.1


@pytest.fixture
def demo():
    return load_demo(orders=150)


def _rows(model, *fields):
    return sorted(model.objects.values_list(*fields))


def test_bucket_rule_and_its_error_bound():
    for secs in (0, 0.4, 1, 1.01, 59.9, 60, 3600, 86_400 * 3.7, 86_400 * 400):
        b = rollup.bucket_of(secs)
        assert abs(rollup.bucket_value(b) - secs) <= rollup.ALPHA * secs + rollup.ZERO_BUCKET_SECONDS
    assert rollup.bucket_of(1) == 0 and rollup.bucket_of(rollup.GAMMA) == 1
    assert rollup.ALPHA < 0.025


def test_sql_writer_and_plain_twin_write_the_same_rows(demo):
    today = timezone.localdate(clock.now())
    first = today - timedelta(days=45)
    rollup.rollup_days(first, today - timedelta(days=1), fast=True)
    stage_fields = ("day", "workflow_id", "stage", "channel", "stays", "low", "counts", "seconds")
    fast = (_rows(StageDurations, *stage_fields),
            _rows(TrendDay, "day", "workflow_id", "channel", "created", "completed", "on_time"),
            _rows(RolledDay, "day", "stays", "created"))
    rollup.rollup_days(first, today - timedelta(days=1), fast=False)
    plain = (_rows(StageDurations, *stage_fields),
             _rows(TrendDay, "day", "workflow_id", "channel", "created", "completed", "on_time"),
             _rows(RolledDay, "day", "stays", "created"))
    assert len(fast[0]) > 50 and sum(r[4] for r in fast[0]) > 300   # a real history
    assert sum(len(bytes(r[6])) // 4 for r in fast[0]) > 200                # many buckets
    assert [(*r[:6], bytes(r[6])) for r in fast[0]] == [(*r[:6], bytes(r[6])) for r in plain[0]]
    assert all(abs(a[7] - b[7]) < 1e-3 for a, b in zip(fast[0], plain[0], strict=True))
    assert fast[1] == plain[1] and sum(r[3] for r in fast[1]) > 0
    assert fast[2] == plain[2] and len(fast[2]) == 45


def _filters(start, end):
    yield KpiFilter.build(start=start, end=end)
    for wf in ("T1", "T2", "T3"):
        yield KpiFilter.build(start=start, end=end, workflow=wf)
    yield KpiFilter.build(start=start, end=end, channel="wechat")


def test_rollup_path_agrees_with_the_exact_path(demo):
    today = timezone.localdate(clock.now())
    start = today - timedelta(days=59)
    filters = list(_filters(start, today))
    exact = {}
    for f in filters:
        exact[f] = (selectors.stage_times(f), selectors.order_processing(f), selectors.trend(f),
                    selectors.on_time(f))
        assert not rolled.use_rollup(f)
        assert exact[f][0] == selectors.stage_times_exact(f)
    assert rollup.kpi_rollup_refresh() >= 10   # the demo history spans about two weeks
    checked = 0
    for f in filters:
        assert rolled.use_rollup(f)
        stage, processing, trend, on_time = (selectors.stage_times(f), selectors.order_processing(f),
                                             selectors.trend(f), selectors.on_time(f))
        assert trend == exact[f][2] and on_time == exact[f][3]
        assert [(r["workflow"], r["stage"], r["count"]) for r in stage] == [
            (r["workflow"], r["stage"], r["count"]) for r in exact[f][0]]
        for got, want in zip(stage, exact[f][0], strict=True):
            for k in ("median_seconds", "p90_seconds"):
                assert _close(got[k], want[k]), (f, got, want)
                checked += 1
        assert processing["count"] == exact[f][1]["count"]
        assert processing["mean_seconds"] == pytest.approx(exact[f][1]["mean_seconds"], abs=0.11)
        assert _close(processing["median_seconds"], exact[f][1]["median_seconds"])
        assert _close(processing["p90_seconds"], exact[f][1]["p90_seconds"])
    assert checked > 40
    # a customer filter is not in the rollup: exact
    assert not rolled.use_rollup(KpiFilter.build(start=start, end=today, customer="C0101"))


def test_job_rolls_past_days_once_today_never_and_reads_unrolled_days_live(demo):
    job = {j.name: j for j in periodic_jobs()}["kpis.rollup"]
    today = timezone.localdate(clock.now())
    job.fn()
    assert not RolledDay.objects.filter(day__gte=today).exists()
    days = RolledDay.objects.count()
    first_marks = dict(RolledDay.objects.values_list("day", "rolled_at"))
    with clock.frozen(clock.now() + timedelta(seconds=5)):
        assert rollup.kpi_rollup_refresh() == rollup.AGAIN_DAYS   # only the last days again
    again = {d for d, at in RolledDay.objects.values_list("day", "rolled_at") if at != first_marks[d]}
    assert again == {today - timedelta(days=i) for i in range(1, rollup.AGAIN_DAYS + 1)}
    assert RolledDay.objects.count() == days
    f = KpiFilter.build(start=today - timedelta(days=29), end=today)
    before = selectors.stage_times(f)
    # a rolled-up day dropped from the rollup is read live: the same figures
    gap = today - timedelta(days=3)
    StageDurations.objects.filter(day=gap).delete()
    TrendDay.objects.filter(day=gap).delete()
    RolledDay.objects.filter(day=gap).delete()
    assert selectors.stage_times(f) == before
    # today's stays count as they end (not yet rolled up)
    stay = StageInstance.objects.filter(exited_at__isnull=True, workflow__isnull=False).first()
    StageInstance.objects.filter(pk=stay.pk).update(exited_at=clock.now())
    after = {(r["workflow"], r["stage"]): r["count"] for r in selectors.stage_times(f)}
    key = (stay.workflow.code, stay.stage)
    assert after[key] == {(r["workflow"], r["stage"]): r["count"] for r in before}.get(key, 0) + 1
    assert StageDurations.objects.aggregate(n=Sum("stays"))["n"] > 0


def test_page_and_api_equal_on_the_rollup_path(demo):
    from django.contrib.auth import get_user_model

    rollup.kpi_rollup_refresh()
    today = timezone.localdate(clock.now())
    query = {"start": (today - timedelta(days=40)).isoformat(), "end": today.isoformat()}
    assert rolled.use_rollup(KpiFilter.build(start=today - timedelta(days=40), end=today))
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(get_user_model().objects.get(username="manager"))
    now = clock.now()
    with clock.frozen(now):
        for audience in ("operations", "boss"):
            page = client.get(f"/kpi/{audience}/", query)
            assert page.status_code == 200
            for code, data in page.context["figures"].items():
                r = client.get(f"/api/kpis/{code}", query)
                assert r.status_code == 200
                assert json.loads(json.dumps(data, default=str)) == r.json(), code

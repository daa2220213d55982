"""The daily rollup (kpis.rollup, kpis.rolled): the set-based writer and its plain twin write
the same rows (per channel and per customer); the rollup's figures agree with the exact ones on
the demo company's history, for all customers and for one (counts, means and the trend exactly;
median and p90 within the stated error); today is rolled up to a minute before the run and read
live after it, any day not rolled up is read live; the page and the API stay equal on the
rollup path; a dashboard page is kept per filter until the next rollup run."""

import json
from datetime import timedelta

import pytest
from django.db.models import Count, Sum
from django.test import Client
from django.utils import timezone

from orderhub.celery import periodic_jobs
from orderhub.core import clock
from orderhub.demo.loader import load_demo
from orderhub.kpis import rolled, rollup, selectors
from orderhub.kpis.models import (
    CustomerStageDays,
    CustomerTrendDay,
    RolledDay,
    StageDurations,
    TrendDay,
)
from orderhub.kpis.selectors import KpiFilter
from orderhub.orders.models import Order, StageInstance

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
    stage_fields = ("day", "workflow_id", "stage", "channel", "stays", "low", "counts", "seconds")
    customer_fields = ("day", "customer_id", "workflow_id", "stage", "channel", "stays", "seconds", "counts")

    def written():
        return (_rows(StageDurations, *stage_fields),
                _rows(TrendDay, "day", "workflow_id", "channel", "created", "completed", "on_time"),
                _rows(RolledDay, "day", "stays", "created"),
                [(*r[:6], sorted(r[7].items()), r[6]) for r in _rows(CustomerStageDays, *customer_fields)],
                _rows(CustomerTrendDay, "day", "customer_id", "workflow_id", "channel", "created", "completed",
                      "on_time"))

    rollup.rollup_days(first, today - timedelta(days=1), fast=True)
    fast = written()
    rollup.rollup_days(first, today - timedelta(days=1), fast=False)
    plain = written()
    # a real history (how many stays fall in the window moves with the hour the demo is loaded:
    # exactly 300 at 17:45 Shanghai on 2026-12-03)
    assert len(fast[0]) > 50 and sum(r[4] for r in fast[0]) > 200
    assert sum(len(bytes(r[6])) // 4 for r in fast[0]) > 200                # many buckets
    assert [(*r[:6], bytes(r[6])) for r in fast[0]] == [(*r[:6], bytes(r[6])) for r in plain[0]]
    assert all(abs(a[7] - b[7]) < 1e-3 for a, b in zip(fast[0], plain[0], strict=True))
    assert fast[1] == plain[1] and sum(r[3] for r in fast[1]) > 0
    assert fast[2] == plain[2] and len(fast[2]) == 45
    # per customer: the same rows, as many stays and orders as per channel
    assert [r[:7] for r in fast[3]] == [r[:7] for r in plain[3]] and fast[4] == plain[4]
    assert all(abs(a[7] - b[7]) < 1e-3 for a, b in zip(fast[3], plain[3], strict=True))
    assert len({r[1] for r in fast[3]}) > 3 and sum(r[5] for r in fast[3]) == sum(r[4] for r in fast[0])
    assert sum(r[4] for r in fast[4]) == sum(r[3] for r in fast[1])


def _filters(start, end):
    yield KpiFilter.build(start=start, end=end)
    for wf in ("T1", "T2", "T3"):
        yield KpiFilter.build(start=start, end=end, workflow=wf)
    yield KpiFilter.build(start=start, end=end, channel="wechat")
    # the customers with the most orders, alone and with a workflow (the customer rows)
    top = (Order.objects.values_list("customer__code").annotate(n=Count("pk")).order_by("-n", "customer__code")[:2])
    for code, _n in top:
        yield KpiFilter.build(start=start, end=end, customer=code)
        yield KpiFilter.build(start=start, end=end, customer=code, workflow="T1")
        channel = Order.objects.filter(customer__code=code).values_list("channel", flat=True).first()
        yield KpiFilter.build(start=start, end=end, customer=code, channel=channel)


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
    assert checked > 60
    assert any(f.customer and exact[f][1]["count"] > 3 for f in filters)   # a customer with a history
    assert any(f.customer and f.channel and exact[f][2] != selectors.trend(KpiFilter.build(start=start, end=today))
               for f in filters)


def test_job_rolls_past_days_once_today_never_and_reads_unrolled_days_live(demo):
    job = {j.name: j for j in periodic_jobs()}["kpis.rollup"]
    now = clock.now()
    today = timezone.localdate(now)
    with clock.frozen(now):
        job.fn()
    # today up to a minute before the run (when the day is a minute old)
    assert dict(RolledDay.objects.filter(day__gte=today).values_list("day", "rolled_at")) == (
        {today: now - rollup.TODAY_LAG} if now - rollup.TODAY_LAG > rollup.midnight(today) else {})
    days = RolledDay.objects.count()
    first_marks = dict(RolledDay.objects.values_list("day", "rolled_at"))
    with clock.frozen(now + timedelta(seconds=5)):
        assert rollup.kpi_rollup_refresh() == rollup.AGAIN_DAYS   # only the last days again
    again = {d for d, at in RolledDay.objects.values_list("day", "rolled_at") if at != first_marks[d]}
    assert again - {today} == {today - timedelta(days=i) for i in range(1, rollup.AGAIN_DAYS + 1)}
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


def test_today_is_read_from_the_rollup_up_to_its_run_and_live_after(demo):
    now = clock.now()
    today = timezone.localdate(now)
    # the moments below reach 10 minutes either side of the run: near midnight they would fall
    # on another day than the filter's, so the run is put at noon
    if not rollup.midnight(today) + timedelta(minutes=10) <= now < rollup.midnight(
            today + timedelta(days=1)) - timedelta(minutes=10):
        now = rollup.midnight(today) + timedelta(hours=12)   # a run at noon
    f = KpiFilter.build(start=today - timedelta(days=6), end=today, now=now)
    stay = StageInstance.objects.filter(exited_at__isnull=True, workflow__isnull=False).first()
    key = (stay.workflow.code, stay.stage)

    def count():
        return {(r["workflow"], r["stage"]): r["count"] for r in selectors.stage_times(f)}.get(key, 0)

    base = count()
    # ended five minutes before the run: in today's rolled-up rows, not read live after it
    StageInstance.objects.filter(pk=stay.pk).update(exited_at=now - timedelta(minutes=5))
    with clock.frozen(now):
        rollup.kpi_rollup_refresh()
    assert RolledDay.objects.get(day=today).rolled_at == now - rollup.TODAY_LAG
    assert rolled.unrolled(f)[-1] == (now - rollup.TODAY_LAG, rollup.midnight(today + timedelta(days=1)))
    assert count() == base + 1
    assert StageDurations.objects.filter(day=today, workflow=stay.workflow, stage=stay.stage).exists()
    # moved back into the rolled-up part: the rollup's rows are what counts until the next run
    StageInstance.objects.filter(pk=stay.pk).update(exited_at=None)
    assert count() == base + 1
    with clock.frozen(now + timedelta(minutes=10)):
        rollup.kpi_rollup_refresh()
    assert count() == base
    # ended after the run's moment: read live
    StageInstance.objects.filter(pk=stay.pk).update(exited_at=now + timedelta(minutes=9, seconds=30))
    assert count() == base + 1


def test_dashboard_page_is_kept_per_filter_until_the_next_rollup_run(demo):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rollup.kpi_rollup_refresh()
    today = timezone.localdate(clock.now())
    query = {"start": (today - timedelta(days=20)).isoformat(), "end": today.isoformat()}
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(get_user_model().objects.get(username="manager"))

    def panels(page):
        html = page.content.decode()
        return html[html.index('data-testid="kpi-as-of"'):html.index('id="kpi-charts"')]

    first = client.get("/kpi/operations/", query)
    assert first.context["figures"] is not None and "数据截至" in panels(first)
    with CaptureQueriesContext(connection) as q:
        second = client.get("/kpi/operations/", query)
    assert second.status_code == 200 and second.context["figures"] is None   # kept
    assert panels(second) == panels(first)
    assert not [x for x in q.captured_queries if "kpis_" in x["sql"] or "orders_stageinstance" in x["sql"]]
    # another filter, another audience: read anew
    assert client.get("/kpi/operations/", {**query, "workflow": "T1"}).context["figures"] is not None
    assert client.get("/kpi/boss/", query).context["figures"] is not None
    # a rollup run makes every page anew
    rollup.kpi_rollup_refresh()
    third = client.get("/kpi/operations/", query)
    assert third.context["figures"] is not None
    assert "stage-times" in third.context["figures"]

"""/healthz (database, broker, job heartbeat, outbox; 200 or 503; anonymous, nothing sensitive)
and /metrics (Prometheus text behind a bearer token; the figures move with the data)."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from orderhub.celery import periodic_jobs
from orderhub.notify import heartbeat
from orderhub.notify.models import JobRun, Message
from orderhub.notify.services import Recipient, notify

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-3f9a1c"
REDIS_URL = __import__("os").environ.get("ORDERHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


def _beat() -> float:
    """Run the heartbeat job as the runner or a worker would (through the registry); the
    monotonic time just before it ran, so a test bounds the age it reads by the time it took."""
    heartbeat._last_flush = 0.0
    started = time.monotonic()
    next(j for j in periodic_jobs() if j.name == heartbeat.HEARTBEAT_JOB).fn()
    return started


def _since(started: float) -> float:
    """Seconds since ``started``, plus a little for clock granularity: no run can be older."""
    return time.monotonic() - started + 0.5


def _health(client=None):
    r = (client or Client()).get("/healthz")
    return r.status_code, json.loads(r.content), r


def test_healthz_reports_each_check_and_turns_503_when_the_runner_stops(company, settings):
    settings.ORDERHUB_JOBS = "embedded"
    JobRun.objects.all().delete()
    status, body, _r = _health()
    assert status == 503 and body["status"] == "unhealthy"
    assert body["checks"]["runner"]["ok"] is False and body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"] == {"ok": True, "status": "not_used", "label": "未使用（内嵌任务执行器）"}
    beat = _beat()
    status, body, r = _health()
    assert status == 200 and body["status"] == "ok" and body["label"] == "正常", body
    assert 0 <= body["checks"]["runner"]["age_seconds"] <= _since(beat)
    assert body["checks"]["outbox"] == {"ok": True, "due": 0, "dead": 0, "oldest_due_age_seconds": 0.0}
    assert "Set-Cookie" not in r.headers and "no-cache" in r["Cache-Control"]
    # nothing sensitive: no database name, user, host or key
    text = r.content.decode()
    for secret in (connection.settings_dict["NAME"], settings.SECRET_KEY, settings.ORDERHUB_ENCRYPTION_KEY,
                   "postgres", "127.0.0.1"):
        assert secret not in text
    # the heartbeat goes stale: unhealthy again
    JobRun.objects.update(last_finished_at=datetime.now(UTC) - timedelta(seconds=settings.ORDERHUB_HEALTH_STALE_SECONDS + 5))
    status, body, _r = _health()
    assert status == 503 and body["checks"]["runner"]["ok"] is False
    assert body["checks"]["runner"]["label"].startswith("心跳过期")


def test_healthz_pings_the_broker_when_celery_is_used(company, settings):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("needs Redis")
    settings.ORDERHUB_JOBS = "celery"
    settings.CELERY_BROKER_URL = REDIS_URL
    _beat()
    status, body, _r = _health()
    assert status == 200 and body["checks"]["broker"]["status"] == "reachable"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"        # nothing listens there
    status, body, r = _health()
    assert status == 503 and body["checks"]["broker"]["status"] == "unreachable"
    assert "127.0.0.1:1" not in r.content.decode()


def test_healthz_counts_the_outbox(company, settings):
    settings.ORDERHUB_JOBS = "embedded"
    _beat()
    notify(event="rule.notify", recipients=[Recipient.role("planner")], context={}, dedupe_key="h1",
           channels=["inapp"])
    Message.objects.update(next_attempt_at=datetime.now(UTC) - timedelta(seconds=90))
    status, body, _r = _health()
    outbox = body["checks"]["outbox"]
    assert status == 200 and outbox["due"] == 1 and outbox["oldest_due_age_seconds"] >= 89


def _scrape(token=TOKEN) -> dict[tuple[str, tuple], float]:
    r = Client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.status_code
    out = {}
    for family in text_string_to_metric_families(r.content.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_need_the_token(company, settings):
    settings.ORDERHUB_METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404           # off until a token is set
    settings.ORDERHUB_METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Bearer guess"}).status_code == 401
    c = Client()
    assert c.login(username="admin", password="pw-admin")
    assert c.get("/metrics").status_code == 401                  # a session is not the token
    assert Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_metrics_move_with_the_outbox_requests_and_jobs(company, settings):
    settings.ORDERHUB_METRICS_TOKEN = TOKEN
    beat = _beat()
    before = _scrape()
    queued = ("orderhub_outbox_messages", (("status", "queued"),))
    assert before[queued] == 0
    notify(event="rule.notify", recipients=[Recipient.role("planner")], context={}, dedupe_key="m1",
           channels=["inapp"])
    after = _scrape()
    assert after[queued] == 1 and after[("orderhub_outbox_due_messages", ())] == 1
    Message.objects.update(status=Message.Status.DEAD)
    dead = _scrape()
    assert dead[("orderhub_notify_dead_letters", ())] == 1 and dead[queued] == 0
    assert dead[("orderhub_outbox_messages", (("status", "dead"),))] == 1
    # request latency by route name
    key = ("orderhub_http_request_duration_seconds_count",
           (("method", "GET"), ("route", "healthz"), ("status", "200")))
    n = dead.get(key, 0)
    Client().get("/healthz")
    assert _scrape()[key] == n + 1
    # job lag: the heartbeat job ran at the start (however slow the machine); its interval is known
    jobs = _scrape()
    assert 0 <= jobs[("orderhub_job_last_run_age_seconds", (("job", "notify.deliver_due"),))] <= _since(beat)
    assert jobs[("orderhub_job_interval_seconds", (("job", "notify.deliver_due"),))] == 2.0
    assert jobs[("orderhub_job_last_run_ok", (("job", "notify.deliver_due"),))] == 1.0

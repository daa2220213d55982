"""``/healthz``: is this installation able to take and deliver orders right now?

* database: one query;
* broker: a Redis ping when Celery is used (``ORDERHUB_JOBS=celery``), "not used" otherwise;
* runner: the job heartbeat (``notify.JobRun`` of ``notify.deliver_due``, written by whoever runs
  the periodic jobs: the embedded runner or the Celery worker + beat) no older than
  ``ORDERHUB_HEALTH_STALE_SECONDS``;
* outbox: messages due now, dead letters, the age of the oldest due message (reported; they do
  not make the answer unhealthy by themselves).

Healthy: HTTP 200, else 503. The answer names no host, URL, user or error text.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from orderhub.notify import selectors as notify_selectors
from orderhub.notify.heartbeat import HEARTBEAT_JOB


def _database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except Exception as e:
        return {"ok": False, "label": _("unreachable"), "error": type(e).__name__}
    return {"ok": True, "label": _("reachable"), "ms": round((time.perf_counter() - started) * 1000, 1)}


def _broker() -> dict[str, Any]:
    if getattr(settings, "ORDERHUB_JOBS", "embedded") != "celery":
        return {"ok": True, "status": "not_used", "label": _("not used (embedded job runner)")}
    import redis

    started = time.perf_counter()
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
    except Exception as e:
        return {"ok": False, "status": "unreachable", "label": _("unreachable"), "error": type(e).__name__}
    return {"ok": True, "status": "reachable", "label": _("reachable"),
            "ms": round((time.perf_counter() - started) * 1000, 1)}


def _runner(now: datetime) -> dict[str, Any]:
    stale = float(getattr(settings, "ORDERHUB_HEALTH_STALE_SECONDS", 30))
    last = notify_selectors.job_last_run(HEARTBEAT_JOB)
    if last is None:
        return {"ok": False, "label": _("no heartbeat yet"), "stale_after_seconds": stale}
    age = max((now - last).total_seconds(), 0.0)
    ok = age <= stale
    return {"ok": ok, "label": _("running") if ok else _("stale: the job runner is not running"),
            "age_seconds": round(age, 1), "stale_after_seconds": stale}


def _outbox(now: datetime) -> dict[str, Any]:
    depth = notify_selectors.outbox_depth(now=now)
    return {"ok": True, "due": depth.due, "dead": depth.dead,
            "oldest_due_age_seconds": round(depth.oldest_due_age, 1)}


def health() -> tuple[bool, dict[str, Any]]:
    """(healthy, the report)."""
    now = datetime.now(UTC)
    checks: dict[str, Any] = {"database": _database(), "broker": _broker()}
    if checks["database"]["ok"]:
        checks["runner"] = _runner(now)
        checks["outbox"] = _outbox(now)
    else:
        checks["runner"] = {"ok": False, "label": _("unknown: the database is unreachable")}
        checks["outbox"] = {"ok": False, "label": _("unknown: the database is unreachable")}
    ok = all(c["ok"] for c in checks.values())
    return ok, {"status": "ok" if ok else "unhealthy", "label": _("healthy") if ok else _("unhealthy"),
                "checks": checks}

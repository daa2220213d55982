"""Reads of the notification hub: inbox, dead letters, an order's deliveries, first touch,
endpoints as they may be shown (secrets never), outbox depth and the job heartbeat."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from orderhub.core.crypto import SecretUnreadable
from orderhub.orders.kpis import order_filter

from .models import DeliveryAttempt, DeliveryChannel, Endpoint, FirstTouch, JobRun, Message
from .rendering import render_pending
from .secretconfig import REQUIRED, paths, url_hint, value_at


def with_text(messages: Iterable[Message]) -> list[Message]:
    """``messages`` ready to show: one still queued (its text is rendered at delivery) gets the
    subject and body it would be sent with now, in memory only (nothing is written)."""
    out = list(messages)
    for m in out:
        render_pending(m)
    return out


def message_for_display(pk: int, **filters) -> Message | None:
    """One message (with its order) ready to show, or None."""
    m = Message.objects.filter(pk=pk, **filters).select_related("order").first()
    return with_text([m])[0] if m is not None else None


def inbox_queryset(user, *, unread_only: bool = False) -> QuerySet[Message]:
    """The user's delivered in-app messages, newest first (page it; ``with_text`` the page)."""
    qs = Message.objects.filter(user=user, channel=DeliveryChannel.INAPP, status=Message.Status.DELIVERED)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.select_related("order", "order__customer").order_by("-created_at", "-id")


def inbox(user, *, unread_only: bool = False, limit: int = 50) -> list[Message]:
    """The user's delivered in-app messages, newest first."""
    return with_text(inbox_queryset(user, unread_only=unread_only)[:limit])


def unread_count(user) -> int:
    """One indexed count (user, channel, read_at)."""
    return Message.objects.filter(user=user, channel=DeliveryChannel.INAPP, read_at__isnull=True,
                                  status=Message.Status.DELIVERED).count()


def dead_letters(*, limit: int = 200) -> QuerySet[Message]:
    return (Message.objects.filter(status=Message.Status.DEAD).select_related("order", "endpoint")
            .order_by("-created_at", "-id")[:limit])


def order_deliveries(order_id: int) -> list[Message]:
    """Every message about the order with its attempts (two queries), with its text (rendered
    for display while still queued); a digest that named the order among others once it has
    touched it (``FirstTouch``: delivered)."""
    digest = FirstTouch.objects.filter(order_id=order_id, message__order__isnull=True).values("message_id")
    return with_text(Message.objects.filter(Q(order_id=order_id) | Q(pk__in=digest)).select_related("endpoint")
                     .prefetch_related(Prefetch("attempt_log",
                                                queryset=DeliveryAttempt.objects.order_by("number", "id")))
                     .order_by("created_at", "id"))


@dataclass(frozen=True)
class FirstTouchStats:
    count: int
    median_business_seconds: float | None
    p50_seconds: float | None
    p99_seconds: float | None


def _pct(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def first_touch_stats(*, since: datetime | None = None, until: datetime | None = None,
                      workflow: str | None = None, customer: str | None = None,
                      channel: str | None = None) -> FirstTouchStats:
    """First-touch latency of the orders submitted in [since, until) (of a workflow, customer
    and channel when given): the median in business time (nights, weekends and holidays
    excluded, as the cases define it) and the wall-clock p50/p99 for dashboards."""
    qs = order_filter(FirstTouch.objects.all(), workflow=workflow, customer=customer, channel=channel,
                      via="order__")
    if since is not None:
        qs = qs.filter(submitted_at__gte=since)
    if until is not None:
        qs = qs.filter(submitted_at__lt=until)
    rows = list(qs.values_list("wall_seconds", "business_seconds"))
    if not rows:
        return FirstTouchStats(0, None, None, None)
    wall = sorted(r[0] for r in rows)
    business = [r[1] for r in rows]
    return FirstTouchStats(count=len(rows), median_business_seconds=statistics.median(business),
                           p50_seconds=_pct(wall, 0.50), p99_seconds=_pct(wall, 0.99))


# --------------------------------------------------------------------------- endpoints

# what every form and the API show for a saved secret (zh-hans: 已设置（保存后不再显示）)
SECRET_SET = "Set (not shown again after saving)"


def secret_name(path: str) -> str:
    """A person's name for a secret setting ("签名密钥", "请求头 Authorization")."""
    key, _dot, name = path.partition(".")
    if key == "headers":
        return _("header %(name)s") % {"name": name}
    if key == "params":
        return _("parameter %(name)s") % {"name": name}
    return {"url": _("address (with its token)"), "secret": _("signing secret"),
            "password": _("password")}.get(key, path)


def endpoint_secrets(ep: Endpoint) -> list[dict[str, Any]]:
    """The secrets an endpoint has, as they may be shown: their field, that they are set, a hint
    for URLs (scheme, host and path; the query with its token masked), whether they may be
    cleared. Never a secret value. A secret the configured keys cannot decrypt is shown so."""
    try:
        secret = ep.secret_config()
    except SecretUnreadable as e:
        return [{"path": "*", "name": _("secret settings"), "field": "config", "status": "unreadable",
                 "label": e.message, "hint": "", "clearable": False}]
    out = []
    for path in paths(secret):
        value = value_at(secret, path)
        out.append({"path": path, "name": secret_name(path), "field": f"config.{path}", "status": "set",
                    "label": _(SECRET_SET),
                    "hint": url_hint(value) if path == "url" else "",
                    "clearable": path not in REQUIRED.get(ep.kind, ())})
    return out


def endpoint_view(ep: Endpoint) -> dict[str, Any]:
    """An endpoint for a page or the API: the settings that may be shown, the secrets as set."""
    return {"code": ep.code, "name": ep.name, "kind": ep.kind, "kind_label": str(ep.get_kind_display()),
            "is_active": ep.is_active, "roles": list(ep.roles or []), "config": dict(ep.config or {}),
            "secrets": endpoint_secrets(ep), "quiet_start": ep.quiet_start, "quiet_end": ep.quiet_end,
            "timeout_seconds": ep.timeout_seconds, "updated_at": ep.updated_at}


# --------------------------------------------------------------------------- outbox depth, jobs

UNDELIVERED = (Message.Status.QUEUED, Message.Status.SENDING, Message.Status.FAILED, Message.Status.DEAD)
DUE = (Message.Status.QUEUED, Message.Status.SENDING, Message.Status.FAILED)


@dataclass(frozen=True)
class OutboxDepth:
    by_status: dict[str, int]     # queued, sending, failed, dead (delivered rows are not counted)
    due: int                      # due now (queued, failed or sending with its lease run out)
    oldest_due_age: float         # seconds the oldest due message has waited past its due time

    @property
    def dead(self) -> int:
        return self.by_status.get(Message.Status.DEAD, 0)


def outbox_depth(*, now: datetime) -> OutboxDepth:
    """Two indexed queries (notify_msg_status, notify_msg_due)."""
    by_status = {s.value: 0 for s in UNDELIVERED}
    for status, n in (Message.objects.filter(status__in=UNDELIVERED).values_list("status")
                      .annotate(n=Count("id")).order_by()):
        by_status[status] = n
    due = Message.objects.filter(status__in=DUE, next_attempt_at__lte=now).aggregate(
        n=Count("id"), oldest=Min("next_attempt_at"))
    age = max((now - due["oldest"]).total_seconds(), 0.0) if due["oldest"] else 0.0
    return OutboxDepth(by_status=by_status, due=due["n"], oldest_due_age=age)


def job_last_run(name: str) -> datetime | None:
    return JobRun.objects.filter(name=name).values_list("last_finished_at", flat=True).first()


def job_runs() -> list[JobRun]:
    return list(JobRun.objects.order_by("name"))

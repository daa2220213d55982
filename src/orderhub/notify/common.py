"""What the notification services share: the codes they accept, the refusal, the audit event,
and the per-process cache of what every enqueue reads (endpoints, templates, people;
``ORDERHUB_NOTIFY_CACHE_SECONDS``, cleared at once by a save in this process)."""

from __future__ import annotations

import threading
import time as _time
from collections import defaultdict
from dataclasses import dataclass
from datetime import time as dt_time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q

from orderhub.core.actors import Actor
from orderhub.core.audited import audit_save
from orderhub.core.errors import Problem, ValidationFailed
from orderhub.core.permissions import VIEW_ALL_ORDERS_PERM

from .defaults import DEFAULT_TEMPLATES
from .models import (
    DeliveryChannel,
    Endpoint,
    MessageTemplate,
    Severity,
)

SEVERITIES = {s.value for s in Severity}
CHANNELS = {c.value for c in DeliveryChannel}
MANAGE_PERM = "notify.change_endpoint"


def invalid(message: str, *, field: str) -> ValidationFailed:
    return ValidationFailed("invalid", message, problems=[Problem("invalid", message, field)])


# --------------------------------------------------------------------------- lookups

_cache_lock = threading.Lock()
_cache: dict[str, tuple[float, Any]] = {}


def _cache_seconds() -> float:
    return float(getattr(settings, "ORDERHUB_NOTIFY_CACHE_SECONDS", 10))


def cached(key: str, load):
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and _time.monotonic() - hit[0] < _cache_seconds():
            return hit[1]
    value = load()
    with _cache_lock:
        _cache[key] = (_time.monotonic(), value)
    return value


def clear_caches() -> None:
    with _cache_lock:
        _cache.clear()


def active_endpoints() -> list[Endpoint]:
    """Active endpoints, cached per process for ORDERHUB_NOTIFY_CACHE_SECONDS (cleared at once on save here)."""
    return cached("endpoints", lambda: list(Endpoint.objects.filter(is_active=True)))


def channel_configured(kind: str) -> bool:
    """Whether an active endpoint of ``kind`` (e.g. "email") exists: no query within the cache
    time. A subscriber that only ever e-mails asks this before it builds anything."""
    return any(ep.kind == kind for ep in active_endpoints())


def templates() -> dict[tuple[str, str], MessageTemplate]:
    """The shipped Chinese defaults (``notify.defaults``, also seeded as rows by migration 0002
    so they can be edited) overlaid with the rows: a deleted or never-seeded row falls back to
    its default instead of to a bare event name."""
    def load():
        out = {(e, c): MessageTemplate(event=e, channel=c, subject=subj, body=body)
               for e, c, subj, body in DEFAULT_TEMPLATES}
        out.update({(t.event, t.channel): t for t in MessageTemplate.objects.all()})
        return out

    return cached("templates", load)


def people() -> tuple[dict[str, list[Person]], dict[int, Person]]:
    """Active users by role and by id with their addresses: one query, cached per process
    for ORDERHUB_NOTIFY_CACHE_SECONDS (10 s) like the other lookups: a new member of a role is
    reached within that time (at once when saved in this process)."""
    def load():
        by_role: dict[str, list[Person]] = defaultdict(list)
        by_user: dict[int, Person] = {}
        sees_all = _sees_all_orders()
        for uid, email, group, mobile, chans, q_start, q_end, ding, wecom in (
                get_user_model().objects.filter(is_active=True)
                .values_list("pk", "email", "groups__name", "contact_profile__mobile",
                             "contact_profile__channels", "contact_profile__quiet_start",
                             "contact_profile__quiet_end", "contact_profile__dingtalk_id",
                             "contact_profile__wecom_id").order_by("pk")):
            p = by_user.get(uid)
            if p is None:
                p = by_user[uid] = Person(uid, email or "", mobile or "", tuple(chans or ()),
                                           q_start, q_end, ding or "", wecom or "", uid in sees_all)
            if group:
                by_role[group].append(p)
        return dict(by_role), by_user

    return cached("people", load)


def _sees_all_orders() -> set[int]:
    """Active users who see every order (``core.permissions.order_scope``): superusers and holders
    of the "all orders" permission, through a role or directly. Everyone else sees only their own
    customers' orders, and hears by role only of those (``enqueue``)."""
    app, _dot, codename = VIEW_ALL_ORDERS_PERM.partition(".")
    via_group = Q(groups__permissions__codename=codename, groups__permissions__content_type__app_label=app)
    direct = Q(user_permissions__codename=codename, user_permissions__content_type__app_label=app)
    return set(get_user_model().objects.filter(is_active=True).filter(Q(is_superuser=True) | via_group | direct)
               .values_list("pk", flat=True).distinct())


@dataclass
class Person:
    user_id: int
    email: str = ""
    mobile: str = ""
    channels: tuple[str, ...] = ()
    quiet_start: dt_time | None = None     # the user's own quiet hours (e-mail and SMS)
    quiet_end: dt_time | None = None
    dingtalk_id: str = ""                  # @-mentioned by the group robots of the user's roles
    wecom_id: str = ""
    sees_all_orders: bool = True           # False: told by role only of their own customers' orders




def audit(subject_type: str, subject_id: int, action: str, actor: Actor, before: dict[str, Any],
          after: dict[str, Any], *, data: dict[str, Any] | None = None) -> None:
    """One event in the subject's chain with each changed field's before and after."""
    audit_save(subject_type=subject_type, subject_id=subject_id, action=action, actor=actor,
               before=before, after=after, data=data)



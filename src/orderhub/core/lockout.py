"""Login lockouts (django-axes): which username + address pairs are locked and until when, and
an administrator lifting a user's lockout (audited in the user's history).

Axes counts failed logins per username + client address (``AXES_LOCKOUT_PARAMETERS``); after
``AXES_FAILURE_LIMIT`` failures the pair is refused, even with the right password, until
``AXES_COOLOFF_TIME`` after its last failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .actors import Actor
from .audit import append_event
from .errors import NotFound, PermissionDenied

UNLOCK_PERM = "auth.change_user"


@dataclass(frozen=True)
class Lockout:
    username: str
    ip: str
    failures: int
    until: datetime


def _cooloff():
    return settings.AXES_COOLOFF_TIME


def login_lockouts(*, username: str | None = None, ip: str | None = None) -> list[Lockout]:
    """Pairs locked now, the longest-locked last (one query)."""
    now = timezone.now()  # axes stamps attempts with the wall clock, not the business clock
    qs = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
                                      attempt_time__gt=now - _cooloff())
    if username is not None:
        qs = qs.filter(username=username)
    if ip is not None:
        qs = qs.filter(ip_address=ip)
    return [Lockout(username=a.username or "", ip=a.ip_address or "", failures=a.failures_since_start,
                    until=a.attempt_time + _cooloff())
            for a in qs.order_by("attempt_time", "pk")]


def lockout_until(*, username: str, ip: str) -> datetime | None:
    """When ``username`` may try again from ``ip``, if that pair is locked."""
    found = login_lockouts(username=username, ip=ip)
    return max(lk.until for lk in found) if found else None


@transaction.atomic
def user_unlock(*, username: str, actor: Actor) -> int:
    """Lift every lockout of ``username`` (from any address); the number of lockout records
    cleared. Needs the permission to manage users; recorded in the user's history."""
    if not actor.has_perm(UNLOCK_PERM):
        raise PermissionDenied("permission_denied", _("You may not manage users."))
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound("unknown_user", _("Unknown user '%(u)s'.") % {"u": username})
    locked = login_lockouts(username=username)
    cleared = reset(username=username)
    append_event(subject_type="user", subject_id=user.pk, action="user.unlocked", actor=actor,
                 data={"username": username, "addresses": sorted({lk.ip for lk in locked}),
                       "records_cleared": cleared})
    return cleared

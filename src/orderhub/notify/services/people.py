"""People's side: their contact profile and preferred channels, their in-app inbox, and re-sending
a message that could not be delivered."""

from __future__ import annotations

from datetime import time as dt_time
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import NotFound, PermissionDenied
from orderhub.core.text import text_fault

from ..common import (
    MANAGE_PERM,
    audit,
    clear_caches,
    invalid,
)
from ..models import (
    PERSONAL_CHANNELS,
    ContactProfile,
    DeliveryChannel,
    Message,
)
from .enqueue import wake_after_commit


def profile_save(*, user_id: int, actor: Actor, mobile: str = "", dingtalk_id: str = "",
                 wecom_id: str = "", channels: list[str] | None = None,
                 quiet_start: dt_time | None = None, quiet_end: dt_time | None = None) -> ContactProfile:
    """A user's contact details, preferred personal channels and own quiet hours (for e-mail and
    SMS; red messages ignore them). The user or a user administrator may change them."""
    if not (actor.has_perm("auth.change_user") or (actor.user is not None and actor.user.pk == user_id)):
        raise PermissionDenied("forbidden", _("You may not change this contact profile."))
    for c in channels or []:
        if c not in PERSONAL_CHANNELS:
            raise invalid(_("Unknown personal channel '%(c)s'.") % {"c": c}, field="channels")
    mobile = (mobile or "").strip()
    if mobile and not all(ch.isdigit() or ch in "+- " for ch in mobile):
        raise invalid(_("A mobile number has digits, '+', '-' and spaces only."), field="mobile")
    if (quiet_start is None) != (quiet_end is None):
        raise invalid(_("Quiet hours need both a start and an end."), field="quiet_start")
    for name, value in (("dingtalk_id", dingtalk_id), ("wecom_id", wecom_id)):
        if fault := text_fault(value or ""):
            raise invalid(fault, field=name)
    values = dict(mobile=mobile[:32], dingtalk_id=dingtalk_id[:64], wecom_id=wecom_id[:64],
                  channels=list(channels or []), quiet_start=quiet_start, quiet_end=quiet_end)

    def plain(v: dict[str, Any]) -> dict[str, Any]:
        return {**v, "quiet_start": v["quiet_start"].isoformat() if v["quiet_start"] else None,
                "quiet_end": v["quiet_end"].isoformat() if v["quiet_end"] else None}

    with transaction.atomic():
        p = ContactProfile.objects.select_for_update().filter(user_id=user_id).first()
        before = plain({k: getattr(p, k) for k in values}) if p else {}
        if p is None:
            p = ContactProfile(user_id=user_id)
        for k, v in values.items():
            setattr(p, k, v)
        p.save()
        audit("contact_profile", user_id, "notify.profile_saved", actor, before, plain(values))
    clear_caches()
    return p


# --------------------------------------------------------------------------- inbox, dead letters

def inbox_mark_read(*, actor: Actor, ids: list[int] | None = None) -> int:
    """Mark the actor's in-app messages read (all of them when ``ids`` is None)."""
    if actor.user is None:
        raise PermissionDenied("forbidden", _("Only people have an inbox."))
    qs = Message.objects.filter(user=actor.user, channel=DeliveryChannel.INAPP, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=clock.now())


def message_resend(*, message: int, actor: Actor) -> Message:
    """Put a dead (or failed) message back in the queue with a fresh attempt budget."""
    if not actor.has_perm(MANAGE_PERM):
        raise PermissionDenied("forbidden", _("You may not re-send messages."))
    with transaction.atomic():
        m = Message.objects.select_for_update().filter(pk=message).first()
        if m is None:
            raise NotFound("not_found", _("No such message."))
        if m.status not in (Message.Status.DEAD, Message.Status.FAILED):
            raise invalid(_("Only dead or failed messages can be re-sent (this one is %(s)s).")
                                   % {"s": m.get_status_display()}, field="status")
        before = {"status": m.status, "attempts": m.attempts}
        m.status = Message.Status.QUEUED
        m.attempts = 0
        m.next_attempt_at = clock.now()
        m.save(update_fields=["status", "attempts", "next_attempt_at"])
        audit("notify_message", m.pk, "notify.message_resent", actor, before,
               {"status": m.status, "attempts": 0},
               data={"event": m.event, "channel": m.channel, "order": m.order_id,
                     "last_error": m.last_error[:500]})
        transaction.on_commit(wake_after_commit)
    return m

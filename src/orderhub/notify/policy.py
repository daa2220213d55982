"""The notification settings of the installation (``NotifySettings``, one row): today whether
endpoints may call private network targets (``netguard``). Read through a per-process cache
(``ORDERHUB_NOTIFY_CACHE_SECONDS``, cleared at once by a save in the same process), written by
``delivery_settings_save`` (permission, audit)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.core.errors import PermissionDenied

from .common import MANAGE_PERM, audit, cached, clear_caches
from .models import NotifySettings

SETTINGS_PK = 1


def delivery_settings() -> NotifySettings:
    """The settings row (the defaults when there is none yet)."""
    return cached("delivery_settings",
                   lambda: NotifySettings.objects.filter(pk=SETTINGS_PK).first() or NotifySettings(pk=SETTINGS_PK))


def allow_private_targets() -> bool:
    return delivery_settings().allow_private_targets


def delivery_settings_save(*, allow_private_targets: bool, actor: Actor) -> NotifySettings:
    """Allow or refuse endpoints on loopback, private, link-local … addresses (audited)."""
    if not actor.has_perm(MANAGE_PERM):
        raise PermissionDenied("forbidden", _("You may not change the notification settings."))
    with transaction.atomic():
        row = NotifySettings.objects.select_for_update().filter(pk=SETTINGS_PK).first()
        before = {"allow_private_targets": row.allow_private_targets} if row else {}
        if row is None:
            row = NotifySettings(pk=SETTINGS_PK)
        row.allow_private_targets = bool(allow_private_targets)
        row.updated_by = actor.label[:150]
        row.save()
        audit("notify_settings", SETTINGS_PK, "notify.settings_saved", actor, before,
               {"allow_private_targets": row.allow_private_targets})
    clear_caches()
    return row

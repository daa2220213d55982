"""Core writes: roles and the business calendar."""

from datetime import date

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils.translation import gettext as _

from .actors import Actor
from .audit import append_event
from .calendar_config import clear_calendar_cache
from .errors import PermissionDenied
from .models import CalendarOverride
from .roles import ROLE_PERMISSIONS, ROLES


@transaction.atomic
def roles_sync() -> dict[str, Group]:
    """Create a group per role with its permissions (idempotent)."""
    perms = {}
    for codes in ROLE_PERMISSIONS.values():
        for full in codes:
            app, codename = full.split(".")
            perms[full] = Permission.objects.get(content_type__app_label=app, codename=codename)
    groups = {}
    for code in ROLES:
        group, _ = Group.objects.get_or_create(name=code)
        group.permissions.set([perms[p] for p in ROLE_PERMISSIONS.get(code, [])])
        groups[code] = group
    return groups


@transaction.atomic
def calendar_override_set(*, day: date, is_workday: bool, note: str, actor: Actor) -> CalendarOverride:
    if not actor.has_perm("core.change_calendaroverride"):
        raise PermissionDenied("permission_denied", _("You may not change the business calendar."))
    obj = CalendarOverride.objects.filter(date=day).first()
    before = None if obj is None else obj.is_workday
    obj, _created = CalendarOverride.objects.update_or_create(date=day, defaults={"is_workday": is_workday,
                                                                           "note": note})
    append_event(subject_type="calendar", subject_id=int(day.strftime("%Y%m%d")),
                 action="calendar.override_set", actor=actor,
                 changes={"is_workday": [before, is_workday]}, reason=note)
    transaction.on_commit(clear_calendar_cache)
    return obj

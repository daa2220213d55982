"""Core writes: roles, users and the business calendar."""

from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .actors import Actor
from .audit import append_event
from .calendar_config import clear_calendar_cache
from .errors import PermissionDenied, Problem, ValidationFailed
from .models import CalendarOverride
from .roles import ROLE_PERMISSIONS, ROLES
from .text import column_fault


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
    fault = column_fault(CalendarOverride, "note", note)
    if fault:
        raise ValidationFailed("invalid", fault, problems=[Problem("invalid", fault, field="note")])
    obj = CalendarOverride.objects.filter(date=day).first()
    before = None if obj is None else obj.is_workday
    obj, _created = CalendarOverride.objects.update_or_create(date=day, defaults={"is_workday": is_workday,
                                                                           "note": note})
    append_event(subject_type="calendar", subject_id=int(day.strftime("%Y%m%d")),
                 action="calendar.override_set", actor=actor,
                 changes={"is_workday": [before, is_workday]}, reason=note)
    transaction.on_commit(clear_calendar_cache)
    return obj


@transaction.atomic
def user_save(*, username: str, roles: list[str], actor: Actor, full_name: str | None = None,
              email: str | None = None, is_active: bool | None = None, password: str | None = None):
    """Create a user or change their roles, name, e-mail, activity or password (audited; the
    password itself never enters the history)."""
    if not actor.has_perm("auth.change_user"):
        raise PermissionDenied("permission_denied", _("You may not manage users."))
    username = username.strip()
    User = get_user_model()
    problems = [Problem("invalid", fault, field=label) for label, name, value in (
        ("username", "username", username), ("full_name", "first_name", full_name),
        ("email", "email", email)) if (fault := column_fault(User, name, value))]
    if not username:
        problems.append(Problem("required", _("A user needs a username."), field="username"))
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        problems.append(Problem("unknown_role", _("Unknown role '%(r)s'.") % {"r": unknown[0]}, field="roles"))
    if problems and problems[0].code == "invalid":  # the lookup below cannot take such a name
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    user = User.objects.select_for_update().filter(username=username).first()
    created = user is None
    if created and not password:
        problems.append(Problem("required", _("A new user needs a password."), field="password"))
    if password:
        try:
            validate_password(password, user)
        except ValidationError as e:
            problems.extend(Problem("weak_password", m, field="password") for m in e.messages)
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    if created:
        user = User(username=username)
    changes = {}
    if full_name is not None and user.first_name != full_name:
        changes["full_name"] = [user.first_name, full_name]
        user.first_name = full_name
    if email is not None and user.email != email:
        changes["email"] = [user.email, email]
        user.email = email
    if is_active is not None and user.is_active != is_active:
        changes["is_active"] = [user.is_active, is_active]
        user.is_active = is_active
    if password:
        user.set_password(password)
        changes["password"] = ["***", "***"]
    user.save()
    before = sorted(user.groups.values_list("name", flat=True)) if not created else []
    if sorted(roles) != before:
        groups = roles_sync() if Group.objects.filter(name__in=roles).count() != len(set(roles)) else None
        user.groups.set(list(Group.objects.filter(name__in=roles)) if groups is None
                        else [groups[r] for r in roles])
        changes["roles"] = [before, sorted(roles)]
    if created or changes:
        append_event(subject_type="user", subject_id=user.pk,
                     action="user.created" if created else "user.changed", actor=actor,
                     changes=changes, data={"username": username})
    return user

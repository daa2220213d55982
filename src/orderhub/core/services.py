"""Core writes: roles, users and the business calendar."""

from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from . import clock
from .actors import Actor
from .audit import append_event
from .audited import apply_fields, record_changes
from .calendar_config import clear_calendar_cache
from .errors import PermissionDenied, Problem, ValidationFailed
from .holiday_table import parse_holiday_table
from .models import CalendarOverride, OfficialHolidayYear, RoleSetting
from .permissions import OrderScope, check, setting_permissions
from .roles import DEFAULT_ROLE_SETTING, ROLE_PERMISSIONS, ROLE_SETTING_DEFAULTS, ROLES
from .text import column_fault


@transaction.atomic
def roles_sync() -> dict[str, Group]:
    """Create a group per role with its permissions (idempotent). A role's settings
    (``RoleSetting``: orders visible, prices) start from ``ROLE_SETTING_DEFAULTS`` and, once
    made, keep what an administrator chose; their permissions are applied with the role's own."""
    groups = {}
    for code in ROLES:
        group, _ = Group.objects.get_or_create(name=code)
        setting, _ = RoleSetting.objects.get_or_create(
            role=group, defaults=ROLE_SETTING_DEFAULTS.get(code, DEFAULT_ROLE_SETTING))
        _apply_role_permissions(group, setting)
        groups[code] = group
    return groups


def _apply_role_permissions(group: Group, setting: RoleSetting) -> None:
    wanted = [*ROLE_PERMISSIONS.get(group.name, []), *setting_permissions(setting)]
    by_name = {f"{app}.{code}": pk for pk, app, code in Permission.objects.filter(
        content_type__app_label__in={p.split(".")[0] for p in wanted},
        codename__in={p.split(".")[1] for p in wanted}).values_list("pk", "content_type__app_label", "codename")}
    missing = [p for p in wanted if p not in by_name]
    if missing:
        raise Permission.DoesNotExist(f"permission {missing[0]} does not exist (run migrate)")
    group.permissions.set([by_name[p] for p in wanted])


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
def calendar_official_import(*, text: str, source: str, actor: Actor) -> OfficialHolidayYear:
    """Import the official holiday schedule of one year (pasted or uploaded text, see
    ``holiday_table``). It replaces the holidays library's data for that year, so an estimated
    year stops being estimated. Audited. Open deadlines are recomputed by the caller
    (``orders.services.order_deadlines_recompute``): core does not write orders."""
    if not actor.has_perm("core.change_calendaroverride"):
        raise PermissionDenied("permission_denied", _("You may not change the business calendar."))
    fault = column_fault(OfficialHolidayYear, "source", source)
    if fault:
        raise ValidationFailed("invalid", fault, problems=[Problem("invalid", fault, field="source")])
    table = parse_holiday_table(text)
    before = OfficialHolidayYear.objects.filter(year=table.year).first()
    obj, _created = OfficialHolidayYear.objects.update_or_create(year=table.year, defaults={
        "days_off": [d.isoformat() for d in table.days_off],
        "workdays": [d.isoformat() for d in table.workdays],
        "source": source, "imported_at": clock.now(), "imported_by": actor.label})
    append_event(subject_type="calendar", subject_id=table.year, action="calendar.official_imported",
                 actor=actor, reason=source,
                 changes={"days_off": [before.days_off if before else None, obj.days_off],
                          "workdays": [before.workdays if before else None, obj.workdays]})
    clear_calendar_cache()  # the recompute that follows in this transaction reads the new year
    transaction.on_commit(clear_calendar_cache)
    return obj


@transaction.atomic
def user_save(*, username: str, roles: list[str], actor: Actor, full_name: str | None = None,
              email: str | None = None, is_active: bool | None = None,
              password: str | None = None) -> User:
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
    if user is None:
        user = User(username=username)
    given = {"first_name": full_name, "email": email, "is_active": is_active}
    changes = apply_fields(user, {k: v for k, v in given.items() if v is not None},
                           names={"first_name": "full_name"})
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
    record_changes(subject_type="user", subject_id=user.pk, created=created,
                   action="user.created" if created else "user.changed", actor=actor,
                   changes=changes, data={"username": username})
    return user


@transaction.atomic
def role_setting_save(*, role: str, actor: Actor, order_scope: str | None = None,
                      change_price: bool | None = None) -> RoleSetting:
    """Change what a role sees (all orders / own customers' orders) or whether it may set prices
    (audited; applied to the role's permissions at once)."""
    check(actor, "users.manage")
    problems = []
    if role not in ROLES:
        problems.append(Problem("unknown_role", _("Unknown role '%(r)s'.") % {"r": role}, field="role"))
    if order_scope is not None and order_scope not in OrderScope.values:
        problems.append(Problem("invalid_choice", _("Orders visible must be all or own_customers."),
                                field="order_scope"))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    group = Group.objects.filter(name=role).first() or roles_sync()[role]
    setting = RoleSetting.objects.select_for_update().filter(role=group).first()
    if setting is None:
        setting = RoleSetting.objects.create(role=group, **ROLE_SETTING_DEFAULTS.get(role, DEFAULT_ROLE_SETTING))
    given = {"order_scope": order_scope, "change_price": change_price}
    changes = apply_fields(setting, {k: v for k, v in given.items() if v is not None})
    if changes:
        setting.save()
        _apply_role_permissions(group, setting)
    record_changes(subject_type="role", subject_id=group.pk, action="role.changed", actor=actor,
                   changes=changes, data={"role": role})
    return setting

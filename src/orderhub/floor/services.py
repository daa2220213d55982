"""The one way in for shop-floor tickets and the problem-type list. Opening and resolving go
through ``orders.services.ticket_open`` / ``ticket_resolve`` (ticket kind ``floor``: the
workflow's ladder, the order's history) in the same transaction as the details and photos."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Product
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.errors import NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.roles import ROLES
from orderhub.core.text import column_fault
from orderhub.orders.models import Order, Ticket
from orderhub.orders.selectors import check_visible
from orderhub.orders.services import order_attach, ticket_open, ticket_resolve
from orderhub.workflow.services import compiled

from .defaults import PROBLEM_TYPES
from .events import PROBLEM_TYPES_SAVED
from .images import MAX_PHOTOS, Picture, check_photo
from .models import TICKET_KIND, FloorPhoto, FloorTicket, ProblemType, Severity

DEFAULT_BUSINESS_HOURS = Decimal(2)   # when the order's workflow defines no ``floor`` kind


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(code, message, problems=[Problem(code, message, field=field)])


def _text(field: str, value: str, model: Any, column: str, *, required: bool = False,
          multiline: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise _invalid(field, _("This field is required."), "required")
    fault = column_fault(model, column, value, multiline=multiline)
    if fault:
        raise _invalid(field, fault)
    return value


def search_text(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def floor_ticket_open(*, order: str, problem_type: str, actor: Actor, severity: str = Severity.NORMAL,
                      title: str = "", body: str = "", product: str | None = None,
                      owner_role: str | None = None,
                      photos: Sequence[tuple[str, bytes]] = ()) -> FloorTicket:
    """Open a shop-floor ticket on ``order`` with up to six photos (each checked to be a real
    picture and kept as an order attachment). The responsible role is ``owner_role`` or the
    problem type's; the deadline and ladder those of the workflow's ``floor`` kind, else two
    business hours."""
    check_visible(order, actor)
    ptype = ProblemType.objects.filter(code=problem_type, active=True).first()
    if ptype is None:
        raise _invalid("problem_type", _("Choose a problem type from the list."))
    if severity not in Severity.values:
        raise _invalid("severity", _("Choose a severity."))
    role = owner_role or ptype.default_role
    if role not in ROLES:
        raise _invalid("owner_role", _("Unknown role '%(role)s'.") % {"role": role})
    body = _text("body", body, Ticket, "body")
    title = _text("title", title, Ticket, "title", multiline=False) or (
        f"{ptype.name}: {body.splitlines()[0][:60]}" if body else ptype.name)[:200]
    prod = None
    if product:
        prod = Product.objects.filter(sku=product).first()
        if prod is None:
            raise _invalid("product", _("Unknown product '%(sku)s'.") % {"sku": product})
    if len(photos) > MAX_PHOTOS:
        raise _invalid("photos", _("At most %(n)s photos per ticket.") % {"n": MAX_PHOTOS}, "too_many")
    pictures: list[Picture] = [check_photo(name, content) for name, content in photos]
    workflow_id = Order.objects.filter(number=order).values_list("workflow_id", flat=True).first()
    if workflow_id is None:
        raise NotFound("order_not_found", _("Order %(number)s does not exist.") % {"number": order})
    kind = compiled(workflow_id).tickets.get(TICKET_KIND)
    hours = None if kind is not None and kind.spec.deadline is not None else DEFAULT_BUSINESS_HOURS
    with transaction.atomic():
        ticket = ticket_open(order=order, kind=TICKET_KIND, title=title, body=body, owner_role=role,
                             business_hours=hours, actor=actor, source="floor",
                             extra={"problem_type": ptype.code, "severity": severity,
                                    "product": prod.sku if prod else None,
                                    "photos": [p.name for p in pictures]})
        floor = FloorTicket.objects.create(ticket=ticket, problem_type=ptype, severity=severity, product=prod,
                                           search_text=search_text(title, body))
        for i, pic in enumerate(pictures):
            att = order_attach(order=order, name=pic.name, content=pic.content, content_type=pic.content_type,
                               actor=actor)
            FloorPhoto.objects.create(ticket=floor, attachment=att, width=pic.width, height=pic.height,
                                      thumbnail=pic.thumbnail, position=i)
        return floor


def floor_ticket_resolve(*, ticket: int, cause: str, fix: str, actor: Actor) -> FloorTicket:
    """Close a shop-floor ticket with its cause and its fix (both required, both in the order's
    history and in the knowledge base)."""
    floor = FloorTicket.objects.select_related("ticket__order").filter(pk=ticket).first()
    if floor is None:
        raise NotFound("ticket_not_found", _("Ticket %(id)s does not exist.") % {"id": ticket})
    check_visible(floor.ticket.order.number, actor)
    cause = _text("cause", cause, FloorTicket, "cause", required=True)
    fix = _text("fix", fix, FloorTicket, "fix", required=True)
    resolution = _("Cause: %(cause)s\nFix: %(fix)s") % {"cause": cause, "fix": fix}
    with transaction.atomic():
        t = ticket_resolve(ticket=ticket, resolution=resolution, actor=actor, extra={"cause": cause, "fix": fix})
        floor = FloorTicket.objects.select_for_update().get(pk=ticket)
        floor.cause, floor.fix = cause, fix
        floor.search_text = search_text(t.title, t.body, cause, fix)
        floor.save(update_fields=["cause", "fix", "search_text"])
        floor.ticket = t
        return floor


def _type_row(i: int, row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise _invalid(f"types[{i}]", _("Each problem type needs a code, a name and a role."))
    code = str(row.get("code") or "").strip()
    name = str(row.get("name") or "").strip()
    role = str(row.get("default_role") or "").strip()
    if not code or not name:
        raise _invalid(f"types[{i}]", _("Each problem type needs a code and a name."), "required")
    for field, value in (("code", code), ("name", name)):
        if fault := column_fault(ProblemType, field, value):
            raise _invalid(f"types[{i}].{field}", fault)
    if role not in ROLES:
        raise _invalid(f"types[{i}].default_role", _("Unknown role '%(role)s'.") % {"role": role})
    return {"code": code, "name": name, "default_role": role, "active": bool(row.get("active", True))}


def problem_types_seed() -> None:
    """The default list, when there is none at all (idempotent)."""
    if not ProblemType.objects.exists():
        ProblemType.objects.bulk_create([ProblemType(code=c, name=n, default_role=r, position=i)
                                         for i, (c, n, r) in enumerate(PROBLEM_TYPES)], ignore_conflicts=True)


def problem_types_data() -> list[dict[str, Any]]:
    return [{"code": t.code, "name": t.name, "default_role": t.default_role, "active": t.active}
            for t in ProblemType.objects.order_by("position", "code")]


def problem_types_save(*, types: Sequence[Any], actor: Actor) -> list[dict[str, Any]]:
    """Replace the list (in its order): new codes are added, known ones changed, codes left out
    are switched off (tickets keep their type). Audited as one event."""
    if not actor.has_perm("floor.change_problemtype"):
        raise PermissionDenied("permission_denied", _("You may not change the problem types."))
    rows = [_type_row(i, r) for i, r in enumerate(types)]
    codes = [r["code"] for r in rows]
    if len(set(codes)) != len(codes):
        raise _invalid("types", _("Each code may appear once."), "duplicate")
    if not any(r["active"] for r in rows):
        raise _invalid("types", _("Keep at least one active problem type."))
    with transaction.atomic():
        before = problem_types_data()
        for pos, r in enumerate(rows):
            ProblemType.objects.update_or_create(code=r["code"], defaults={**r, "position": pos})
        ProblemType.objects.exclude(code__in=codes).update(active=False)
        after = problem_types_data()
        if before != after:
            append_event(subject_type="problem_types", subject_id=1, action=PROBLEM_TYPES_SAVED, actor=actor,
                         changes={"types": [before, after]})
        return after


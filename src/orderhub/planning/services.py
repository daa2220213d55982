"""Planning writes: production lines and routings, the schedule rebuild (with the owners of
orders that slip told), rush insertion. Keyword-only, with the actor; capability checked
(``planning.plan``), audited (subject ``work_center`` / ``order_plan``), outbox rows written in
the same transaction (``notify.services.notify``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.errors import NotFound, Problem, ValidationFailed
from orderhub.core.permissions import check
from orderhub.notify.services import NotifyRequest, Recipient, notify_many
from orderhub.orders.kitting import day_label
from orderhub.orders.models import Order

from . import events
from .materials import materials_dates
from .models import (
    SUBJECT_PLAN,
    SUBJECT_WORK_CENTER,
    OrderPlan,
    Routing,
    ScheduledOperation,
    WorkCenter,
)
from .schedule import (
    Released,
    build_jobs,
    lock_schedule,
    new_board,
    released_orders,
    rows_of,
    today,
)


def _invalid(code: str, message: str, fld: str | None = None) -> ValidationFailed:
    return ValidationFailed(code, message, problems=[Problem(code, message, field=fld)])


# --------------------------------------------------------------------------- lines and routings

@dataclass(frozen=True)
class RoutingIn:
    product_id: int
    seq: int
    operation: str
    hours_per_unit: Decimal
    preferred: bool = True


@transaction.atomic
def line_save(*, actor: Actor, code: str, name: str, hours_per_day: Decimal, is_active: bool = True,
              routings: list[RoutingIn] | None = None) -> WorkCenter:
    """Create or change a line; ``routings`` (when given) replace the line's routing steps.
    The schedule is rebuilt: capacity moved."""
    check(actor, "planning.plan")
    code = code.strip()
    if not code or not name.strip():
        raise _invalid("invalid_line", _("A line needs a code and a name."), "code")
    if not hours_per_day.is_finite() or not Decimal(0) < hours_per_day <= 24:
        raise _invalid("invalid_hours", _("Hours per working day must be between 0 and 24."), "hours_per_day")
    for r in routings or []:
        if not r.hours_per_unit.is_finite() or r.hours_per_unit <= 0:
            raise _invalid("invalid_hours", _("Hours per unit must be greater than zero."), "routings")
    wc = WorkCenter.objects.select_for_update().filter(code=code).first()
    before = {"name": wc.name, "hours_per_day": str(wc.hours_per_day), "is_active": wc.is_active} if wc else {}
    if wc is None:
        wc = WorkCenter(code=code)
    wc.name, wc.hours_per_day, wc.is_active = name.strip(), hours_per_day, is_active
    wc.save()
    after = {"name": wc.name, "hours_per_day": str(wc.hours_per_day), "is_active": wc.is_active}
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if routings is not None:
        Routing.objects.filter(work_center=wc).delete()
        Routing.objects.bulk_create([Routing(work_center=wc, product_id=r.product_id, seq=r.seq,
                                             operation=r.operation.strip()[:60], hours_per_unit=r.hours_per_unit,
                                             preferred=r.preferred) for r in routings])
        changes["routings"] = [None, len(routings)]
    append_event(subject_type=SUBJECT_WORK_CENTER, subject_id=wc.pk, action=events.LINE_SAVED, actor=actor,
                 changes=changes)
    schedule_rebuild(actor=actor)
    return wc


# --------------------------------------------------------------------------- the rebuild

@dataclass
class Rebuilt:
    orders: int = 0
    operations: int = 0
    moved: dict[int, tuple[date | None, date | None]] = field(default_factory=dict)   # order → (before, after)
    slipped: list[str] = field(default_factory=list)


def _slip_requests(orders: list[Released], after: dict[int, date | None]) -> tuple[list[NotifyRequest], list[str]]:
    reqs, slipped = [], []
    for o in orders:
        end, plan = after.get(o.pk), o.plan
        if end is None or o.promised is None or end <= o.promised or plan is None or plan.slipped_to == end:
            continue
        plan.slipped_to = end
        slipped.append(o.number)
        if o.owner_id is None:
            continue
        msg = _("Order %(n)s is expected to finish %(d)s, after its promised date %(p)s (rescheduled after a "
                "change in stock, purchasing or capacity).") % {
            "n": o.number, "d": day_label(end), "p": day_label(o.promised)}
        reqs.append(NotifyRequest(event=events.SLIPPED, recipients=[Recipient.user(o.owner_id)],
                                  context={"subject": _("Delivery slip warning %(n)s") % {"n": o.number}, "message": msg,
                                           "number": o.number, "order_id": o.pk},
                                  order=None, severity="info", dedupe_key=f"planning-slip:{o.pk}:{end.isoformat()}"))
    return reqs, slipped


@transaction.atomic
def schedule_rebuild(*, actor: Actor, refresh_materials: bool = False, notify_slips: bool = True) -> Rebuilt:
    """Place every released order again by priority, from today; store the operations and each
    order's expected completion; tell the owner of each order that now ends after its promised
    date (once per new date). ``refresh_materials``: read stock and POs again first."""
    caps = lock_schedule()
    now, day = clock.now(), today()
    orders = released_orders()
    mats = materials_dates([o.pk for o in orders], today=day) if refresh_materials else {}
    for o in orders:
        if o.plan is None:
            o.plan = OrderPlan(order_id=o.pk, materials_date=mats[o.pk].ready if o.pk in mats else day,
                               promised_date=o.promised, computed_at=now)
        elif o.pk in mats:
            o.plan.materials_date = mats[o.pk].ready
    board = new_board(caps)
    rows: list[ScheduledOperation] = []
    after: dict[int, date | None] = {}
    for job in build_jobs(orders, day):
        placed = board.place(job)
        after[job.order_id] = placed.end
        rows.extend(rows_of(placed))
    ScheduledOperation.objects.all().delete()
    ScheduledOperation.objects.bulk_create(rows, batch_size=2000)
    result = Rebuilt(len(orders), len(rows))
    for o in orders:
        assert o.plan is not None
        before = o.plan.expected_date
        if before != after.get(o.pk):
            result.moved[o.pk] = (before, after.get(o.pk))
        o.plan.expected_date, o.plan.computed_at = after.get(o.pk), now
    reqs, result.slipped = _slip_requests(orders, after) if notify_slips else ([], [])
    # one upsert for new and known plans alike (a bulk_update of thousands of rows is a CASE per field)
    OrderPlan.objects.bulk_create([o.plan for o in orders if o.plan is not None], batch_size=2000,
                                  update_conflicts=True, unique_fields=["order"],
                                  update_fields=["materials_date", "expected_date", "slipped_to", "computed_at"])
    if reqs:
        found = Order.objects.in_bulk([r.context["order_id"] for r in reqs])
        for r in reqs:
            r.order = found[r.context.pop("order_id")]
        notify_many(reqs)
    return result


def released_plan(number: str) -> tuple[Released, list[Released]]:
    orders = released_orders()
    found = next((o for o in orders if o.number == number), None)
    if found is None:
        raise NotFound("not_released", _("Order %(n)s is not released to production (not on the schedule).") % {"n": number})
    return found, orders


def rush_apply(*, actor: Actor, number: str, line_code: str, reason: str = "") -> Rebuilt:
    """Insert an order as a rush order on a line: it goes first on that line, every released
    order is placed again, and the owners of the orders it delays are told by how much."""
    check(actor, "planning.plan")
    with transaction.atomic():
        lock_schedule()
        target, _orders = released_plan(number)
        wc = WorkCenter.objects.filter(code=line_code, is_active=True).first()
        if wc is None:
            raise NotFound("unknown_line", _("Line “%(c)s” does not exist or is inactive.") % {"c": line_code})
        now = clock.now()
        plan, _created = OrderPlan.objects.get_or_create(order_id=target.pk, defaults={
            "materials_date": today(), "promised_date": target.promised, "computed_at": now})
        before = plan.expected_date
        plan.rush_line, plan.rush_at = wc, now
        plan.save(update_fields=["rush_line", "rush_at"])
        result = schedule_rebuild(actor=actor, notify_slips=False)
        delayed = _notify_delayed(result, target, wc)
        append_event(subject_type=SUBJECT_PLAN, subject_id=target.pk, action=events.RUSH_APPLIED, actor=actor,
                     data={"order": number, "line": wc.code,
                           "before": before.isoformat() if before else None,
                           "after": (result.moved.get(target.pk, (None, before))[1] or before or now.date()).isoformat(),
                           "delayed": delayed}, reason=reason)
        return result


def _notify_delayed(result: Rebuilt, target: Released, wc: WorkCenter) -> list[dict]:
    delayed = {pk: (a - b).days for pk, (b, a) in result.moved.items()
               if pk != target.pk and a is not None and b is not None and a > b}
    if not delayed:
        return []
    found = Order.objects.in_bulk(list(delayed))
    info = {pk: (o.number, o.owner_id) for pk, o in found.items()}
    reqs = []
    for pk, days in delayed.items():
        num, owner = info[pk]
        if owner is None:
            continue
        msg = _("Rush order %(r)s inserted on line %(l)s: order %(n)s is expected to finish %(d)s days "
                "later.") % {
            "r": target.number, "l": wc.name, "n": num, "d": days}
        reqs.append(NotifyRequest(event=events.DELAYED_BY_RUSH, recipients=[Recipient.user(owner)],
                                  context={"subject": _("Rush order impact %(n)s") % {"n": num}, "message": msg, "number": num},
                                  order=found[pk], severity="info",
                                  dedupe_key=f"planning-rush:{target.pk}:{pk}:{result.moved[pk][1]}"))
    notify_many(reqs)
    return [{"order": info[pk][0], "days": d} for pk, d in sorted(delayed.items(), key=lambda x: info[x[0]][0])]

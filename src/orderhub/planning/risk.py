"""Delivery risk 48 hours ahead: open orders whose promised date falls within the horizon and
that are at risk, each with its reasons:

- **material**: a material short on stock that no open PO makes up (``materials.uncovered``);
- **capacity**: the schedule finishes the order after its promised date (its lines are booked
  full until then), or it has no place on the schedule although it has routings;
- **stage**: the order's current stage is past its deadline.

:func:`risk_scan` (the periodic job ``planning.risk_scan``) tells each order's owner once
per order and kind of risk (``RiskNotice`` rows, unique; the outbox dedupe key too).

:func:`risk_backtest` measures the warning against what happened: for every order whose promised
date has passed, was it warned (a notice before the promised date, or a stage already overdue 48
hours before it, read from the stage history) and was it late (finished after the promised date,
or still open past it)? Precision and recall come from :func:`precision_recall`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from orderhub.core import clock
from orderhub.notify.services import NotifyRequest, Recipient, notify_many
from orderhub.orders.kitting import day_label
from orderhub.orders.models import Order, StageInstance

from . import events
from .materials import materials_dates, names_list
from .models import OrderPlan, RiskNotice, ScheduledOperation
from .schedule import released_stages

HORIZON_HOURS = 48


@dataclass
class Risk:
    order: Order
    reasons: list[tuple[str, str]] = field(default_factory=list)   # (kind, sentence)

    @property
    def kinds(self) -> list[str]:
        return [k for k, _s in self.reasons]


def risk_list(*, now: datetime | None = None, hours: int = HORIZON_HOURS) -> list[Risk]:
    """Open orders promised within ``hours`` (or already past their promised date) that are at
    risk, earliest promised date first. Five queries plus the materials' six."""
    now = now or clock.now()
    today = timezone.localdate(now)
    until = timezone.localdate(now + timedelta(hours=hours))
    orders = list(Order.objects.filter(status=Order.Status.OPEN, promised_date__isnull=False,
                                       promised_date__lte=until)
                  .select_related("customer", "owner").order_by("promised_date", "pk"))
    if not orders:
        return []
    ids = [o.pk for o in orders]
    stages = set(released_stages())
    plans = OrderPlan.objects.in_bulk(ids, field_name="order_id")
    mats = materials_dates(ids, today=today)
    scheduled = set(ScheduledOperation.objects.filter(order_id__in=ids).values_list("order_id", flat=True).distinct())
    out = []
    for o in orders:
        r = Risk(o)
        m = mats.get(o.pk)
        if m and m.uncovered:
            r.reasons.append((RiskNotice.Kind.MATERIAL, _("Short of %(names)s, no purchase order makes it up") % {
                "names": names_list(m.uncovered)}))
        plan = plans.get(o.pk) if o.stage in stages else None   # past production: capacity is behind it
        assert o.promised_date is not None
        if plan and plan.expected_date and plan.expected_date > o.promised_date:
            r.reasons.append((RiskNotice.Kind.CAPACITY, _(
                "Lines booked full: expected to finish %(d)s, after the promised date %(p)s") % {
                "d": day_label(plan.expected_date), "p": day_label(o.promised_date)}))
        elif plan and plan.expected_date is None and o.pk not in scheduled and plan.rush_line_id is None \
                and plan.promised_date:
            r.reasons.append((RiskNotice.Kind.CAPACITY, _("Not placed on any line")))
        if o.stage_due_at and o.stage_due_at < now:
            hrs = int((now - o.stage_due_at).total_seconds() // 3600)
            r.reasons.append((RiskNotice.Kind.STAGE, _("Current stage overdue by %(h)s hours") % {"h": hrs}))
        if r.reasons:
            out.append(r)
    return out


def risk_scan(*, now: datetime | None = None) -> int:
    """Tell the owners of orders at risk within 48 hours, once per order and kind of risk.
    Returns the number of new notices."""
    now = now or clock.now()
    today = timezone.localdate(now)
    risks = [r for r in risk_list(now=now) if r.order.promised_date and r.order.promised_date >= today]
    if not risks:
        return 0
    known = set(RiskNotice.objects.filter(order_id__in=[r.order.pk for r in risks]).values_list("order_id", "kind"))
    new, reqs = [], []
    for r in risks:
        fresh = [(k, s) for k, s in r.reasons if (r.order.pk, k) not in known]
        if not fresh:
            continue
        assert r.order.promised_date is not None
        new += [RiskNotice(order=r.order, kind=k, detail=s[:300], promised_date=r.order.promised_date, noticed_at=now)
                for k, s in fresh]
        if r.order.owner_id:
            why = pgettext("reasons separator", "; ").join(s for _k, s in fresh)
            msg = _("Order %(n)s, promised for %(p)s, is at risk: %(why)s.") % {
                "n": r.order.number, "p": day_label(r.order.promised_date), "why": why}
            reqs.append(NotifyRequest(
                event=events.DELIVERY_RISK, recipients=[Recipient.user(r.order.owner_id)], order=r.order,
                context={"subject": _("Delivery risk %(n)s") % {"n": r.order.number}, "message": msg, "number": r.order.number},
                severity="info", dedupe_key=f"planning-risk:{r.order.pk}:{','.join(k for k, _s in fresh)}"))
    RiskNotice.objects.bulk_create(new, ignore_conflicts=True)
    if reqs:
        notify_many(reqs)
    return len(new)


# --------------------------------------------------------------------------- measured

@dataclass(frozen=True)
class Score:
    precision: float | None     # None: nothing was warned
    recall: float | None        # None: nothing was late
    true_positive: int
    false_positive: int
    false_negative: int
    orders: int

    @property
    def late(self) -> int:
        return self.true_positive + self.false_negative

    @property
    def warned(self) -> int:
        return self.true_positive + self.false_positive


def precision_recall(warned: set[int], late: set[int], universe: set[int]) -> Score:
    warned, late = warned & universe, late & universe
    tp, fp, fn = len(warned & late), len(warned - late), len(late - warned)
    return Score(tp / (tp + fp) if tp + fp else None, tp / (tp + fn) if tp + fn else None, tp, fp, fn, len(universe))


def risk_backtest(*, now: datetime | None = None, hours: int = HORIZON_HOURS) -> Score:
    """Warnings against outcomes for every order whose promised date has passed (see the module
    docstring). Four queries."""
    now = now or clock.now()
    today = timezone.localdate(now)
    tz = timezone.get_current_timezone()
    rows = list(Order.objects.filter(promised_date__isnull=False, promised_date__lt=today)
                .exclude(status=Order.Status.CANCELLED).values_list("pk", "promised_date", "status", "stage"))
    if not rows:
        return precision_recall(set(), set(), set())
    promised: dict[int, date] = {pk: p for pk, p, _s, _st in rows if p is not None}
    ids = set(promised)
    end_of = {pk: datetime.combine(p, time.max, tzinfo=tz) for pk, p in promised.items()}
    # finished: the first stage instance of a final stage (status completed) is when it ended
    finished: dict[int, datetime] = {}
    for oid, at in (StageInstance.objects.filter(order_id__in=[pk for pk, _p, s, _st in rows if s == Order.Status.COMPLETED])
                    .order_by("order_id", "-entered_at").values_list("order_id", "entered_at")):
        finished.setdefault(oid, at)
    late = {pk for pk in ids if (finished[pk] > end_of[pk] if pk in finished else True)}
    warned: set[int] = set()
    for oid, at, p in RiskNotice.objects.filter(order_id__in=ids).values_list("order_id", "noticed_at", "promised_date"):
        if at <= datetime.combine(p, time.max, tzinfo=tz):
            warned.add(oid)
    # a stage overdue 48 hours before the promised date, from the stage history
    stage_rows = (StageInstance.objects.filter(order_id__in=ids, due_at__isnull=False)
                  .filter(Q(exited_at__isnull=True) | Q(exited_at__gt=F("due_at")))
                  .values_list("order_id", "entered_at", "due_at", "exited_at"))
    for oid, entered, due, exited in stage_rows:
        at = end_of[oid] - timedelta(hours=hours)
        if due is not None and entered <= at and due < at and (exited is None or exited > at):
            warned.add(oid)
    return precision_recall(warned, late, ids)

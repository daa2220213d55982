"""The customer order experience index (COEI, seed 002), per order, per customer and for a set
of orders (the KPI dashboards), computed from what the system recorded, never from guesses.

Three parts, each a share between 0 and 1, or "not applicable" (None):

* **notice** (default weight 40): of the order's shipped shipments, the share whose shipping
  notice was queued before it left (``Shipment.notice_at <= shipped_at``). No shipped shipment:
  not applicable.
* **updates** (30): the order's life (created → completed, or now while open) cut into windows
  of the customer's expected update interval (``CustomerSetting.update_hours``, else
  ``CoeiConfig.update_hours``); the share of windows in which the customer heard something: the
  order entered a stage, a shipping notice was queued, or staff wrote in the order's thread.
  Cancelled orders are not scored at all.
* **delay** (30): each delay (the promised date moved later, or the order still undelivered
  when its ETA, the promised date else the required date, ended) is explained if staff wrote to
  the customer in the order's thread from 24 h before it until ``explain_hours`` business hours
  after it (the business calendar). Share of delays explained; none: not applicable.

COEI = Σ weightᵢ · partᵢ / Σ weightᵢ over the applicable parts, × 100 (0–100, one decimal);
no applicable part: None. A customer's or a set's COEI is the mean over their scored orders.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from orderhub.core import clock, permissions
from orderhub.core.actors import Actor
from orderhub.core.audit import AuditEvent, append_event
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.errors import Problem, ValidationFailed
from orderhub.orders.models import Order, StageInstance

from . import events
from .models import CoeiConfig, CustomerSetting, Message, SurveyAnswer

PARTS = ("notice", "updates", "delay")
LOOKBACK = timedelta(hours=24)     # a proactive explanation may come this long before the delay


def config() -> CoeiConfig:
    """The one settings row (created with the seed-002 defaults on first read)."""
    row = CoeiConfig.objects.filter(pk=1).first()
    return row if row is not None else CoeiConfig.objects.get_or_create(pk=1)[0]


def weights(cfg: CoeiConfig | None = None) -> dict[str, int]:
    cfg = cfg or config()
    return {"notice": cfg.weight_notice, "updates": cfg.weight_updates, "delay": cfg.weight_delay}


def config_dict(cfg: CoeiConfig | None = None) -> dict[str, Any]:
    cfg = cfg or config()
    return {"weight_notice": cfg.weight_notice, "weight_updates": cfg.weight_updates,
            "weight_delay": cfg.weight_delay, "update_hours": cfg.update_hours,
            "explain_hours": cfg.explain_hours, "survey_days": cfg.survey_days,
            "updated_at": cfg.updated_at, "updated_by": cfg.updated_by}


_LIMITS = {"weight_notice": (0, 100), "weight_updates": (0, 100), "weight_delay": (0, 100),
           "update_hours": (1, 720), "explain_hours": (1, 72), "survey_days": (1, 365)}


def config_save(*, actor: Actor, values: dict[str, int]) -> CoeiConfig:
    """Change the COEI settings (administrators: ``settings.customers``); the weights must add up
    to 100. Audited (subject ``coei_config``: each field before and after)."""
    permissions.check(actor, "settings.customers")
    problems = []
    for name, (lo, hi) in _LIMITS.items():
        v = values.get(name)
        if v is None or not isinstance(v, int) or not lo <= v <= hi:
            problems.append(Problem("invalid", _("Enter a whole number from %(lo)d to %(hi)d.") % {"lo": lo, "hi": hi},
                                    field=name))
    if not problems and values["weight_notice"] + values["weight_updates"] + values["weight_delay"] != 100:
        problems.append(Problem("invalid", _("The three weights must add up to 100."), field="weight_notice"))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    with transaction.atomic():
        cfg = config()
        cfg = CoeiConfig.objects.select_for_update().get(pk=cfg.pk)
        changes = {k: [getattr(cfg, k), values[k]] for k in _LIMITS if getattr(cfg, k) != values[k]}
        for k in _LIMITS:
            setattr(cfg, k, values[k])
        cfg.updated_at, cfg.updated_by = clock.now(), actor.label[:150]
        cfg.save()
        append_event(subject_type="coei_config", subject_id=cfg.pk, action=events.COEI_CONFIG_SAVED, actor=actor,
                     changes=changes)
    return cfg


def customer_hours(customer_id: int, cfg: CoeiConfig | None = None) -> int:
    own = CustomerSetting.objects.filter(customer_id=customer_id).values_list("update_hours", flat=True).first()
    return own or (cfg or config()).update_hours


# --------------------------------------------------------------------------- the parts

@dataclass
class _Facts:
    """What one order's score is computed from (loaded in bulk for many orders)."""

    stage_entries: list[datetime] = field(default_factory=list)
    shipments: list[tuple[datetime | None, datetime | None]] = field(default_factory=list)  # notice, shipped
    staff_messages: list[datetime] = field(default_factory=list)
    eta_moves: list[tuple[datetime, Any, Any]] = field(default_factory=list)


def day_end(d: date) -> datetime:
    return timezone.make_aware(datetime.combine(d + timedelta(days=1), time.min), timezone.get_current_timezone())


def _parse(v: Any) -> date | None:
    try:
        return date.fromisoformat(str(v)[:10]) if v else None
    except ValueError:
        return None


def part_notice(facts: _Facts) -> float | None:
    shipped = [(n, s) for n, s in facts.shipments if s is not None]
    if not shipped:
        return None
    return sum(1 for n, s in shipped if n is not None and n <= s) / len(shipped)


def _order_end(order: Order, now: datetime) -> datetime:
    if order.status == Order.Status.COMPLETED:
        return min(order.stage_entered_at, now)
    return now


def part_updates(order: Order, facts: _Facts, hours: int, now: datetime) -> float | None:
    start, end = order.created_at, _order_end(order, now)
    span = (end - start).total_seconds()
    step = hours * 3600
    windows = max(1, math.ceil(span / step))
    heard = facts.stage_entries + [n for n, _s in facts.shipments if n is not None] + facts.staff_messages
    covered = {min(int((t - start).total_seconds() // step), windows - 1) for t in heard if start <= t <= end}
    return len(covered) / windows


def delays(order: Order, facts: _Facts, now: datetime) -> list[datetime]:
    """When the order was late: each later promised date, and the end of its ETA day if it was
    not delivered (completed or a shipment left) by then."""
    out = []
    for at, before, after in facts.eta_moves:
        b, a = _parse(before), _parse(after)
        if b is not None and a is not None and a > b:
            out.append(at)
    eta = order.promised_date or order.required_date
    due = day_end(eta)
    shipped = [s for _n, s in facts.shipments if s is not None]
    delivered = min(shipped) if shipped else (order.stage_entered_at if order.status == Order.Status.COMPLETED else None)
    if (delivered is None and now > due) or (delivered is not None and delivered > due):
        out.append(due)
    return sorted(out)


def part_delay(order: Order, facts: _Facts, explain_hours: int, now: datetime) -> tuple[float | None, int, int]:
    """(share explained, delays, explained)."""
    late = delays(order, facts, now)
    if not late:
        return None, 0, 0
    cal = get_business_calendar()
    ok = 0
    for at in late:
        until = cal.add_business_hours(at, explain_hours)
        if any(at - LOOKBACK <= m <= until for m in facts.staff_messages):
            ok += 1
    return ok / len(late), len(late), ok


def combine(parts: dict[str, float | None], w: dict[str, int]) -> float | None:
    used = [(w[k], v) for k, v in parts.items() if v is not None and w[k] > 0]
    total = sum(wk for wk, _v in used)
    if not total:
        return None
    return round(100 * sum(wk * v for wk, v in used) / total, 1)


# --------------------------------------------------------------------------- bulk

def _load(orders: list[Order]) -> dict[int, _Facts]:
    # shipping sits beside portal in the layers (neither imports the other): its model by name
    Shipment = apps.get_model("shipping", "Shipment")  # noqa: N806
    ids = [o.pk for o in orders]
    facts: dict[int, _Facts] = defaultdict(_Facts)
    for oid, at in StageInstance.objects.filter(order_id__in=ids).values_list("order_id", "entered_at"):
        facts[oid].stage_entries.append(at)
    for oid, n, s in Shipment.objects.filter(order_id__in=ids).values_list("order_id", "notice_at", "shipped_at"):
        facts[oid].shipments.append((n, s))
    for oid, at in Message.objects.filter(order_id__in=ids, side=Message.Side.STAFF).values_list("order_id", "at"):
        facts[oid].staff_messages.append(at)
    for oid, at, ch in (AuditEvent.objects.filter(subject_type="order", subject_id__in=ids,
                                                  changes__has_key="promised_date")
                        .values_list("subject_id", "at", "changes")):
        before, after = (list(ch.get("promised_date") or []) + [None, None])[:2]
        facts[int(oid)].eta_moves.append((at, before, after))
    return facts


def scores(orders: list[Order], *, now: datetime | None = None, cfg: CoeiConfig | None = None) -> dict[int, dict[str, Any]]:
    """Each order's parts and COEI, by order id (cancelled orders are left out)."""
    now = now or clock.now()
    cfg = cfg or config()
    w = weights(cfg)
    orders = [o for o in orders if o.status != Order.Status.CANCELLED]
    if not orders:
        return {}
    facts = _load(orders)
    own = dict(CustomerSetting.objects.filter(customer_id__in={o.customer_id for o in orders}, update_hours__isnull=False)
               .values_list("customer_id", "update_hours"))
    out = {}
    for o in orders:
        f = facts[o.pk]
        hours = own.get(o.customer_id) or cfg.update_hours
        delay, n_delays, n_explained = part_delay(o, f, cfg.explain_hours, now)
        parts = {"notice": part_notice(f), "updates": part_updates(o, f, hours, now), "delay": delay}
        out[o.pk] = {"number": o.number, "coei": combine(parts, w),
                     **{k: None if v is None else round(v, 4) for k, v in parts.items()},
                     "update_hours": hours, "delays": n_delays, "delays_explained": n_explained}
    return out


def order_coei(order: Order, *, now: datetime | None = None) -> dict[str, Any]:
    """One order's COEI with its parts and the survey answer beside it."""
    got = scores([order], now=now).get(order.pk) or {
        "number": order.number, "coei": None, "notice": None, "updates": None, "delay": None,
        "update_hours": customer_hours(order.customer_id), "delays": 0, "delays_explained": 0}
    return {**got, "weights": weights(), "survey": survey_of(order.pk)}


def survey_of(order_id: int) -> dict[str, Any] | None:
    a = SurveyAnswer.objects.filter(order_id=order_id).first()
    return None if a is None else survey_dict(a)


def survey_dict(a: SurveyAnswer) -> dict[str, Any]:
    return {"stars": a.stars, "comment": a.comment, "via": a.via, "answered_at": a.answered_at,
            "updated_at": a.updated_at}


def summary(orders: QuerySet[Order], *, now: datetime | None = None, limit: int = 20000) -> dict[str, Any]:
    """The COEI of a set of orders (mean over the scored ones), each part's mean, and the survey
    answers of the set (count, mean stars). ``coei`` None: no order scored."""
    rows = list(orders.exclude(status=Order.Status.CANCELLED)
                .only("number", "customer_id", "status", "created_at", "stage_entered_at", "promised_date",
                      "required_date").order_by("-created_at")[:limit])
    got = scores(rows, now=now)
    scored = [s for s in got.values() if s["coei"] is not None]

    def mean(key: str) -> float | None:
        xs = [s[key] for s in got.values() if s[key] is not None]
        return round(sum(xs) / len(xs), 4) if xs else None

    stars = list(SurveyAnswer.objects.filter(order_id__in=[o.pk for o in rows]).values_list("stars", flat=True))
    return {"coei": round(sum(s["coei"] for s in scored) / len(scored), 1) if scored else None,
            "scored": len(scored), "notice": mean("notice"), "updates": mean("updates"), "delay": mean("delay"),
            "surveys": len(stars), "stars": round(sum(stars) / len(stars), 2) if stars else None}


def customer_coei(customer_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """A customer's COEI over its orders (the newest 20,000), with its update interval."""
    return {**summary(Order.objects.filter(customer_id=customer_id), now=now),
            "update_hours": customer_hours(customer_id), "weights": weights()}


def recent_surveys(customer_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """The customer's latest survey answers, with their order numbers."""
    rows = (SurveyAnswer.objects.filter(customer_id=customer_id).select_related("order")
            .order_by("-updated_at")[:limit])
    return [{**survey_dict(a), "order": a.order.number} for a in rows]

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

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any

from django.apps import apps
from django.db import DatabaseError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from orderhub.core import clock, fastsql, permissions
from orderhub.core.actors import Actor
from orderhub.core.audit import AuditEvent, append_event
from orderhub.core.calendar_config import calendar_fingerprint, get_business_calendar
from orderhub.core.errors import Problem, ValidationFailed
from orderhub.core.memory import collector_paused
from orderhub.orders.models import Order, StageInstance

from . import events
from .models import CoeiConfig, CoeiScore, CustomerSetting, Message, SurveyAnswer

log = logging.getLogger(__name__)

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


def basis(cfg: CoeiConfig) -> str:
    """What a stored score depends on among the settings: the weights, the explanation window
    and the business calendar it is counted in (a customer's own interval is compared row by
    row: ``CoeiScore.update_hours``)."""
    return (f"w{cfg.weight_notice}-{cfg.weight_updates}-{cfg.weight_delay}-e{cfg.explain_hours}"
            f"-c{calendar_fingerprint()}")


def _valid_until(order: Order, facts: _Facts, hours: int, now: datetime) -> datetime | None:
    """Until when the clock alone leaves the order's score as computed at ``now``: a completed
    order's never moves; an open order's moves when its life enters a new expected-update
    window (one more window to fill) and when its ETA day ends undelivered (a delay)."""
    if order.status == Order.Status.COMPLETED:
        return None
    step = hours * 3600
    windows = max(1, math.ceil((now - order.created_at).total_seconds() / step))
    until = order.created_at + timedelta(seconds=windows * step)
    if not any(s is not None for _n, s in facts.shipments):
        due = day_end(order.promised_date or order.required_date)
        if now <= due:
            until = min(until, due)
    return until


def _score(o: Order, f: _Facts, hours: int, cfg: CoeiConfig, w: dict[str, int], now: datetime) -> dict[str, Any]:
    delay, n_delays, n_explained = part_delay(o, f, cfg.explain_hours, now)
    parts = {"notice": part_notice(f), "updates": part_updates(o, f, hours, now), "delay": delay}
    return {"number": o.number, "coei": combine(parts, w),
            **{k: None if v is None else round(v, 4) for k, v in parts.items()},
            "update_hours": hours, "delays": n_delays, "delays_explained": n_explained}


def _scored(orders: list[Order], now: datetime, cfg: CoeiConfig
            ) -> tuple[dict[int, dict[str, Any]], dict[int, _Facts], dict[int, int]]:
    w = weights(cfg)
    facts = _load(orders)
    own = dict(CustomerSetting.objects.filter(customer_id__in={o.customer_id for o in orders}, update_hours__isnull=False)
               .values_list("customer_id", "update_hours"))
    hours = {o.pk: own.get(o.customer_id) or cfg.update_hours for o in orders}
    return {o.pk: _score(o, facts[o.pk], hours[o.pk], cfg, w, now) for o in orders}, facts, hours


def scores(orders: list[Order], *, now: datetime | None = None, cfg: CoeiConfig | None = None) -> dict[int, dict[str, Any]]:
    """Each order's parts and COEI, by order id (cancelled orders are left out)."""
    now = now or clock.now()
    cfg = cfg or config()
    orders = [o for o in orders if o.status != Order.Status.CANCELLED]
    if not orders:
        return {}
    return _scored(orders, now, cfg)[0]


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


_ROW_FIELDS = ("number", "customer_id", "status", "created_at", "stage_entered_at", "promised_date",
               "required_date", "audit_seq")


_PART_KEYS = ("coei", "notice", "updates", "delay")
MESSAGE_MARGIN = timedelta(minutes=5)   # a staff message this close before a score was computed makes it stale


def standing(cfg: CoeiConfig, now: datetime, orders: dict[int, tuple[int, int]]) -> dict[int, tuple[Any, ...]]:
    """Of ``orders`` ({id: (audit_seq, customer id)}), the kept scores that stand at ``now``
    (see :class:`~orderhub.portal.models.CoeiScore`): same settings and update interval, the
    order's audit chain where it was, not computed after ``now``, the clock not past their end,
    and no staff message on the order from :data:`MESSAGE_MARGIN` before they were computed (a
    message is not on the order's chain; the margin covers one posted while a score was being
    computed). {id: (coei, notice, updates, delay)}. The order's own columns come from the
    caller's read of the orders, so the kept rows are read by their key alone."""
    if not orders:
        return {}
    own = dict(CustomerSetting.objects.filter(customer_id__in={c for _s, c in orders.values()},
                                              update_hours__isnull=False).values_list("customer_id", "update_hours"))
    written = Message.objects.filter(order_id=OuterRef("order_id"), side=Message.Side.STAFF,
                                     at__gte=OuterRef("computed_at") - MESSAGE_MARGIN)
    rows = (CoeiScore.objects.filter(fastsql.among(CoeiScore, "order", list(orders)), basis=basis(cfg),
                                     computed_at__lte=now)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now)).filter(~Exists(written))
            .values_list("order_id", "audit_seq", "update_hours", *_PART_KEYS))
    out = {}
    for oid, seq, hours, *parts in rows:
        want_seq, customer = orders[oid]
        if seq == want_seq and hours == (own.get(customer) or cfg.update_hours):
            out[oid] = tuple(parts)
    return out


def _store(orders: list[Order], got: dict[int, dict[str, Any]], facts: dict[int, _Facts], hours: dict[int, int],
           basis_: str, now: datetime) -> None:
    """Keep the scores just computed (upsert), except an order with a fact later than ``now``
    (its score at ``now`` is not its score from now on)."""
    rows = []
    for o in sorted(orders, key=lambda o: o.pk):   # one lock order for concurrent readers' upserts
        f, s = facts[o.pk], got[o.pk]
        stamps = [*f.stage_entries, *f.staff_messages, *(t for pair in f.shipments for t in pair if t is not None),
                  *(at for at, _b, _a in f.eta_moves)]
        if any(t > now for t in stamps):
            continue
        rows.append(CoeiScore(order_id=o.pk, audit_seq=o.audit_seq, basis=basis_, computed_at=now,
                              valid_until=_valid_until(o, f, hours[o.pk], now), update_hours=s["update_hours"],
                              delays=s["delays"], delays_explained=s["delays_explained"],
                              **{k: s[k] for k in _PART_KEYS}))
    try:
        with transaction.atomic():
            CoeiScore.objects.bulk_create(rows, batch_size=2000, update_conflicts=True, unique_fields=["order"],
                                          update_fields=["audit_seq", "basis", "computed_at", "valid_until",
                                                         "update_hours", "delays", "delays_explained", *_PART_KEYS])
    except DatabaseError:   # a cache: the figures are right without it; the next reader tries again
        log.warning("COEI scores not kept", exc_info=True)


@collector_paused()   # up to 20,000 rows of plain tuples: no cycles for a full collection to find
def summary(orders: QuerySet[Order], *, now: datetime | None = None, limit: int = 20000,
            keep: bool | None = None) -> dict[str, Any]:
    """The COEI of a set of orders (its newest ``limit`` orders not cancelled): the mean over the
    scored ones, each part's mean, and the survey answers of the set (count, mean stars).
    ``coei`` None: no order scored.

    Scores that stand (:class:`~orderhub.portal.models.CoeiScore`) are read as kept (one
    indexed read for the set's ids); the rest are computed here and kept for the next reader
    (``keep``: by default when ``now`` is the present, i.e. not a look at the past). Same
    figures either way (``tests/portal/test_coei_store.py``)."""
    if keep is None:
        keep = now is None or now >= clock.now() - timedelta(seconds=5)
    now = now or clock.now()
    cfg = config()
    basis_ = basis(cfg)
    picked = {oid: (seq, customer) for oid, seq, customer in
              orders.exclude(status=Order.Status.CANCELLED).order_by("-created_at")
              .values_list("pk", "audit_seq", "customer_id")[:limit]}
    ids = list(picked)
    kept = standing(cfg, now, picked)
    columns = [list(c) for c in zip(*kept.values(), strict=True)] or [[] for _k in _PART_KEYS]
    rest = list(Order.objects.filter(pk__in=[i for i in ids if i not in kept]).only(*_ROW_FIELDS))
    if rest:
        got, facts, hours = _scored(rest, now, cfg)
        for i, k in enumerate(_PART_KEYS):
            columns[i].extend(sc[k] for sc in got.values())
        if keep:
            _store(rest, got, facts, hours, basis_, now)
    values = {k: [v for v in columns[i] if v is not None] for i, k in enumerate(_PART_KEYS)}

    def mean(key: str, digits: int) -> float | None:
        return round(sum(values[key]) / len(values[key]), digits) if values[key] else None

    stars = (SurveyAnswer.objects.filter(fastsql.among(SurveyAnswer, "order", ids))
             .aggregate(n=Count("pk"), s=Sum("stars")))
    return {"coei": mean("coei", 1), "scored": len(values["coei"]), "notice": mean("notice", 4),
            "updates": mean("updates", 4), "delay": mean("delay", 4),
            "surveys": stars["n"], "stars": round(stars["s"] / stars["n"], 2) if stars["n"] else None}


def refresh(*, now: datetime | None = None, chunk: int = 2000, seconds: float = 50.0,
            since: datetime | None = None) -> int:
    """Score the orders (created ``since``, else all) whose kept score no longer stands, newest
    first, in chunks, for at most about ``seconds`` (the periodic job ``portal.coei_refresh``):
    so the dashboards' first reader finds them kept. How many were scored."""
    started = monotonic()
    now = now or clock.now()
    cfg = config()
    basis_ = basis(cfg)
    done = 0
    # newest first, a page at a time, read from the period index alone (``order_created``
    # carries status, audit_seq and customer): only the orders whose score does not stand are
    # read in full (walking every order's row took about a minute a run at a million orders)
    todo = Order.objects.exclude(status=Order.Status.CANCELLED).order_by("-created_at", "-pk")
    if since is not None:
        todo = todo.filter(created_at__gte=since)
    after: tuple[datetime, int] | None = None   # keyset: newest first, each page below the last
    while monotonic() - started < seconds:
        # (the first condition bounds the index scan; the OR alone would be a filter on it)
        page = todo if after is None else todo.filter(Q(created_at__lte=after[0]),
                                                      Q(created_at__lt=after[0]) | Q(created_at=after[0], pk__lt=after[1]))
        rows = list(page.values_list("pk", "audit_seq", "customer_id", "created_at")[:chunk])
        if not rows:
            break
        after = (rows[-1][3], rows[-1][0])
        kept = standing(cfg, now, {pk: (seq, customer) for pk, seq, customer, _at in rows})
        stale_ids = [pk for pk, _seq, _customer, _at in rows if pk not in kept]
        if stale_ids:
            stale = list(Order.objects.filter(fastsql.among(Order, "id", stale_ids)).only(*_ROW_FIELDS))
            got, facts, hours = _scored(stale, now, cfg)
            _store(stale, got, facts, hours, basis_, now)
            done += len(stale)
        if len(rows) < chunk:
            break
    return done


def customer_coei(customer_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """A customer's COEI over its orders (the newest 20,000), with its update interval."""
    return {**summary(Order.objects.filter(customer_id=customer_id), now=now),
            "update_hours": customer_hours(customer_id), "weights": weights()}


def recent_surveys(customer_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """The customer's latest survey answers, with their order numbers."""
    rows = (SurveyAnswer.objects.filter(customer_id=customer_id).select_related("order")
            .order_by("-updated_at")[:limit])
    return [{**survey_dict(a), "order": a.order.number} for a in rows]

"""Reads for work lists and boards: a fixed number of queries whatever the row count.

Every function here is read-only and takes plain arguments, so the web pages, the API and
the benchmark call the same code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.inventory.models import Reservation
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled

from .models import BreakerTrip, Order, SafetyFlag, Urgency
from .selectors import OrderFilter, order_queryset, owned_stage_filter, visible

# How long before its deadline a stage counts as "due soon".
DUE_SOON = timedelta(hours=4)
# Orders changed within this window take part in the change stamp (see ``change_stamp``).
STAMP_WINDOW = timedelta(seconds=15)


def safety_flagged(qs: QuerySet[Order]) -> QuerySet[Order]:
    """``qs`` with ``safety_low``: a material it needs is below safety stock and it has not
    started since (``safety``); two EXISTS on indexes per row, in the same query. And
    ``breaker_paused``: a circuit breaker tripped for it and is not reset (``breakers``; one
    EXISTS on the partial index of active trips)."""
    holds = Reservation.objects.filter(order_id=OuterRef("pk"), status=Reservation.Status.ACTIVE)
    flag = Exists(SafetyFlag.objects.filter(order_id=OuterRef("pk")))
    paused = Exists(BreakerTrip.objects.filter(order_id=OuterRef("pk"), reset_at__isnull=True,
                                               applied_at__isnull=False))
    return qs.annotate(safety_low=ExpressionWrapper(Q(flag) & ~Q(Exists(holds)), output_field=BooleanField()),
                       breaker_paused=paused)


def deadline_state(order: Order, now: datetime) -> str:
    """on_track / due_soon / overdue / none, for the open stage of an order."""
    if order.status != Order.Status.OPEN or order.stage_due_at is None:
        return "none"
    if order.stage_due_at < now:
        return "overdue"
    if order.stage_due_at - now <= DUE_SOON:
        return "due_soon"
    return "on_track"


@dataclass
class WorkList:
    orders: list[Order]
    total: int
    overdue: int
    due_soon: int
    blocked: int
    on_hold: int
    now: Any = None


def my_work(actor: Actor, *, limit: int = 100) -> WorkList:
    """Open orders waiting on the actor's roles, of those they may see: due soonest (overdue
    first), with counts. 2 queries (+1 for the version list of roles that are not supervisors)."""
    now = clock.now()
    qs = visible(Order.objects.filter(status=Order.Status.OPEN), actor)
    owned = owned_stage_filter(actor.roles)
    if owned is not None:
        qs = qs.filter(owned)
    counts = qs.aggregate(
        total=Count("pk"),
        overdue=Count("pk", filter=Q(stage_due_at__lt=now)),
        due_soon=Count("pk", filter=Q(stage_due_at__gte=now, stage_due_at__lt=now + DUE_SOON)),
        blocked=Count("pk", filter=~Q(blocked_reasons=[])),
        on_hold=Count("pk", filter=Q(on_hold=True)),
    )
    rows = label_stages(safety_flagged(qs.select_related("customer", "workflow"))
                .order_by(F("stage_due_at").asc(nulls_last=True), "pk")[:limit])
    return WorkList(orders=rows, now=now, **counts)


@dataclass
class Column:
    code: str
    name: str
    owner_role: str
    color: str | None
    final: bool
    count: int = 0
    overdue: int = 0
    red: int = 0
    cards: list[Order] = field(default_factory=list)
    # set by ``board_index``: what each shown card is, in order, and a digest of the column
    keys: list[tuple] = field(default_factory=list)
    fingerprint: str = ""


# Cards a column shows at first, and the most a viewer may page up to ("more").
PER_COLUMN = 30
MAX_PER_COLUMN = 300

URGENCY_RANK = Case(When(urgency=Urgency.RED, then=Value(0)), When(urgency=Urgency.YELLOW, then=Value(1)),
                    default=Value(2), output_field=IntegerField())


def column_limit(red: int, per_column: int) -> int:
    """Cards a column shows: ``per_column``, or every red order if there are more of them
    (up to ``MAX_PER_COLUMN``), so a new urgent order is never hidden by the column limit."""
    return max(per_column, min(red, MAX_PER_COLUMN))


def _board_base(workflow_code: str, f: OrderFilter, *,
                actor: Actor) -> tuple[dict[str, Column], QuerySet[Order]] | None:
    """(the current definition's columns, the open orders of the board) or None."""
    definition = WorkflowDefinition.objects.filter(code=workflow_code, is_current=True).first()
    if definition is None:
        return None
    spec = compiled(definition.pk).spec
    base = order_queryset(replace(f, workflow=None, stage=None, status=None), actor=actor)
    base = base.filter(workflow__code=workflow_code, status=Order.Status.OPEN)
    columns = {s.code: Column(s.code, s.name, s.owner_role, s.color, s.final) for s in spec.stages}
    return columns, base


def _count(columns: dict[str, Column], base: QuerySet[Order], now: datetime) -> None:
    counts = (base.order_by().values_list("stage")
              .annotate(n=Count("pk"), late=Count("pk", filter=Q(stage_due_at__lt=now)),
                        red=Count("pk", filter=Q(urgency=Urgency.RED))))
    for stage, n, late, red in counts:
        if stage in columns:
            columns[stage].count, columns[stage].overdue, columns[stage].red = n, late, red


def _ordered(qs: QuerySet[Order]) -> QuerySet[Order]:
    return safety_flagged(qs).order_by(URGENCY_RANK, F("stage_due_at").asc(nulls_last=True), "pk")


def board(workflow_code: str, f: OrderFilter, *, actor: Actor, per_column: int = PER_COLUMN) -> list[Column]:
    """One column per stage of the current version of a workflow: counts (one query) and
    the first ``per_column`` cards, most urgent first: red before yellow before green, then
    the nearest deadline (one query per stage; the number of stages is fixed by the
    definition, not by the data). Every red order is shown even past ``per_column``
    (``column_limit``), so a red order is never hidden behind others, however late it arrived.

    Orders still running under older versions appear in the column of the stage with the
    same code."""
    found = _board_base(workflow_code, f, actor=actor)
    if found is None:
        return []
    columns, base = found
    _count(columns, base, clock.now())
    for col in columns.values():
        if col.count:
            col.cards = list(_ordered(base.filter(stage=col.code))[:column_limit(col.red, per_column)])
    return list(columns.values())


def board_index(workflow_code: str, f: OrderFilter, *, actor: Actor,
                per_column: int = PER_COLUMN) -> list[Column]:
    """The board without its cards' rows: per column the counts and, for each card it shows
    in order, a key ``(pk, version, customer_id, safety_low, overdue)``, and a fingerprint of
    all that. Two fingerprints are equal exactly when the column would render the same (up
    to the countdown text, which the page ticks itself), so a poll sends only the columns
    whose fingerprint the viewer does not hold. Same queries as ``board`` but values only:
    no model rows, no render."""
    found = _board_base(workflow_code, f, actor=actor)
    if found is None:
        return []
    columns, base = found
    now = clock.now()
    _count(columns, base, now)
    for col in columns.values():
        if col.count:
            ordered: QuerySet[Any] = _ordered(base.filter(stage=col.code))  # annotated: safety_low
            rows = (ordered.values_list("pk", "version", "customer_id", "safety_low", "stage_due_at")
                    [:column_limit(col.red, per_column)])
            col.keys = [(pk, v, c, bool(s), due is not None and due < now) for pk, v, c, s, due in rows]
        raw = repr((col.code, col.count, col.overdue, col.keys)).encode()
        col.fingerprint = hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:16]
    return list(columns.values())


# What a card shows (web/_board_card.html and four_colour): the rest of a row (the raw intake,
# remarks, addresses) is not read, nor decoded.
CARD_FIELDS = ("number", "urgency", "status", "stage", "stage_due_at", "on_hold", "hold_reason",
               "blocked_reasons", "tags", "version", "workflow_id", "customer__name")


def board_cards(pks: Iterable[int], *, actor: Actor) -> dict[int, Order]:
    """The rows of the given cards (one query), with what a card shows, by pk."""
    qs = visible(Order.objects.filter(pk__in=list(pks)).select_related("customer").only(*CARD_FIELDS), actor)
    return {o.pk: o for o in safety_flagged(qs)}


def four_colour(order: Order, column: Column, now: datetime) -> str:
    """T2's board colours: red when stuck past its deadline, otherwise the stage's colour."""
    if order.stage_due_at is not None and order.stage_due_at < now:
        return "red"
    return column.color or "green"


def change_stamp(workflow_code: str | None = None) -> str:
    """A short token that changes whenever an order (of a workflow) changes.

    The newest ``updated_at`` alone would miss a transaction that commits after a later one
    (its older timestamp hides behind the newer maximum), so the stamp also covers the
    (id, version) of every order changed in the last ``STAMP_WINDOW``: a late commit changes
    that set. Two statements: both walk the ``updated_at`` index from its newest end; the
    workflow is matched by its version ids (a subquery, not a join), so the walk stops at the
    first match.
    """
    qs: QuerySet[Order] = Order.objects.all()
    if workflow_code:
        versions = WorkflowDefinition.objects.filter(code=workflow_code).values("pk")
        qs = qs.filter(workflow_id__in=Subquery(versions))
    newest = qs.order_by("-updated_at").values_list("updated_at", flat=True).first()
    recent = []
    if newest is not None:  # a literal bound (not a subquery) keeps this an index range scan
        recent = list(qs.filter(updated_at__gte=newest - STAMP_WINDOW)
                      .order_by("pk").values_list("pk", "version"))
    latest = newest
    raw = f"{latest}|{recent}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def label_stages(orders: Iterable[Order]) -> list[Order]:
    """Give each order ``stage_label`` (the stage's name in its own workflow version) and
    ``stage_owner`` without queries: compiled versions are cached per process."""
    out = list(orders)
    for o in out:
        try:
            spec = compiled(o.workflow_id).stage(o.stage).spec
            o.stage_label, o.stage_owner = spec.name, spec.owner_role
        except KeyError:
            o.stage_label, o.stage_owner = o.stage, ""
    return out

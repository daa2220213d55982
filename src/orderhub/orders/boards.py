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
    cards: list[Order] = field(default_factory=list)


# Cards a column shows at first, and the most a viewer may page up to ("more").
PER_COLUMN = 30
MAX_PER_COLUMN = 300

URGENCY_RANK = Case(When(urgency=Urgency.RED, then=Value(0)), When(urgency=Urgency.YELLOW, then=Value(1)),
                    default=Value(2), output_field=IntegerField())


def board(workflow_code: str, f: OrderFilter, *, actor: Actor, per_column: int = PER_COLUMN) -> list[Column]:
    """One column per stage of the current version of a workflow: counts (one query) and
    the first ``per_column`` cards, most urgent first: red before yellow before green, then
    the nearest deadline (one query per stage; the number of stages is fixed by the
    definition, not by the data). A red order is therefore never hidden behind thirty calmer
    ones, however late it arrived.

    Orders still running under older versions appear in the column of the stage with the
    same code."""
    definition = WorkflowDefinition.objects.filter(code=workflow_code, is_current=True).first()
    if definition is None:
        return []
    spec = compiled(definition.pk).spec
    now = clock.now()
    base = order_queryset(replace(f, workflow=None, stage=None, status=None), actor=actor)
    base = base.filter(workflow__code=workflow_code, status=Order.Status.OPEN)
    columns = {s.code: Column(s.code, s.name, s.owner_role, s.color, s.final) for s in spec.stages}
    counts = (base.order_by().values_list("stage")
              .annotate(n=Count("pk"), late=Count("pk", filter=Q(stage_due_at__lt=now))))
    for stage, n, late in counts:
        if stage in columns:
            columns[stage].count, columns[stage].overdue = n, late
    for col in columns.values():
        if col.count:
            col.cards = list(safety_flagged(base.filter(stage=col.code))
                             .order_by(URGENCY_RANK, F("stage_due_at").asc(nulls_last=True), "pk")
                             [:per_column])
    return list(columns.values())


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
    that set. Both parts walk the ``updated_at`` index from its newest end; the workflow is
    matched by its version ids, not by a join, so the walk stops at the first match.
    """
    qs: QuerySet[Order] = Order.objects.all()
    if workflow_code:
        ids = list(WorkflowDefinition.objects.filter(code=workflow_code).values_list("pk", flat=True))
        qs = qs.filter(workflow_id__in=ids)
    newest = qs.order_by("-updated_at").values_list("updated_at", flat=True).first()
    recent = []
    if newest is not None:
        recent = list(qs.filter(updated_at__gte=newest - STAMP_WINDOW)
                      .order_by("pk").values_list("pk", "version"))
    raw = f"{newest}|{recent}".encode()
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

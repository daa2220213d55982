"""Order reads, each a fixed number of queries whatever the row count."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet, Sum, TextField
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from orderhub.core import clock, permissions
from orderhub.core.actors import SUPERVISOR_ROLES, Actor
from orderhub.core.audit import seal_matches
from orderhub.core.audit_chains import Finding, VerifyContext, describe
from orderhub.core.audit_verify import verify
from orderhub.core.canonical import sha256_hex
from orderhub.core.errors import NotFound
from orderhub.core.models import AuditEvent
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled

from .editing import edit_refusal
from .models import Order, OrderLine, Snapshot, StageInstance, Ticket, snapshot_sealed_text


@dataclass(frozen=True)
class OrderFilter:
    stage: str | None = None
    workflow: str | None = None
    urgency: str | None = None
    customer: str | None = None
    status: str | None = None
    overdue: bool | None = None
    on_hold: bool | None = None
    tag: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    required_from: date | None = None
    required_to: date | None = None
    owner_role: str | None = None
    owner: str | None = None
    search: str | None = None
    channel: str | None = None
    product: str | None = None      # orders with a line of this SKU
    ticket: str | None = None       # orders with a ticket of this kind (the KPI drill-downs)


def owned_stage_filter(roles: frozenset[str]) -> Q | None:
    """Q matching open orders whose current stage is owned by one of ``roles``.

    Stage ownership lives in the workflow version each order runs under, so the pairs
    (version, stage) are collected from every version that still has stages (few rows).
    Supervisors own every stage: None means "no restriction".
    """
    if roles & SUPERVISOR_ROLES:
        return None
    q = Q(pk__in=[])
    for wf_id in WorkflowDefinition.objects.values_list("pk", flat=True):
        stages = [s.code for s in compiled(wf_id).spec.stages if s.owner_role in roles]
        if stages:
            q |= Q(workflow_id=wf_id, stage__in=stages)
    return q


def scope_q(actor: Actor, *, via: str = "") -> Q | None:
    """Q matching the orders ``actor`` may see (``via``: the path from the queried model to the
    order, e.g. ``"order__"``); None when they see every order. Own customers' orders are those
    of customers whose sales owner is the user, and orders the user owns."""
    scope = permissions.order_scope(actor)
    if scope == permissions.OrderScope.ALL:
        return None
    if scope == permissions.NO_ORDERS or actor.user is None:
        return Q(pk__in=[])
    uid = actor.user.pk
    return Q(**{f"{via}customer__sales_owner_id": uid}) | Q(**{f"{via}owner_id": uid})


def visible(qs: QuerySet, actor: Actor, *, via: str = "") -> QuerySet:
    """The one place object scope is applied: ``qs`` narrowed to what ``actor`` may see. Every
    read of orders (list, search, export, board, my work, detail, history, snapshots) and of
    what hangs off an order (tickets, rule firings, intake messages and drafts) goes through it."""
    q = scope_q(actor, via=via)
    return qs if q is None else qs.filter(q)


def check_visible(number: str, actor: Actor) -> None:
    """Refuse (404, as for an order that does not exist) a change to an order ``actor`` may not
    see. No query for actors who see every order: the service finds a missing order itself."""
    if permissions.order_scope(actor) == permissions.OrderScope.ALL:
        return
    if not visible(Order.objects.filter(number=number), actor).exists():
        raise _not_found(number)


def visible_numbers(numbers: list[str], actor: Actor) -> set[str]:
    """Those of ``numbers`` naming orders ``actor`` may see (a batch change refuses the others as
    not found, as :func:`check_visible` does one). One query at most."""
    if permissions.order_scope(actor) == permissions.OrderScope.ALL:
        return set(numbers)
    return set(visible(Order.objects.filter(number__in=set(numbers)), actor).values_list("number", flat=True))


# OrderFilter fields that select orders by equality: field → lookup
_EQUAL_FILTERS = {"stage": "stage", "workflow": "workflow__code", "urgency": "urgency",
                  "customer": "customer__code", "owner": "owner__username", "status": "status",
                  "on_hold": "on_hold", "channel": "channel"}


def order_queryset(f: OrderFilter, *, actor: Actor) -> QuerySet[Order]:
    qs = visible(Order.objects.select_related("customer", "workflow", "owner"), actor)
    qs = qs.filter(**{column: getattr(f, name) for name, column in _EQUAL_FILTERS.items()
                      if getattr(f, name) not in (None, "")})
    if f.owner_role:
        owned = owned_stage_filter(frozenset({f.owner_role}))
        if owned is not None:
            qs = qs.filter(owned, status=Order.Status.OPEN)
    if f.product:
        qs = qs.filter(pk__in=OrderLine.objects.filter(product__sku=f.product).values("order_id"))
    if f.ticket:
        qs = qs.filter(pk__in=Ticket.objects.filter(kind=f.ticket).values("order_id"))
    if f.search:
        term = f.search.strip()
        qs = qs.filter(Q(number__startswith=term.upper()) | Q(external_ref=term)
                       | Q(customer__code=term.upper()) | Q(customer__name__contains=term))
    if f.overdue is True:
        qs = qs.filter(status=Order.Status.OPEN, stage_due_at__lt=clock.now())
    elif f.overdue is False:
        qs = qs.exclude(status=Order.Status.OPEN, stage_due_at__lt=clock.now())
    if f.tag:
        if connection.vendor == "postgresql":
            qs = qs.filter(tags__contains=[f.tag])
        else:  # SQLite keeps JSON as text: match the encoded element
            qs = qs.annotate(tags_text=Cast("tags", output_field=TextField())).filter(
                tags_text__contains=json.dumps(f.tag))
    if f.created_from:
        qs = qs.filter(created_at__date__gte=f.created_from)
    if f.created_to:
        qs = qs.filter(created_at__date__lte=f.created_to)
    if f.required_from:
        qs = qs.filter(required_date__gte=f.required_from)
    if f.required_to:
        qs = qs.filter(required_date__lte=f.required_to)
    return qs


class DeferredJoinList:
    """A sliceable view of an ordered order queryset for Paginator, cheap at deep pages.

    ``qs[offset:offset+n]`` with joins makes PostgreSQL join every skipped row; here the page's
    ids come first (from the ordering index alone), then the page's rows with their joins."""

    #: counting stops here: beyond it lists say "10,000+" and people narrow the filter (an
    #: exact count of a million rows costs more than the page itself)
    COUNT_CAP = 10_000

    def __init__(self, qs: QuerySet[Order], *, exact: bool = False):
        self.qs = qs
        self.exact = exact
        self.capped = False

    def count(self) -> int:
        if self.exact:
            return self.qs.order_by().count()
        cap = self.COUNT_CAP
        n = self.qs.order_by()[: cap + 1].count()   # COUNT(*) over a LIMITed subquery
        self.capped = n > cap
        return min(n, cap)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item):
        if not isinstance(item, slice):
            raise TypeError("DeferredJoinList supports slices only")
        ids = list(self.qs.values_list("pk", flat=True)[item])
        rows = {o.pk: o for o in self.qs.model.objects.select_related("customer", "workflow", "owner")
                .filter(pk__in=ids)}
        return [rows[i] for i in ids if i in rows]


def _not_found(number: str) -> NotFound:
    return NotFound("order_not_found", _("Order %(number)s does not exist.") % {"number": number})


def get_order(number: str, *, actor: Actor) -> Order:
    """The order, if ``actor`` may see it; one they may not see does not exist for them (404)."""
    order = visible(Order.objects.select_related("customer", "workflow", "owner"), actor) \
        .filter(number=number).first()
    if order is None:
        raise _not_found(number)
    return order


Q4, Q2 = Decimal("0.0001"), Decimal("0.01")


def _local(value):
    """Times leave the hub in the business time zone, however they were obtained."""
    return timezone.localtime(value) if value is not None else None


def order_dict(order: Order, *, lines: list[OrderLine] | None = None,
               stages: list[StageInstance] | None = None) -> dict[str, Any]:
    wf = compiled(order.workflow_id)
    stage = wf.stage(order.stage)
    now = clock.now()
    out: dict[str, Any] = {
        "number": order.number,
        "channel": order.channel,
        "external_ref": order.external_ref,
        "customer": order.customer.code,
        "customer_name": order.customer.name,
        "workflow": order.workflow.code,
        "workflow_version": order.workflow.version,
        "stage": order.stage,
        "stage_name": stage.spec.name,
        "stage_owner_role": stage.spec.owner_role,
        "stage_entered_at": _local(order.stage_entered_at),
        "stage_due_at": _local(order.stage_due_at),
        "overdue": bool(order.status == Order.Status.OPEN and order.stage_due_at and order.stage_due_at < now),
        "status": order.status,
        "on_hold": order.on_hold,
        "hold_reason": order.hold_reason,
        "required_date": order.required_date,
        "promised_date": order.promised_date,
        "urgency": order.urgency,
        "currency": order.currency,
        "total_amount": order.total_amount.quantize(Q2),
        "remarks": order.remarks,
        "tags": order.tags,
        "ship_to_contact": order.ship_to_contact,
        "ship_to_phone": order.ship_to_phone,
        "ship_to_address": order.ship_to_address,
        "edit_refusal": edit_refusal(order, wf),
        "owner": order.owner.get_username() if order.owner is not None else None,
        "version": order.version,
        "forced": order.forced,
        "blocked_reasons": order.blocked_reasons,
        "next_stages": list(stage.spec.next) if order.status == Order.Status.OPEN else [],
        "created_at": _local(order.created_at),
        "updated_at": _local(order.updated_at),
    }
    if lines is not None:
        out["lines"] = [
            {"line_no": ln.line_no, "sku": ln.product.sku, "name": ln.product.name,
             "qty": ln.qty.quantize(Q4), "unit": ln.unit, "base_qty": ln.base_qty.quantize(Q4),
             "base_unit": ln.product.unit, "unit_price": ln.unit_price.quantize(Q4),
             "amount": ln.amount.quantize(Q2), "remarks": ln.remarks}
            for ln in lines
        ]
    if stages is not None:
        visits: dict[str, StageInstance] = {}
        for visit in stages:
            visits[visit.stage] = visit  # the latest stay in each stage
        out["stages"] = []
        for code, st in wf.stages.items():
            inst = visits.get(code)
            out["stages"].append({
                "code": code, "name": st.spec.name, "owner_role": st.spec.owner_role,
                "entered_at": _local(inst.entered_at) if inst else None,
                "due_at": _local(inst.due_at) if inst else None,
                "exited_at": _local(inst.exited_at) if inst else None,
                "forced": inst.forced if inst else False,
            })
    return out


def order_detail(number: str, *, actor: Actor) -> dict[str, Any]:
    order = get_order(number, actor=actor)
    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("line_no"))
    stages = list(StageInstance.objects.filter(order=order).order_by("entered_at", "pk"))
    return order_dict(order, lines=lines, stages=stages)


def order_events(order: Order, *, actor: Actor) -> list[dict[str, Any]]:
    """The order's history; the IP address and browser of each change only for those who may
    see them (``permissions.may_see_forensics``)."""
    forensics = permissions.may_see_forensics(actor)
    return [
        {"seq": e.seq, "at": _local(e.at), "action": e.action, "actor_kind": e.actor_kind,
         "actor": e.actor_label, "ip": e.ip if forensics else None,
         "user_agent": e.user_agent if forensics else "", "request_id": e.request_id,
         "changes": e.changes, "data": e.data, "reason": e.reason, "forced": e.forced,
         "prev_hash": e.prev_hash, "hash": e.hash}
        for e in AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("seq")
    ]


def order_snapshots(order: Order) -> list[dict[str, Any]]:
    return [
        {"version": s.version, "stage": s.stage, "taken_at": _local(s.taken_at), "sha256": s.sha256,
         "content": json.loads(s.content)}
        for s in Snapshot.objects.filter(order=order).order_by("version")
    ]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def snapshot_diff(order: Order, a: int, b: int) -> list[dict[str, Any]]:
    """Field-level differences between two snapshots (versions ``a`` and ``b``) of an order."""
    snaps = {s.version: s for s in Snapshot.objects.filter(order=order, version__in=[a, b])}
    missing = [v for v in (a, b) if v not in snaps]
    if missing:
        raise NotFound("snapshot_not_found", _("Snapshot version %(v)s does not exist.") % {"v": missing[0]})
    left, right = (_flatten(json.loads(snaps[v].content)) for v in (a, b))
    return [{"field": k, "a": left.get(k), "b": right.get(k)}
            for k in sorted(set(left) | set(right)) if left.get(k) != right.get(k)]


def order_audit_heads() -> Iterator[tuple[int, int, str, str]]:
    """Every order's chain head as its row records it, with its number, by id: what the audit
    verifier and the checkpoint job read (registered in ``OrdersConfig.ready``)."""
    return (Order.objects.order_by("pk").values_list("pk", "audit_seq", "audit_head", "number")
            .iterator(chunk_size=5000))


def snapshot_audit_findings(ctx: VerifyContext) -> Iterator[Finding]:
    """Snapshots whose content no longer matches its SHA-256 or its MAC, named by order number
    (a check the audit verifier runs inside its snapshot)."""
    boundary = ctx.boundaries.get(Snapshot._meta.db_table, 0)
    rows = (Snapshot.objects.order_by("pk")
            .values_list("pk", "order_id", "order__number", "version", "content", "sha256", "key_id", "mac")
            .iterator(chunk_size=2000))
    for pk, order_id, number, version, content, digest, key_id, mac in rows:
        params = {"version": version, "key_id": key_id}
        if sha256_hex(content) != digest:
            kind, message = "snapshot_edited", _("snapshot of version %(version)s: content does not match "
                                                 "its SHA-256 (edited)")
        elif key_id:
            sealed = seal_matches(snapshot_sealed_text(order_id, version, content), key_id, mac, ctx.keys)
            if sealed:
                continue
            kind, message = (("snapshot_unknown_key", _("snapshot of version %(version)s: sealed with key "
                                                        "%(key_id)s, which is not configured"))
                             if sealed is None else
                             ("snapshot_edited", _("snapshot of version %(version)s: content does not match "
                                                   "its MAC (edited, and its SHA-256 recomputed)")))
        elif not 0 < pk <= boundary:
            kind, message = "snapshot_unsealed", _("snapshot of version %(version)s: no MAC, although made "
                                                   "after snapshots were sealed (forged)")
        else:
            continue
        yield Finding(kind=kind, label=describe("order", order_id, number), message=message % params,
                      subject_type="order", subject_id=order_id)


def verify_order_audit(*, include_other_subjects: bool = True) -> tuple[int, list[Finding], list[Finding]]:
    """(events checked, chain findings, snapshot findings): ``orderhub audit verify``'s report
    (``core.audit_verify``) split in two."""
    report = verify(subject_types=None if include_other_subjects else {"order"})
    snaps = [f for f in report.findings if f.kind.startswith("snapshot")]
    return report.events, [f for f in report.findings if not f.kind.startswith("snapshot")], snaps


__all__ = ["OrderFilter", "scope_q", "visible", "check_visible", "order_queryset", "order_dict", "order_detail",
           "order_events", "order_snapshots", "get_order", "DeferredJoinList", "snapshot_diff", "owned_stage_filter",
           "verify_order_audit", "order_audit_heads", "snapshot_audit_findings"]


def open_order_ids(numbers: Iterable[str]) -> dict[str, int]:
    """{number: id} of the open orders among ``numbers`` (what a purchase order may serve)."""
    return dict(Order.objects.filter(number__in=set(numbers), status=Order.Status.OPEN)
                .values_list("number", "pk"))


def daily_demand(start: date, end: date) -> dict[int, dict[date, Decimal]]:
    """{product id: {day: base quantity}} ordered directly on each day of [start, end] (local
    days, orders not cancelled): what purchasing's replenishment rule reads (``purchasing.links``)."""
    tz = timezone.get_current_timezone()
    lo = datetime.combine(start, time.min, tzinfo=tz)
    hi = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    rows = (OrderLine.objects.filter(order__created_at__gte=lo, order__created_at__lt=hi)
            .exclude(order__status=Order.Status.CANCELLED)
            .annotate(day=TruncDate("order__created_at", tzinfo=tz)).values("product_id", "day")
            .annotate(q=Sum("base_qty")).values_list("product_id", "day", "q"))
    out: dict[int, dict[date, Decimal]] = {}
    for pid, day, q in rows:
        out.setdefault(pid, {})[day] = q
    return out

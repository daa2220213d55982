"""The overdue sweep: marks open stage instances whose deadline has passed, in set-based SQL.

One statement per batch finds the next rows on the partial index ``stage_sweep_due`` (open,
unmarked, with a deadline: the index holds only work not yet marked, so its size follows the
backlog, not the history), claims them with ``FOR UPDATE SKIP LOCKED`` (several sweepers never
mark a row twice nor wait on each other) and sets ``overdue_at``, reaching the rows by primary
key (``id = ANY(ARRAY(…))``; a join with the claiming CTE made the planner hash the whole table). Each batch, in the same
transaction, tells the stage owner roles (red, one outbox INSERT for the batch) and hands the
rows to the rules engine's ``overdue`` trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.orders.models import Order, StageInstance

BATCH = 5000

_PG_SQL = """
UPDATE orders_stageinstance SET overdue_at = %s
WHERE id = ANY(ARRAY(
    SELECT id FROM orders_stageinstance
    WHERE exited_at IS NULL AND overdue_at IS NULL AND due_at IS NOT NULL AND due_at <= %s
    ORDER BY due_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED))
RETURNING id, order_id, stage, owner_role, due_at
"""


@dataclass(frozen=True)
class OverdueRow:
    stage_instance_id: int
    order_id: int
    stage: str
    owner_role: str
    due_at: datetime


@dataclass
class SweepResult:
    marked: int = 0
    batches: int = 0
    notified: int = 0


def _mark_batch(now: datetime, limit: int) -> list[OverdueRow]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(_PG_SQL, [now, now, limit])
            return [OverdueRow(*r) for r in cur.fetchall()]
    # SQLite (embedded demo, one writer): the same in two statements inside the transaction
    rows = list(StageInstance.objects.filter(exited_at__isnull=True, overdue_at__isnull=True,
                                             due_at__isnull=False, due_at__lte=now)
                .order_by("due_at").values_list("id", "order_id", "stage", "owner_role", "due_at")[:limit])
    if rows:
        StageInstance.objects.filter(pk__in=[r[0] for r in rows]).update(overdue_at=now)
    return [OverdueRow(*r) for r in rows]


def sweep_overdue(*, batch: int = BATCH, notify: bool = True, rules: bool = True) -> SweepResult:
    """Mark everything overdue now; each batch commits with its notifications and rule firings.
    Running it again marks nothing new (idempotent)."""
    result = SweepResult()
    now = clock.now()
    while True:
        with transaction.atomic():
            rows = _mark_batch(now, batch)
            if not rows:
                break
            result.marked += len(rows)
            result.batches += 1
            if notify or rules:
                orders = Order.objects.select_related("customer", "workflow").in_bulk(
                    {r.order_id for r in rows})
                if notify:
                    result.notified += _notify(rows, orders)
                if rules:
                    from .engine import rules_on_overdue

                    rules_on_overdue(rows, orders, now=now)
        if len(rows) < batch:
            break
    return result


def _notify(rows: list[OverdueRow], orders: dict[int, Order]) -> int:
    from orderhub.workflow.services import compiled

    from .notifying import send_many

    requests = []
    for r in rows:
        order = orders.get(r.order_id)
        if order is None:
            continue
        stage = compiled(order.workflow_id).stages.get(r.stage)
        stage_name = stage.spec.name if stage else r.stage
        requests.append({
            "event": "stage.overdue", "roles": [r.owner_role], "order": order, "severity": "red",
            "dedupe_key": f"overdue:{r.stage_instance_id}",
            "context": {"number": order.number, "customer": order.customer.name, "stage": r.stage,
                        "stage_name": stage_name, "due_at": r.due_at.isoformat(),
                        "title": f"{order.number} {stage_name}",
                        "message": _("Order %(number)s is overdue in %(stage)s (due %(due)s).") % {
                            "number": order.number, "stage": stage_name,
                            "due": localtime(r.due_at).strftime("%Y-%m-%d %H:%M")}},
        })
    return send_many(requests) if requests else 0

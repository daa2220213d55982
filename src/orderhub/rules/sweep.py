"""The overdue sweep: marks open stage instances whose deadline has passed, batch by batch, and
tells people and rules about them.

Each batch is one transaction: ``orders.services.stage_instances_mark_overdue`` claims and marks
the next rows (set-based: one statement on PostgreSQL over the partial index of unmarked open
stages, ``FOR UPDATE SKIP LOCKED`` so several sweepers never mark a row twice nor wait on each
other), then the stage owner roles are told (red ``stage.overdue``, one outbox INSERT for the
batch) and the rows are handed to the rules engine's ``overdue`` trigger.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.orders.events import STAGE_OVERDUE
from orderhub.orders.models import Order
from orderhub.orders.services.overdue import OverdueStage, stage_instances_mark_overdue
from orderhub.workflow.services import compiled

from .engine import rules_on_overdue
from .notifying import send_many

BATCH = 5000


@dataclass
class SweepResult:
    marked: int = 0
    batches: int = 0
    notified: int = 0


def sweep_overdue(*, batch: int = BATCH, notify: bool = True, rules: bool = True) -> SweepResult:
    """Mark everything overdue now; each batch commits with its notifications and rule firings.
    Running it again marks nothing new (idempotent)."""
    result = SweepResult()
    now = clock.now()
    while True:
        with transaction.atomic():
            rows = stage_instances_mark_overdue(now=now, limit=batch)
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
                    rules_on_overdue(rows, orders, now=now)
        if len(rows) < batch:
            break
    return result


def _notify(rows: list[OverdueStage], orders: dict[int, Order]) -> int:
    requests = []
    for r in rows:
        order = orders.get(r.order_id)
        if order is None:
            continue
        stage = compiled(order.workflow_id).stages.get(r.stage)
        stage_name = stage.spec.name if stage else r.stage
        requests.append({
            "event": STAGE_OVERDUE, "roles": [r.owner_role], "order": order, "severity": "red",
            "dedupe_key": f"overdue:{r.stage_instance_id}",
            "context": {"number": order.number, "customer": order.customer.name, "stage": r.stage,
                        "stage_name": stage_name, "due_at": r.due_at,
                        "title": f"{order.number} {stage_name}",
                        "message": _("Order %(number)s is overdue in %(stage)s (due %(due)s).") % {
                            "number": order.number, "stage": stage_name,
                            "due": localtime(r.due_at).strftime("%Y-%m-%d %H:%M")}},
        })
    return send_many(requests) if requests else 0

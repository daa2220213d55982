"""Stage instances written outside an order change: the overdue mark set by the sweep.

``stage_instances_mark_overdue`` has two twins, side by side: one set-based statement on
PostgreSQL (the fast path) and the ORM's two statements elsewhere (and on PostgreSQL when the
fast path is switched off). Both claim the rows with ``FOR UPDATE SKIP LOCKED`` where the
database can (several sweepers never mark a row twice nor wait on each other), take the
earliest deadlines first, and return the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection

from orderhub.core import fastsql
from orderhub.core.locking import lock_own_rows

from ..models import StageInstance


@dataclass(frozen=True)
class OverdueStage:
    """A stage instance just marked overdue: what the sweep tells people and rules about."""

    stage_instance_id: int
    order_id: int
    stage: str
    owner_role: str
    due_at: datetime


_RETURNED = ("id", "order_id", "stage", "owner_role", "due_at")


def stage_instances_mark_overdue(*, now: datetime, limit: int) -> list[OverdueStage]:
    """Set ``overdue_at = now`` on up to ``limit`` open stage instances whose deadline has
    passed and that are not marked yet (earliest deadline first) and return them. Call it inside
    the transaction that also handles what the marks cause (the sweep's batch); a second call
    marks nothing already marked.

    The rows come from the partial index ``stage_sweep_due`` (open, unmarked, with a deadline),
    so the cost follows the backlog, not the history; marked rows leave the index."""
    if fastsql.available():
        return _mark_sql(now, limit)
    return _mark_orm(now, limit)


@cache
def _sql() -> str:
    meta = StageInstance._meta
    q = connection.ops.quote_name

    def col(name: str) -> str:
        return q(fastsql.column_of(meta.get_field(name)))

    pk = q(fastsql.column_of(meta.pk))
    # reached by primary key (id = ANY(ARRAY(...))): a join with a claiming CTE made the
    # planner hash the whole table
    return (
        f"UPDATE {q(meta.db_table)} SET {col('overdue_at')} = %s "
        f"WHERE {pk} = ANY(ARRAY("
        f"SELECT {pk} FROM {q(meta.db_table)} "
        f"WHERE {col('exited_at')} IS NULL AND {col('overdue_at')} IS NULL "
        f"AND {col('due_at')} IS NOT NULL AND {col('due_at')} <= %s "
        f"ORDER BY {col('due_at')} LIMIT %s FOR UPDATE SKIP LOCKED)) "
        f"RETURNING {', '.join(col(n) for n in _RETURNED)}"
    )


def _mark_sql(now: datetime, limit: int) -> list[OverdueStage]:
    """The fast twin: one statement claims, marks and returns the rows."""
    with connection.cursor() as cur:
        cur.execute(_sql(), [now, now, limit])
        return [OverdueStage(*row) for row in cur.fetchall()]


def _mark_orm(now: datetime, limit: int) -> list[OverdueStage]:
    """The ORM twin: claim (SKIP LOCKED where the database has it), then mark by primary key."""
    rows = list(lock_own_rows(StageInstance.objects.filter(
        exited_at__isnull=True, overdue_at__isnull=True, due_at__isnull=False, due_at__lte=now),
        skip_locked=True).order_by("due_at").values_list(*_RETURNED)[:limit])
    if rows:
        StageInstance.objects.filter(pk__in=[r[0] for r in rows]).update(overdue_at=now)
    return [OverdueStage(*row) for row in rows]

"""Writing orders' rows: every write of the order services goes through here.

Each function has two twins, chosen by ``core.fastsql.available()`` (PostgreSQL and
``ORDERHUB_SQL_PATH=fast``): the plain ORM, and one prepared statement of data-modifying CTEs
taking every row as one jsonb parameter (``core.fastsql``). New orders written ``COPY_FROM`` or
more at once (an import's chunk) take a third form of the fast twin: one ``COPY … FROM STDIN``
per table. The rows are built before any twin runs (ids from hi/lo blocks, hashes, snapshots),
so all write the same rows; the parity suite (``tests/orders/test_parity.py``) runs the order
services on each and compares them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import cache, partial
from operator import itemgetter
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorDebugWrapper
from django.db.models import JSONField, Model
from psycopg import pq

from orderhub.core import fastsql
from orderhub.core.models import AuditEvent
from orderhub.core.numbering import preallocated_id, preallocated_ids, reserve, serial_sequence

from .models import Order, OrderLine, Snapshot, StageInstance

# the models whose ids a new order's rows take from hi/lo blocks before the INSERT (their
# sequences advance by numbering.BLOCK: migrations orders 0003 and 0011, core 0003)
ID_MODELS = (Order, OrderLine, StageInstance, AuditEvent)
ID_TABLES = tuple(m._meta.db_table for m in ID_MODELS)


def new_order_id() -> int | None:
    """The id of a new order, known before its INSERT (PostgreSQL, either twin), else None."""
    return preallocated_id(Order._meta.db_table)


def reserve_ids(orders: int, lines: int) -> None:
    """Hold enough ids for ``orders`` new orders with ``lines`` lines in all (one round trip at
    most), so a batch hands them out without a query mid-way."""
    for table, n in zip(ID_TABLES, (orders, lines, orders, orders), strict=True):
        if (name := serial_sequence(table)) is not None:
            reserve(name, n)


def _give_ids(lines: list[OrderLine], stages: list[StageInstance], events: list[AuditEvent]) -> None:
    """Ids from hi/lo blocks for the rows of new orders (where the database has sequences): a
    1,000-line order takes its 20 blocks of line ids in one round trip."""
    rows: tuple[list[Any], ...] = (lines, stages, events)
    for table, objs in zip(ID_TABLES[1:], rows, strict=True):
        missing = [o for o in objs if o.pk is None]
        ids = preallocated_ids(table, len(missing))
        if ids is None:
            return
        for o, pk in zip(missing, ids, strict=True):
            o.pk = pk


def _saved(objs: Iterable[Model]) -> None:
    """Mark instances as loaded from the database, as Model.save() would."""
    alias = connection.alias
    for o in objs:
        o._state.adding = False
        o._state.db = alias


# --------------------------------------------------------------------------- new orders


def insert_new_orders(orders: list[Order], lines: list[OrderLine], stages: list[StageInstance],
                      events: list[AuditEvent], snaps: list[Snapshot]) -> None:
    """Write new orders (their pks allocated already) with their lines, first stage instances,
    created events and snapshots."""
    send_new_orders(orders, lines, stages, events, snaps)()


# new orders written at once from which the fast twin copies them (COPY, one per table) rather
# than sending one jsonb statement: the server spends 40–55 % less time on those rows (no jsonb
# to parse and take apart), but COPY cannot be pipelined and costs five round trips, so small
# writes (a single order, a web batch) keep the one statement. An import's chunk (500) copies.
COPY_FROM = 100


def copies(n: int) -> bool:
    """Whether :func:`send_new_orders` writes ``n`` new orders by COPY (which a caller may not
    send inside ``fastsql.pipeline()``: COPY cannot run in pipeline mode)."""
    return n >= COPY_FROM and fastsql.available()


def send_new_orders(orders: list[Order], lines: list[OrderLine], stages: list[StageInstance],
                    events: list[AuditEvent], snaps: list[Snapshot]) -> Callable[[], None]:
    """:func:`insert_new_orders` in two steps: send now, and return the function that waits for
    the write. Fast twin: one prepared statement whatever the number of orders and lines; inside
    ``fastsql.pipeline()`` the server writes it while the caller goes on (every row has its id
    already). From ``COPY_FROM`` orders (:func:`copies`) the fast twin writes the same rows with
    one COPY per table instead, done when this returns. ORM twin: one ``bulk_create`` per table,
    done when this returns."""
    _give_ids(lines, stages, events)
    if not fastsql.available():
        Order.objects.bulk_create(orders)
        OrderLine.objects.bulk_create(lines)
        StageInstance.objects.bulk_create(stages)
        AuditEvent.objects.bulk_create(events)
        Snapshot.objects.bulk_create(snaps)
        return _done
    if copies(len(orders)) and not _pipelined():
        _copy_new_orders(orders, lines, stages, events, snaps)
        for group in (orders, lines, stages, events):
            _saved(group)
        return _done
    payload = {
        "o": fastsql.rows(orders, fastsql.columns(Order, True)),
        "l": fastsql.rows(lines, fastsql.columns(OrderLine, True)),
        "s": fastsql.rows(stages, fastsql.columns(StageInstance, True)),
        "e": fastsql.rows(events, fastsql.columns(AuditEvent, True)),
        "n": fastsql.rows(snaps, fastsql.columns(Snapshot, False)),
    }
    sent = fastsql.send(_create_sql(), payload)
    for group in (orders, lines, stages, events):
        _saved(group)

    def finish() -> None:
        (n,), = sent.rows()
        if n != len(orders):
            raise RuntimeError(f"{len(orders)} orders sent, {n} written")

    return finish


def _done() -> None:
    return None


def _pipelined() -> bool:
    raw = connection.connection
    return raw is not None and raw.pgconn.pipeline_status != pq.PipelineStatus.OFF


def _copy_new_orders(orders: list[Order], lines: list[OrderLine], stages: list[StageInstance],
                     events: list[AuditEvent], snaps: list[Snapshot]) -> None:
    """The rows :func:`_create_sql` writes, by COPY: the same columns, each value as the
    database adapter spells it (JSON columns encoded as the jsonb statement encodes them)."""
    n = _copy(Order, fastsql.columns(Order, True), orders)
    _copy(OrderLine, fastsql.columns(OrderLine, True), lines)
    _copy(StageInstance, fastsql.columns(StageInstance, True), stages)
    _copy(AuditEvent, fastsql.columns(AuditEvent, True), events)
    _copy(Snapshot, fastsql.columns(Snapshot, False), snaps)
    if n != len(orders):
        raise RuntimeError(f"{len(orders)} orders sent, {n} written")


@cache
def _copy_plan(model: type[Model], cols: tuple[str, ...]
               ) -> tuple[str, Callable[[dict], tuple], tuple[tuple[int, str], ...]]:
    """COPY's text, the getter of a row's values from an instance's ``__dict__``, the positions
    (and attribute names) of JSON columns."""
    fields = {fastsql.column_of(f): f for f in model._meta.concrete_fields}
    names = ", ".join(fastsql.quote(c) for c in cols)
    get = itemgetter(*(fields[c].attname for c in cols))
    json_at = tuple((i, fields[c].attname) for i, c in enumerate(cols) if isinstance(fields[c], JSONField))
    return f"COPY {fastsql.table(model)} ({names}) FROM STDIN", get, json_at


# an empty list or object (tags, blocked reasons) as JSON, without the encoder
_EMPTY_JSON: dict[type, str] = {list: "[]", dict: "{}"}


def _copy(model: type[Model], cols: tuple[str, ...], objs: list[Any]) -> int:
    """COPY ``objs`` into the model's table; the number of rows written. Through Django's cursor
    wrapper (execute wrappers, the query log and database errors as for any statement)."""
    if not objs:
        return 0
    sql, get, json_at = _copy_plan(model, cols)
    dumps, encoded_text, noted = fastsql.dumps, fastsql.encoded_text, fastsql.ENCODED

    def run(sql: str, params: Any, many: bool, context: dict[str, Any]) -> int:
        cursor = context["cursor"].cursor
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            with cursor.copy(sql) as cp:
                write = cp.write_row
                for o in objs:
                    d = o.__dict__
                    row = list(get(d))
                    for i, attname in json_at:
                        v = row[i]
                        if v is not None:
                            text = encoded_text(d, attname, v) if noted in d else None
                            row[i] = text if text is not None else dumps(v) if v or type(v) not in _EMPTY_JSON \
                                else _EMPTY_JSON[type(v)]
                    write(row)
            return cursor.rowcount

    with connection.cursor() as cur:
        executor: Callable[..., int] = run
        for wrapper in reversed(cur.db.execute_wrappers):  # as CursorWrapper.execute does
            executor = partial(wrapper, executor)
        context = {"connection": cur.db, "cursor": cur}
        if isinstance(cur, CursorDebugWrapper):  # the query log (connection.queries, captures)
            with cur.debug_sql(sql):
                return executor(sql, None, False, context)
        return executor(sql, None, False, context)


@cache
def _create_sql() -> str:
    # every id is allocated before (core.numbering) but the snapshots': nothing needs to come
    # back but a count
    return fastsql.statement([
        fastsql.insert_cte("o", "o", Order, fastsql.columns(Order, True)),
        fastsql.insert_cte("l", "l", OrderLine, fastsql.columns(OrderLine, True)),
        fastsql.insert_cte("s", "s", StageInstance, fastsql.columns(StageInstance, True)),
        fastsql.insert_cte("e", "e", AuditEvent, fastsql.columns(AuditEvent, True)),
        fastsql.insert_cte("n", "n", Snapshot, fastsql.columns(Snapshot, False)),
    ], "SELECT (SELECT count(*) FROM o)")


def insert_order_and_lines(order: Order, lines: list[OrderLine]) -> None:
    """The order row and its lines alone, before entry actions that need them stored (a first
    stage that reserves stock); the rest follows with :func:`write_order_change`. ORM only:
    rare, and a fast twin would save nothing here."""
    order.save(force_insert=True)
    OrderLine.objects.bulk_create(lines)


LINE_EDIT_FIELDS = ("qty", "unit", "base_qty", "unit_price", "amount", "remarks")


def write_lines(added: list[OrderLine], changed: list[OrderLine], removed: list[OrderLine]) -> None:
    """A line edit's rows (``orders.services.lines``): new lines (ids from the hi/lo blocks, as
    at creation; a ``bulk_create``), the changed lines' ``LINE_EDIT_FIELDS``, removed lines (a
    DELETE). The changed lines have twins: ``bulk_update`` (ORM) and one prepared statement
    (fast: a 1,000-line change is one UPDATE … FROM its jsonb rows, where ``bulk_update``
    builds a CASE per field and row)."""
    if added:
        _give_ids(added, [], [])
        OrderLine.objects.bulk_create(added)
    if changed:
        if fastsql.available():
            (n,), = fastsql.execute(_lines_sql(), {"u": fastsql.rows(changed, _line_columns())})
            if n != len(changed):
                raise OrderLine.DoesNotExist(f"{len(changed)} lines changed, {n} written")
        else:
            OrderLine.objects.bulk_update(changed, LINE_EDIT_FIELDS)
    if removed:
        OrderLine.objects.filter(pk__in=[ln.pk for ln in removed]).delete()


def _line_columns() -> tuple[str, ...]:
    meta = OrderLine._meta
    return (fastsql.column_of(meta.pk), *(fastsql.column_of(meta.get_field(f)) for f in LINE_EDIT_FIELDS))


@cache
def _lines_sql() -> str:
    q = fastsql.quote
    cols = _line_columns()
    names = ", ".join(q(c) for c in cols[1:])
    values = ", ".join(f"r.{q(c)}" for c in cols[1:])
    return fastsql.statement([
        f"u AS (UPDATE {fastsql.table(OrderLine)} AS t SET ({names}) = ROW({values}) "
        f"FROM {fastsql.records('u', OrderLine)} AS r WHERE t.{q(cols[0])} = r.{q(cols[0])} RETURNING 1)",
    ], "SELECT (SELECT count(*) FROM u)")


# --------------------------------------------------------------------------- a change


def write_order_change(order: Order, fields: Sequence[str] | None, *, event: AuditEvent,
                       entered: StageInstance | None = None,
                       close_open_stages_at: datetime | None = None,
                       snapshot: Snapshot | None = None) -> None:
    """Save an existing (locked) order's ``fields`` (None: every loaded field) and what goes
    with the change: closing its open stage instances at ``close_open_stages_at``, the entered
    stage instance, the audit event, the snapshot. Fast twin: one prepared statement per shape
    of change; ORM twin: one statement per row."""
    if not fastsql.available():
        if close_open_stages_at is not None:
            StageInstance.objects.filter(order=order, exited_at__isnull=True).update(exited_at=close_open_stages_at)
        order.save(update_fields=fields)
        if entered is not None:
            entered.save(force_insert=True)
        event.save(force_insert=True)
        if snapshot is not None:
            snapshot.save(force_insert=True)
        return
    cols = _columns(order, fields)
    payload: dict[str, Any] = {"u": fastsql.rows([order], cols)[0],
               "e": fastsql.rows([event], fastsql.columns(AuditEvent, False))}
    if close_open_stages_at is not None:
        payload["closed_at"] = close_open_stages_at
    if entered is not None:
        payload["s"] = fastsql.rows([entered], fastsql.columns(StageInstance, False))
    if snapshot is not None:
        payload["n"] = fastsql.rows([snapshot], fastsql.columns(Snapshot, False))
    (updated, inst_id, event_id), = fastsql.execute(
        _change_sql(cols, close_open_stages_at is not None, entered is not None, snapshot is not None),
        payload)
    if updated != 1:
        raise Order.DoesNotExist(f"order {order.pk} was not updated")
    event.pk = event_id
    _saved([event])
    if entered is not None:
        entered.pk = inst_id
        _saved([entered])


def _columns(order: Order, fields: Sequence[str] | None) -> tuple[str, ...]:
    """The pk column and those of ``fields``; None: every loaded column (a deferred one was not
    read, so not changed; ``Model.save`` does the same)."""
    if fields is None:
        deferred = order.get_deferred_fields()
        if not deferred:
            return fastsql.columns(Order, True)
        skip = {fastsql.column_of(Order._meta.get_field(f)) for f in deferred}
        return tuple(c for c in fastsql.columns(Order, True) if c not in skip)
    meta = Order._meta
    return (fastsql.column_of(meta.pk), *(fastsql.column_of(meta.get_field(f)) for f in fields))


_CHANGE_SQL: dict[tuple, str] = {}


def _change_sql(cols: tuple[str, ...], close: bool, entered: bool, snapshot: bool) -> str:
    key = (cols, close, entered, snapshot)
    sql = _CHANGE_SQL.get(key)
    if sql is None:
        ctes = [fastsql.update_one_cte("u", "u", Order, cols)]
        if close:
            q = fastsql.quote
            order_col = q(fastsql.column_of(StageInstance._meta.get_field("order")))
            exited = q(fastsql.column_of(StageInstance._meta.get_field("exited_at")))
            ctes.append(f"c AS (UPDATE {fastsql.table(StageInstance)} AS t "
                        f"SET {exited} = (SELECT (d->>'closed_at')::timestamptz FROM p) "
                        f"WHERE t.{order_col} = (SELECT ((d->'u')->>'{cols[0]}')::bigint FROM p) "
                        f"AND t.{exited} IS NULL RETURNING 1)")
        if entered:
            ctes.append(fastsql.insert_cte("s", "s", StageInstance, fastsql.columns(StageInstance, False),
                                           returning="id"))
        ctes.append(fastsql.insert_cte("e", "e", AuditEvent, fastsql.columns(AuditEvent, False),
                                       returning="id"))
        if snapshot:
            ctes.append(fastsql.insert_cte("n", "n", Snapshot, fastsql.columns(Snapshot, False)))
        sql = _CHANGE_SQL[key] = fastsql.statement(
            ctes, "SELECT (SELECT count(*) FROM u), " + ("(SELECT id FROM s), " if entered else "NULL, ")
            + "(SELECT id FROM e)")
    return sql


# --------------------------------------------------------------------------- many changes


def write_order_changes(orders: list[Order], fields: Sequence[str], *, events: list[AuditEvent],
                        entered: list[StageInstance] | None = None,
                        close_open_stages_at: datetime | None = None,
                        snapshots: list[Snapshot] | None = None) -> None:
    """:func:`write_order_change` for many (locked) orders changed alike (a batch move): the
    same ``fields`` of each, one event each, and, when given, one entered stage instance and one
    snapshot each, their open stage instances closed at ``close_open_stages_at``. Stage
    instance and event ids come from hi/lo blocks first, so both twins write the same rows.
    Fast twin: one prepared statement whatever the number of orders; ORM twin: one statement
    per table."""
    send_order_changes(orders, fields, events=events, entered=entered,
                       close_open_stages_at=close_open_stages_at, snapshots=snapshots)()


def reserve_change_ids(changes: int) -> None:
    """Hold the ids of ``changes`` stage instances and audit events (one round trip at most),
    so that :func:`send_order_changes` sends no ``nextval`` inside a pipeline."""
    for table in (StageInstance._meta.db_table, AuditEvent._meta.db_table):
        if (name := serial_sequence(table)) is not None:
            reserve(name, changes)


def send_order_changes(orders: list[Order], fields: Sequence[str], *, events: list[AuditEvent],
                       entered: list[StageInstance] | None = None,
                       close_open_stages_at: datetime | None = None,
                       snapshots: list[Snapshot] | None = None) -> Callable[[], None]:
    """:func:`write_order_changes` in two steps: send now (every row has its id already, so the
    caller may go on, e.g. publish the changes, while the server writes inside
    ``fastsql.pipeline()``), and return the function that waits for the write and checks that
    every order was updated. ORM twin: written when this returns."""
    if not orders:
        return _done
    entered, snapshots = entered or [], snapshots or []
    _give_ids([], entered, events)
    if not fastsql.available():
        if close_open_stages_at is not None:
            StageInstance.objects.filter(order__in=[o.pk for o in orders], exited_at__isnull=True).update(
                exited_at=close_open_stages_at)
        Order.objects.bulk_update(orders, list(fields))
        StageInstance.objects.bulk_create(entered)
        AuditEvent.objects.bulk_create(events)
        Snapshot.objects.bulk_create(snapshots)
        return _done
    cols = _columns(orders[0], fields)
    payload: dict[str, Any] = {"u": fastsql.rows(orders, cols),
                               "e": fastsql.rows(events, fastsql.columns(AuditEvent, True))}
    if close_open_stages_at is not None:
        payload["closed_at"] = close_open_stages_at
    if entered:
        payload["s"] = fastsql.rows(entered, fastsql.columns(StageInstance, True))
    if snapshots:
        payload["n"] = fastsql.rows(snapshots, fastsql.columns(Snapshot, False))
    sent = fastsql.send(_changes_sql(cols, close_open_stages_at is not None, bool(entered), bool(snapshots)),
                        payload)
    _saved([*entered, *events])
    n = len(orders)

    def finish() -> None:
        (updated,), = sent.rows()
        if updated != n:
            raise Order.DoesNotExist(f"{n} orders sent, {updated} updated")

    return finish


@cache
def _changes_sql(cols: tuple[str, ...], close: bool, entered: bool, snapshot: bool) -> str:
    q = fastsql.quote
    table = fastsql.table(Order)
    pk = q(cols[0])
    ids = f"ARRAY(SELECT (x->>'{cols[0]}')::bigint FROM jsonb_array_elements((SELECT d FROM p)->'u') AS x)"
    names = ", ".join(q(c) for c in cols[1:])
    values = ", ".join(f"r.{q(c)}" for c in cols[1:])
    ctes = [f"u AS (UPDATE {table} AS t SET ({names}) = ({values}) FROM {fastsql.records('u', Order)} AS r "
            f"WHERE t.{pk} = r.{pk} AND t.{pk} = ANY({ids}) RETURNING 1)"]
    if close:
        order_col = q(fastsql.column_of(StageInstance._meta.get_field("order")))
        exited = q(fastsql.column_of(StageInstance._meta.get_field("exited_at")))
        ctes.append(f"c AS (UPDATE {fastsql.table(StageInstance)} AS t "
                    f"SET {exited} = (SELECT (d->>'closed_at')::timestamptz FROM p) "
                    f"WHERE t.{order_col} = ANY({ids}) AND t.{exited} IS NULL RETURNING 1)")
    if entered:
        ctes.append(fastsql.insert_cte("s", "s", StageInstance, fastsql.columns(StageInstance, True)))
    ctes.append(fastsql.insert_cte("e", "e", AuditEvent, fastsql.columns(AuditEvent, True)))
    if snapshot:
        ctes.append(fastsql.insert_cte("n", "n", Snapshot, fastsql.columns(Snapshot, False)))
    return fastsql.statement(ctes, "SELECT (SELECT count(*) FROM u)")

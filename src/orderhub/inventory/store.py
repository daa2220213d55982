"""Writing stock rows for the inventory services.

Twins, chosen by ``core.fastsql.available()``: the plain ORM, and one prepared statement
(PostgreSQL) that writes the same rows. The parity suite (``tests/orders/test_parity.py``)
reserves, consumes and releases stock through both and compares the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.db import IntegrityError, connection

from orderhub.core import fastsql

from .models import Reservation, StockLevel


def write_reservations(levels: list[StockLevel], made: list[Reservation]) -> None:
    """Save the new ``reserved`` of the (locked) stock rows ``levels`` and insert the
    reservations ``made``, which get their ids in the order given. ORM twin: a ``bulk_update``
    and a ``bulk_create``; fast twin: one prepared statement."""
    send_reservations(levels, made)()


def send_reservations(levels: list[StockLevel], made: list[Reservation]) -> Callable[[], None]:
    """:func:`write_reservations` in two steps: send now (inside ``fastsql.pipeline()`` the
    caller goes on while the server writes) and return the function that waits for the write,
    checks it and gives the reservations their ids. ORM twin: written when this returns."""
    if not fastsql.available():
        StockLevel.objects.bulk_update(levels, ["reserved"])
        Reservation.objects.bulk_create(made)
        return _done
    payload = {"u": [{"id": lvl.pk, "reserved": lvl.reserved} for lvl in levels],
               "i": fastsql.rows(made, fastsql.columns(Reservation, False))}
    sent = fastsql.send(_reserve_sql(), payload)

    def finish() -> None:
        (updated, inserted, ids), = sent.rows()
        if updated != len(levels) or inserted != len(made):
            raise IntegrityError(f"stock write touched {updated}/{len(levels)} levels, "
                                 f"{inserted}/{len(made)} reservations")
        for res, pk in zip(made, ids or (), strict=True):   # no rows: array_agg is NULL
            res.pk = pk
            res._state.adding, res._state.db = False, connection.alias

    return finish


def _done() -> None:
    return None


@cache
def _reserve_sql() -> str:
    """The new ``reserved`` of the locked stock rows and the reservation rows, one statement.
    Reservation ids come from the table's sequence in the order the rows were sent."""
    q = fastsql.quote
    levels, res = fastsql.table(StockLevel), fastsql.table(Reservation)
    reserved = q(fastsql.column_of(StockLevel._meta.get_field("reserved")))
    cols = fastsql.columns(Reservation, False)
    names = ", ".join(q(c) for c in cols)
    values = ", ".join(f"r.{q(c)}" for c in cols)
    return fastsql.statement([
        f"u AS (UPDATE {levels} AS t SET {reserved} = r.{reserved} FROM {fastsql.records('u', StockLevel)} AS r "
        "WHERE t.id = r.id AND t.id = ANY(ARRAY(SELECT (x->>'id')::bigint "
        "FROM jsonb_array_elements((SELECT d FROM p)->'u') AS x)) RETURNING 1)",
        "n AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence("
        f"'{Reservation._meta.db_table}', 'id')) AS new_id, "
        f"r.ordinality, {values} FROM {fastsql.records('i', Reservation)} WITH ORDINALITY AS r)",
        f"i AS (INSERT INTO {res} (id, {names}) SELECT new_id, {names} FROM n RETURNING 1)",
    ], "SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM i), "
       "(SELECT array_agg(new_id ORDER BY ordinality) FROM n)")

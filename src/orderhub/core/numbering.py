"""Human-readable unique numbers (SO-261122-000123) without a round trip per number.

On PostgreSQL numbers come from a sequence that advances in blocks; each process hands out its
block from memory (hi/lo), so gaps appear after a restart, never duplicates. Elsewhere a counter
row is bumped inside the caller's transaction.
"""

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import F

from .models import Counter

if TYPE_CHECKING:
    from django.db.migrations import RunPython

BLOCK = 50
_lock = threading.Lock()
_blocks: dict[str, list[list[int]]] = {}   # sequence -> [next, end) ranges not yet handed out


def sequence_sql(name: str) -> tuple[str, str]:
    return (
        f"CREATE SEQUENCE IF NOT EXISTS {name} INCREMENT BY {BLOCK} START WITH 1",
        f"DROP SEQUENCE IF EXISTS {name}",
    )


def _forget_blocks_in_child() -> None:
    """A forked process (an import worker) must not hand out values its parent holds: the parent
    goes on handing them out. It takes blocks of its own."""
    global _lock
    _lock = threading.Lock()
    _blocks.clear()


os.register_at_fork(after_in_child=_forget_blocks_in_child)


_serial_names: dict[str, str] = {}


def preallocated_id(table: str) -> int | None:
    """An id for a new row of ``table`` known before the INSERT (PostgreSQL), else None.

    With the id known, rows that refer to the new one (and hashes that include it) are built
    first and everything goes in with one INSERT per table."""
    name = serial_sequence(table)
    return None if name is None else next_value(name)


def preallocated_ids(table: str, n: int) -> list[int] | None:
    """``n`` ids for new rows of ``table`` (PostgreSQL), else None: the values ``n`` calls of
    :func:`preallocated_id` would give, in the same order, taken at once (a batch's rows)."""
    name = serial_sequence(table)
    if name is None:
        return None
    reserve(name, n)
    out: list[int] = []
    with _lock:
        ranges = _blocks.setdefault(name, [])
        while len(out) < n and ranges:
            nxt, end = ranges[0]
            k = min(end - nxt, n - len(out))
            out.extend(range(nxt, nxt + k))
            ranges[0][0] += k
            if ranges[0][0] >= end:
                ranges.pop(0)
    while len(out) < n:  # another thread took some of the values reserved meanwhile
        out.append(next_value(name))
    return out


def serial_sequence(table: str) -> str | None:
    """The sequence behind ``table``'s id (PostgreSQL), else None."""
    if connection.vendor != "postgresql":
        return None
    name = _serial_names.get(table)
    if name is None:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            name = _serial_names[table] = cur.fetchone()[0]
    return name


def reserve(name: str, n: int) -> None:
    """Make sure the next ``n`` values of sequence ``name`` are held in memory (PostgreSQL; one
    round trip at most), so that handing them out later sends no query: batch writers call it
    before pipelining their INSERTs."""
    if connection.vendor != "postgresql" or n <= 0:
        return
    with _lock:
        have = sum(end - nxt for nxt, end in _blocks.get(name, ()))
        if have >= n:
            return
        with connection.cursor() as cur:
            cur.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [name, -(-(n - have) // BLOCK)])
            starts = [r[0] for r in cur.fetchall()]
        _blocks.setdefault(name, []).extend([s, s + BLOCK] for s in starts)


def next_value(name: str) -> int:
    if connection.vendor != "postgresql":
        Counter.objects.get_or_create(name=name)
        Counter.objects.filter(name=name).update(value=F("value") + 1)
        return Counter.objects.values_list("value", flat=True).get(name=name)
    with _lock:
        ranges = _blocks.setdefault(name, [])
        while ranges and ranges[0][0] >= ranges[0][1]:
            ranges.pop(0)
        if not ranges:
            with connection.cursor() as cur:
                cur.execute("SELECT nextval(%s)", [name])
                start = cur.fetchone()[0]
            ranges.append([start, start + BLOCK])
        value = ranges[0][0]
        ranges[0][0] += 1
        return value


def block_sequences(*tables: str) -> "RunPython":
    """A migration operation: on PostgreSQL the id sequences of ``tables`` advance by ``BLOCK``
    (so :func:`preallocated_id` can hand out their ids from memory); back to 1 when reversed."""
    from django.db import migrations

    def increment(by: int) -> Callable[[Any, Any], None]:
        def run(apps: Any, schema_editor: Any) -> None:
            if schema_editor.connection.vendor != "postgresql":
                return
            with schema_editor.connection.cursor() as cur:
                for table in tables:
                    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
                    cur.execute(f"ALTER SEQUENCE {cur.fetchone()[0]} INCREMENT BY {by}")
        return run

    return migrations.RunPython(increment(BLOCK), increment(1))

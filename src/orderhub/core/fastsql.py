"""PostgreSQL fast path for writes that touch several tables at once.

An order write is several rows in several tables (order, lines, stage instance, audit event,
snapshot). Through the ORM that is one statement per table, each parsed and planned by the
server, plus Django's per-statement SQL compilation in Python. Here the rows are built as
model instances as usual (so hashes, hooks and results are unchanged), sent as ONE jsonb
parameter, and written by ONE server-side prepared statement made of data-modifying CTEs:
``jsonb_populate_recordset(NULL::<table>, …)`` gives every value its column's type, so the
statement text depends only on the write's *shape* (which tables, which columns), never on the
number of rows. The server parses and plans each shape once per connection.

Statements go through Django's cursor wrapper, so ``CaptureQueriesContext``, execute wrappers
and ``connection.queries`` see them like any other query. Constraints (CHECK, UNIQUE, FK,
triggers) apply exactly as for ORM writes.

Each fast statement lives beside its plain ORM twin in the store module of the app that owns
the tables (``orders.store``, ``orders.locks``, ``inventory.store``, ``notify.store``,
``intake.store``, ``core.store``, ``catalog.selectors``); callers ask :func:`available` which
twin runs (PostgreSQL and ``ORDERHUB_SQL_PATH=fast``), and the parity suite
(``tests/orders/test_parity.py``) runs both on PostgreSQL and compares the rows. Behind a
pooler that cannot keep prepared statements (PgBouncer before 1.21 in transaction mode), set
``ORDERHUB_PREPARE_STATEMENTS=0``: the statements then run unprepared (still one round trip).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import FullResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model, QuerySet

from .instances import loaded

# --------------------------------------------------------------------------- connection


def available() -> bool:
    """Whether the fast twin of a persistence function runs: PostgreSQL, and the setting
    ``ORDERHUB_SQL_PATH`` is ``fast`` (the default). ``orm`` runs the plain ORM twins on
    PostgreSQL too (as on SQLite). The one switch: every fast path asks here."""
    return connection.vendor == "postgresql" and settings.ORDERHUB_SQL_PATH == "fast"


_cursor_class = None


def _preparing_cursor_class():
    global _cursor_class
    if _cursor_class is None:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class PreparingCursor(ServerBindingCursor):
            def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                        binary: bool | None = None) -> Any:
                # the stubs do not know the psycopg cursor under Django's mixin
                out = super().execute(  # type: ignore[misc]
                    query, params, prepare=True, binary=binary)
                if self._query is None:  # type: ignore[has-type]  # psycopg's, untyped
                    # psycopg keeps no text for a statement run by name; Django's query log
                    # (connection.queries, CaptureQueriesContext) reads it from here
                    self._query = _Text(query)
                return out

        _cursor_class = PreparingCursor
    return _cursor_class


def _prepared_cursor():
    """A Django cursor wrapper around a psycopg cursor that binds on the server and prepares
    every statement (Django's own cursors bind on the client and never prepare)."""
    PreparingCursor = _preparing_cursor_class()
    db = connections[DEFAULT_DB_ALIAS]   # (the proxy ``connection`` looks it up on every access)
    db.ensure_connection()
    raw = db.connection
    if raw.prepare_threshold is None and settings.ORDERHUB_PREPARE_STATEMENTS:
        # Django turns psycopg's preparing off (None) for poolers' sake; its own cursors bind on
        # the client and never prepare anyway, so with a threshold no query reaches, only the
        # statements that ask for it (these) are prepared.
        raw.prepare_threshold = 1 << 30
    cur = PreparingCursor(raw)
    if db.queries_logged:
        return db.make_debug_cursor(cur)
    return db.make_cursor(cur)


@contextmanager
def server_bound():
    """ORM statements run inside the block bind their parameters on the server: a ``bytes``
    value travels in binary, where Django's client-side binding writes it into the statement as
    a hex literal twice its size for the server to parse (a 23 MB file: 0.34 → 0.05 s). For the
    few writes of large files; the rest stay as Django runs them."""
    if not available():
        yield
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    db = connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    raw = db.connection
    before = raw.cursor_factory
    raw.cursor_factory = ServerBindingCursor
    try:
        yield
    finally:
        raw.cursor_factory = before


def fetch_bytes(sql: str, params: Sequence[Any]) -> bytes | None:
    """The first column of the first row of ``sql``, a ``bytea``, read in binary (Django reads
    it as hex text: a 23 MB file 0.20 → 0.06 s); None when no row. PostgreSQL only."""
    import psycopg

    db = connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cur:
        cur.execute(sql, params, binary=True)
        row = cur.fetchone()
    return None if row is None else bytes(row[0])


class _Text:
    __slots__ = ("query", "params")

    def __init__(self, query: str):
        self.query, self.params = query.encode(), None


def execute(sql: str, payload: Any, *, returning: bool = True) -> list[tuple]:
    """Run ``sql`` (whose only parameter is ``%s``, the jsonb payload) as a prepared statement;
    returns its rows (``returning=False``: a statement that returns none). Inside
    :func:`pipeline` reading the rows waits for them (a statement's description is not known
    before), so a caller always gets its answer."""
    text = dumps(payload)
    with _prepared_cursor() as cur:
        cur.execute(sql, [text])
        return cur.fetchall() if returning else []


# --------------------------------------------------------------------------- pipelining


@contextmanager
def pipeline():
    """Statements sent inside the block go to the server without waiting for their results
    (libpq pipeline mode): the server executes them while Python prepares the next ones, and a
    result is waited for only when it is read (:func:`send` / :meth:`Sent.rows`) or when the
    block ends. An error surfaces there, as Django's database error, and aborts the rest of
    the block (the transaction is then rolled back as usual). A no-op where pipelining is not
    available (SQLite, a libpq before 14) or when ``ORDERHUB_PIPELINE=0``."""
    import psycopg

    if not available() or not settings.ORDERHUB_PIPELINE or not psycopg.Pipeline.is_supported():
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


class Sent:
    """A statement sent by :func:`send`; its rows are read on demand."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor):
        self._cursor = cursor

    def rows(self) -> list[tuple]:
        """The statement's rows (it must return rows), waiting for them if need be."""
        with self._cursor as cur:
            return cur.fetchall()


def send(sql: str, payload: Any) -> Sent:
    """Like :func:`execute`, but inside :func:`pipeline` it returns once the statement is sent;
    read the rows later with ``.rows()`` (outside a pipeline it simply runs the statement)."""
    cur = _prepared_cursor()
    cur.execute(sql, [dumps(payload)])
    return Sent(cur)


# --------------------------------------------------------------------------- JSON of rows


# a write's rows share a few moments (its "now"): the last one spelled, kept as one tuple so that
# threads replace it whole
_last_moment: tuple[Any, str] = (None, "")


def _default(value: Any) -> Any:
    global _last_moment
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        seen, text = _last_moment
        if value is not seen:
            text = value.isoformat()
            _last_moment = (value, text)
        return text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default)


def dumps(payload: Any) -> str:
    return _encoder.encode(payload)


# where an instance keeps the JSON text of a JSON field's value encoded already (``encoded``)
ENCODED = "_fastsql_encoded"


def encoded(obj: Model, attname: str, text: str) -> None:
    """Note that ``text`` is the JSON of ``obj``'s ``attname`` value as it is now (the caller
    encoded it anyway, e.g. canonically for a hash): a COPY of ``obj`` writes that text rather
    than encoding the value again (the column holds the same jsonb value: jsonb keeps neither
    key order nor spacing). Only while the field holds that very value (``encoded_text``)."""
    obj.__dict__.setdefault(ENCODED, {})[attname] = (obj.__dict__[attname], text)


def encoded_text(d: dict[str, Any], attname: str, value: Any) -> str | None:
    """The text :func:`encoded` noted for ``value`` in the instance ``__dict__`` ``d``, or None."""
    notes = d.get(ENCODED)
    if notes is None:
        return None
    noted = notes.get(attname)
    return noted[1] if noted is not None and noted[0] is value else None


@cache
def columns(model: type[Model], with_pk: bool) -> tuple[str, ...]:
    """The model's concrete column names, pk first when included."""
    pk = model._meta.pk
    cols = [column_of(f) for f in model._meta.concrete_fields if f is not pk]
    return (column_of(pk), *cols) if with_pk else tuple(cols)


def column_of(field: Any) -> str:
    """The database column of a concrete field (``model._meta.get_field(name)``)."""
    column = getattr(field, "column", None)
    if not isinstance(column, str):
        raise TypeError(f"{field!r} has no database column")
    return column


@cache
def _attnames(model: type[Model]) -> dict[str, str]:
    return {column_of(f): f.attname for f in model._meta.concrete_fields}


def rows(objs: Iterable[Model], cols: Sequence[str]) -> list[dict[str, Any]]:
    """Values of ``objs`` for the columns ``cols``, one JSON object per row (keys are column
    names, which is what ``jsonb_populate_recordset`` matches)."""
    out, pairs = [], None
    for o in objs:
        if pairs is None:
            names = _attnames(type(o))
            pairs = [(c, names[c]) for c in cols]
        d = o.__dict__   # a field's value lives there (a deferred one is missing: getattr loads it)
        try:
            out.append({c: d[a] for c, a in pairs})
        except KeyError:
            out.append({c: getattr(o, a) for c, a in pairs})
    return out


def quote(name: str) -> str:
    """A table or column name quoted for SQL."""
    return connection.ops.quote_name(name)


_q = quote


def table(model: type[Model]) -> str:
    """The model's table, quoted: statements name tables from ``_meta``, never by hand."""
    return _q(model._meta.db_table)


def where(qs: QuerySet) -> str:
    """The condition of ``qs`` (filters on its own table's columns, no parameters) as SQL naming
    the table itself. A fast statement that reads ``FROM <table>`` with it applies the very rule
    its ORM twin filters with, so such a rule (e.g. which customers are active) is written once."""
    query = qs.query
    try:
        sql, params = query.get_compiler(connection=connection).compile(query.where)
    except FullResultSet:  # no filter at all
        return "TRUE"
    table_name = qs.model._meta.db_table
    if params or set(query.alias_map) - {table_name}:
        raise ValueError(f"fastsql.where: {qs.model.__name__} filter needs parameters or joins "
                         f"({sql!r}, {params!r}; {table_name} only)")
    return sql or "TRUE"


def records(key: str, model: type[Model]) -> str:
    """SQL for the rows sent under ``key``: one record of the table's row type per object."""
    return f"jsonb_populate_recordset(NULL::{_q(model._meta.db_table)}, (SELECT d FROM p)->'{key}')"


def insert_cte(name: str, key: str, model: type[Model], cols: Sequence[str],
               returning: str = "1") -> str:
    table = _q(model._meta.db_table)
    names = ", ".join(_q(c) for c in cols)
    return (f"{name} AS (INSERT INTO {table} ({names}) SELECT {names} FROM "
            f"{records(key, model)} AS r RETURNING {returning})")


def update_one_cte(name: str, key: str, model: type[Model], cols: Sequence[str]) -> str:
    """UPDATE the one row sent under ``key`` (an object; its pk is the first of ``cols``) to
    its values. The row is found by pk through the index, whatever the table's size."""
    table = _q(model._meta.db_table)
    pk = _q(cols[0])
    names = ", ".join(_q(c) for c in cols[1:])
    values = ", ".join(f"r.{_q(c)}" for c in cols[1:])
    return (f"{name} AS (UPDATE {table} AS t SET ({names}) = (SELECT {values} FROM "
            f"jsonb_populate_record(NULL::{table}, (SELECT d FROM p)->'{key}') AS r) "
            f"WHERE t.{pk} = (SELECT ((d->'{key}')->>'{cols[0]}')::bigint FROM p) RETURNING 1)")


def statement(ctes: list[str], final: str) -> str:
    return "WITH p AS MATERIALIZED (SELECT %s::jsonb AS d), " + ", ".join(ctes) + " " + final


# --------------------------------------------------------------------------- reading rows back


def loads(text: str | None) -> Any:
    """JSON from the database, numbers with a fraction as Decimal (as numeric columns are)."""
    return None if text is None else json.loads(text, parse_float=Decimal)


def _to_decimal(v):
    return v if isinstance(v, Decimal) else Decimal(v)


@cache
def _converters(model: type[Model]) -> tuple[tuple[str, str, Any], ...]:
    out = []
    for f in model._meta.concrete_fields:
        kind = f.get_internal_type()
        conv = None
        if kind == "DecimalField":
            conv = _to_decimal
        elif kind == "DateTimeField":
            conv = datetime.fromisoformat
        elif kind == "DateField":
            conv = date.fromisoformat
        elif kind == "JSONField":
            conv = _floats_back
        elif kind in ("UUIDField", "DurationField", "TimeField", "BinaryField"):
            conv = f.to_python
        out.append((column_of(f), f.attname, conv))
    return tuple(out)


def _floats_back(v: Any) -> Any:
    """Inside a JSON column a fraction is a float (as the ORM loads it), not a Decimal."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, list):
        return [_floats_back(x) for x in v]
    if isinstance(v, dict):
        return {k: _floats_back(x) for k, x in v.items()}
    return v


M = TypeVar("M", bound=Model)


def instance(model: type[M], data: dict[str, Any]) -> M:
    """A model instance from ``to_jsonb(<row>)`` (as if the ORM had loaded it); columns missing
    from ``data`` are deferred (loaded on first access, as with ``.defer()``)."""
    names: list[str] = []
    values: list[Any] = []
    for column, name, conv in _converters(model):
        if column not in data:
            continue
        v = data[column]
        if v is not None and conv is not None:
            v = conv(v)
        names.append(name)
        values.append(v)
    return loaded(model, names, values)   # (fast statements run on the default connection)


# --------------------------------------------------------------------------- reads

def among(model: type[Model], field_name: str, ids: Sequence[int]) -> Any:
    """A filter "``field_name`` is one of ``ids``" for ``model``'s queryset: on PostgreSQL
    ``column = ANY(%s)`` with the ids as ONE array parameter (for thousands of ids, Django's
    ``__in`` compiles, binds and the server parses one parameter each: 20,000 ids cost about
    10× more), elsewhere the plain ``__in``. Same rows either way. For the model's own
    queryset, not inside a subquery (the column is named by its table)."""
    from django.db.models import BooleanField, Q
    from django.db.models.expressions import RawSQL

    if connection.vendor != "postgresql":
        return Q(**{f"{field_name}__in": list(ids)})
    column = f'"{model._meta.db_table}"."{column_of(model._meta.get_field(field_name))}"'
    # one array literal: psycopg quotes a list element by element, a string at once
    literal = "{" + ",".join(str(int(i)) for i in ids) + "}"
    return RawSQL(f"{column} = ANY(%s::bigint[])", [literal], output_field=BooleanField())

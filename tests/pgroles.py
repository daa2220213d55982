"""The PostgreSQL test database as production runs it: created and migrated by an owner role,
used by an app role that owns nothing (``orderhub.core.dbroles``).

``make test`` points DATABASE_URL at a superuser (``postgres``). Before Django sets the test
database up, the superuser creates two roles named after the test database,
``<test db>_owner`` and ``<test db>_app`` (so engineers sharing one server never share roles),
and drops a test database an earlier run left. Django then creates and migrates the database as
the owner (the test owner has CREATEDB for that; a production owner needs none: ``orderhub db
init-roles`` creates the database); the owner grants the app its rights exactly as ``orderhub
migrate`` does; and the ``default`` connection switches to the app role for every test: the
test thread, other threads, the live server and the subprocesses tests start
(:func:`database_url`).

Between transactional tests Django empties the tables. The app may not TRUNCATE, and nobody may
truncate the append-only tables while their triggers are on: the owner does it, disabling the
triggers inside the flush's own transaction (a table's owner can; that is the point of the app
owning none).
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
from django.conf import settings
from django.db import connection, connections
from psycopg import sql as pgsql

from orderhub.core import dbroles


@dataclass
class _Roles:
    superuser: dbroles.RoleUrl
    owner: str
    app: str
    password: str


_roles: _Roles | None = None
_saved_flush = None


def active() -> bool:
    return _roles is not None


def _role_name(base: str, suffix: str) -> str:
    name = f"{base}_{suffix}"
    if len(name) > 63:   # PostgreSQL cuts identifiers at 63 bytes
        name = f"{base[:40]}_{hashlib.sha256(base.encode()).hexdigest()[:8]}_{suffix}"
    return name


def _switch(user: str, password: str) -> None:
    for alias in ("default",):
        connections[alias].close()
        settings.DATABASES[alias]["USER"] = user
        settings.DATABASES[alias]["PASSWORD"] = password
        connections[alias].settings_dict["USER"] = user
        connections[alias].settings_dict["PASSWORD"] = password


def before_setup(*, keepdb: bool) -> None:
    """As the superuser: both roles, no stale test database; then act as the owner."""
    global _roles
    if connection.vendor != "postgresql":
        return
    s = settings.DATABASES["default"]
    test_name = (s.get("TEST") or {}).get("NAME") or f"test_{s['NAME']}"
    superuser = dbroles.RoleUrl(user=s["USER"], password=s.get("PASSWORD") or "", host=s.get("HOST") or "127.0.0.1",
                                port=int(s.get("PORT") or 5432), database="postgres")
    roles = _Roles(superuser, _role_name(test_name, "owner"), _role_name(test_name, "app"),
                   secrets.token_urlsafe(18))
    with psycopg.connect(**superuser.conninfo(), autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cur.fetchone()[0]:
            raise RuntimeError(f"the test DATABASE_URL must name a superuser (it makes the test roles), "
                               f"not {s['USER']}")
        dbroles.ensure_role(cur, roles.owner, roles.password, createdb=True)
        dbroles.ensure_role(cur, roles.app, roles.password)
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [test_name])
        if cur.fetchone():
            if keepdb:
                cur.execute(pgsql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    pgsql.Identifier(test_name), pgsql.Identifier(roles.owner)))
            else:
                cur.execute(pgsql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                    pgsql.Identifier(test_name)))
    _roles = roles
    _switch(roles.owner, roles.password)


def after_setup() -> None:
    """As the owner, on the migrated test database: grant the app its rights; then act as the app
    and let the owner flush."""
    global _saved_flush
    if _roles is None:
        return
    dbroles.grant_app(app=_roles.app)
    _switch(_roles.app, _roles.password)
    from django.db.backends.postgresql.operations import DatabaseOperations

    _saved_flush = DatabaseOperations.__dict__.get("execute_sql_flush")
    DatabaseOperations.execute_sql_flush = _flush_as_owner


def before_teardown() -> None:
    """Back to the owner, who may drop the test database it owns."""
    if _roles is None:
        return
    from django.db.backends.postgresql.operations import DatabaseOperations

    if _saved_flush is None:
        del DatabaseOperations.execute_sql_flush
    else:
        DatabaseOperations.execute_sql_flush = _saved_flush
    _switch(_roles.owner, _roles.password)


def _conninfo(user: str, password: str) -> dict:
    s = settings.DATABASES["default"]
    return {"user": user, "password": password, "host": s.get("HOST") or "127.0.0.1",
            "port": int(s.get("PORT") or 5432), "dbname": s["NAME"]}


def _flush_as_owner(self, sql_list) -> None:
    with psycopg.connect(**_conninfo(_roles.owner, _roles.password)) as conn:   # one transaction
        conn.execute("SET lock_timeout = '60s'")
        guarded = [r[0] for r in conn.execute(
            "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal").fetchall()]
        for table in guarded:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for sql in sql_list:
            conn.execute(sql)
        for table in guarded:
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def database_url() -> str:
    """The URL of the test database for a subprocess: the app role, as the tests run."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{server_in_url(s.get('HOST'), s.get('PORT'))}/{s['NAME']}"


def server_in_url(host: str | None, port: str | int | None) -> str:
    """``host:port`` as a URL names the server; a Unix socket's directory percent-encoded."""
    host = host or "127.0.0.1"
    if host.startswith("/"):
        return quote(host, safe="") + (f":{port}" if port else "")
    return f"{host}:{port or 5432}"


def app_role() -> str:
    assert _roles is not None
    return _roles.app


def owner_role() -> str:
    assert _roles is not None
    return _roles.owner


@contextmanager
def connect(role: str):
    """An autocommit psycopg connection to the test database as ``role``: ``superuser``,
    ``owner`` or ``app``."""
    assert _roles is not None
    if role == "superuser":
        info = _conninfo(_roles.superuser.user, _roles.superuser.password)
    else:
        info = _conninfo(_roles.owner if role == "owner" else _roles.app, _roles.password)
    with psycopg.connect(**info, autocommit=True) as conn:
        yield conn

"""Two PostgreSQL roles, so that the database's own users cannot forge the audit log.

* The **owner** role owns the database, its schema and every table; only ``orderhub migrate``
  connects as it (``ORDERHUB_OWNER_DATABASE_URL``).
* The **app** role (``DATABASE_URL``; web, workers, CLI) owns nothing, is no superuser, cannot
  create roles or databases, is no member of the owner: it cannot disable a trigger (that needs
  ownership), set ``session_replication_role`` (superuser only) or truncate. It may SELECT and
  INSERT the append-only tables (models with ``append_only = True``: audit events, snapshots,
  the legacy boundary), UPDATE only the status columns of write-once tables (models with
  ``immutable_columns``: raw inbound payloads), read ``django_migrations``, and use every
  sequence; elsewhere it has SELECT, INSERT, UPDATE and DELETE.

``grant_statements`` is idempotent (revoke all, grant again) and ``orderhub migrate`` runs it as
the owner after migrating, so a table whose model gains ``append_only`` loses UPDATE at once.
Default privileges give the app its rights on tables a later migration creates, before anyone
re-grants. The append-only triggers stay as a second guard (they refuse even the owner, who must
disable them first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.apps import apps
from django.db import connection, transaction

READ_ONLY_TABLES = ("django_migrations",)


@dataclass(frozen=True)
class RoleUrl:
    """The parts of a ``postgres://user:password@host:port/db`` URL the roles need (the host
    may be a Unix socket's directory, percent-encoded: ``postgres://user@%2Fvar%2Frun%2Fpostgresql/db``,
    as ``DATABASE_URL`` takes it)."""

    user: str
    password: str
    host: str
    port: int
    database: str

    @classmethod
    def parse(cls, url: str) -> RoleUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql", "pgsql") or not parts.username:
            raise ValueError(f"not a PostgreSQL URL with a user: {parts.scheme}://…")
        host = parts.hostname or "127.0.0.1"
        given = parts.netloc.rpartition("@")[2].split(":")[0]
        if given.lower().startswith("%2f"):   # a socket's directory (hostname is lower-cased, not decoded)
            host = unquote(given)
        return cls(user=unquote(parts.username), password=unquote(parts.password or ""),
                   host=host, port=parts.port or 5432, database=unquote(parts.path.lstrip("/")))

    def conninfo(self, database: str | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {"user": self.user, "host": self.host, "port": self.port,
                                "dbname": database or self.database}
        if self.password:
            info["password"] = self.password
        return info


def append_only_tables() -> list[str]:
    return sorted(m._meta.db_table for m in apps.get_models() if getattr(m, "append_only", False))


def write_once_columns() -> dict[str, list[str]]:
    """Tables whose rows keep some columns for ever -> the columns the app may update."""
    out = {}
    for m in apps.get_models():
        fixed = set(getattr(m, "immutable_columns", ()))
        if fixed:
            out[m._meta.db_table] = sorted(f.column for f in m._meta.concrete_fields
                                           if f.column is not None and f.column not in fixed
                                           and not f.primary_key)
    return out


def grant_statements(*, app: str, owner: str, database: str, schema: str = "public") -> list[str]:
    """The statements that give the app role exactly its rights; run them as the owner."""
    q = connection.ops.quote_name
    a, o, s = q(app), q(owner), q(schema)
    stmts = [
        f"GRANT CONNECT ON DATABASE {q(database)} TO {a}",
        f"GRANT USAGE ON SCHEMA {s} TO {a}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {a}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {a}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {a}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {a}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {a}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {a}",
    ]
    existing = set(connection.introspection.table_names())
    for table in append_only_tables():
        if table in existing:
            stmts.append(f"REVOKE UPDATE, DELETE ON {q(table)} FROM {a}")
    for table, cols in write_once_columns().items():
        if table in existing:
            stmts.append(f"REVOKE UPDATE, DELETE ON {q(table)} FROM {a}")
            stmts.append(f"GRANT UPDATE ({', '.join(q(c) for c in cols)}) ON {q(table)} TO {a}")
    for table in READ_ONLY_TABLES:
        if table in existing:
            stmts.append(f"REVOKE INSERT, UPDATE, DELETE ON {q(table)} FROM {a}")
    return stmts


def app_role_problems(app: str) -> list[str]:
    """Why ``app`` could lift the guards (empty: it cannot). Run on the application database."""
    problems = []
    with connection.cursor() as cur:
        cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                    "FROM pg_roles WHERE rolname = %s", [app])
        row = cur.fetchone()
        if row is None:
            return [f"role {app} does not exist"]
        for flag, name in zip(row, ("SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS"),
                              strict=True):
            if flag:
                problems.append(f"role {app} has {name}")
        cur.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = %s) "
                    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                    "AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast%%'", [app])
        owned = cur.fetchone()[0]
        if owned:
            problems.append(f"role {app} owns {owned} tables, sequences or indexes")
        cur.execute("SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                    "WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = %s)", [app])
        for (member_of,) in cur.fetchall():
            problems.append(f"role {app} is a member of {member_of}")
        cur.execute("SELECT datdba = (SELECT oid FROM pg_roles WHERE rolname = %s) FROM pg_database "
                    "WHERE datname = current_database()", [app])
        if cur.fetchone()[0]:
            problems.append(f"role {app} owns the database")
    return problems


def grant_app(*, app: str) -> None:
    """(Re)apply the app role's rights, as the owner, in one transaction; refuse a role that
    could lift the guards anyway (or the owner itself)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        cur.execute("SELECT current_user, current_database(), current_schema()")
        owner, database, schema = cur.fetchone()
    if app == owner:
        raise ValueError(f"the app role must not be the owner ({owner}): set DATABASE_URL to another role")
    problems = app_role_problems(app)
    if problems:
        raise ValueError("the app role could lift the audit guards: " + "; ".join(problems)
                         + " (orderhub db init-roles fixes this)")
    with transaction.atomic(), connection.cursor() as cur:
        for stmt in grant_statements(app=app, owner=owner, database=database, schema=schema):
            cur.execute(stmt)


# --------------------------------------------------------------------------- set-up (superuser)


def ensure_role(cur: Any, name: str, password: str = "", *, createdb: bool = False) -> None:
    """Create role ``name`` (LOGIN, no SUPERUSER/CREATEROLE/REPLICATION/BYPASSRLS) or bring an
    existing one to those attributes; set its password when one is given. ``cur`` is a psycopg
    cursor of a superuser."""
    from psycopg import sql

    attrs: sql.Composable = sql.SQL("LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT "
                    + ("CREATEDB" if createdb else "NOCREATEDB"))
    if password:
        attrs = sql.SQL("{} PASSWORD {}").format(attrs, sql.Literal(password))
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    verb = "ALTER" if cur.fetchone() else "CREATE"
    cur.execute(sql.SQL(verb + " ROLE {} {}").format(sql.Identifier(name), attrs))


def init_roles(*, superuser: RoleUrl, owner: RoleUrl, app: RoleUrl, createdb_owner: bool = False,
               log: Callable[[str], object] = print) -> None:
    """Create (or repair) both roles and the database owned by the owner, as a superuser, and
    move anything the app role owned (an install from before) to the owner. ``orderhub migrate``
    then creates the tables as the owner and grants the app its rights."""
    import psycopg
    from psycopg import sql

    if owner.user == app.user:
        raise ValueError("the owner and the app must be two different roles")
    if (owner.host, owner.port, owner.database) != (app.host, app.port, app.database):
        raise ValueError("ORDERHUB_OWNER_DATABASE_URL and DATABASE_URL must name the same database")
    if app.user == superuser.user:
        raise ValueError(f"the app must not connect as the superuser {app.user}")
    db = app.database
    with psycopg.connect(**superuser.conninfo(superuser.database or "postgres"), autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cur.fetchone()
        if not row or not row[0]:
            raise ValueError(f"{superuser.user} is not a superuser")
        ensure_role(cur, owner.user, owner.password, createdb=createdb_owner)
        ensure_role(cur, app.user, app.password)
        log(f"roles {owner.user} (owner) and {app.user} (app) ready")
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db])
        if cur.fetchone():
            cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(db), sql.Identifier(owner.user)))
        else:
            cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db), sql.Identifier(owner.user)))
            log(f"database {db} created, owned by {owner.user}")
    with psycopg.connect(**superuser.conninfo(db), autocommit=True) as conn:
        cur = conn.cursor()
        o, a = sql.Identifier(owner.user), sql.Identifier(app.user)
        cur.execute(sql.SQL("REVOKE {} FROM {}").format(o, a))   # no membership: no SET ROLE owner
        cur.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(a, o))
        cur.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(o))
        cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(db)))
        cur.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}, {}").format(sql.Identifier(db), o, a))
    log(f"database {db}: everything owned by {owner.user}; {app.user} owns nothing")

"""The application's database role owns nothing and cannot lift the guards of the append-only
tables; every normal write path works as it; the owner role (migrations) has the tables; a
table a later migration makes is reachable without a grant; and `orderhub db init-roles` +
`orderhub migrate` set a fresh server up so. The whole PostgreSQL suite runs as the app role
(tests/pgroles.py); these tests say so and try each bypass."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from orderhub.core import dbroles
from orderhub.core.models import AuditEvent
from orderhub.intake import services as intake
from orderhub.intake.models import InboundMessage
from orderhub.inventory.models import Reservation
from orderhub.notify.delivery import deliver_due
from orderhub.notify.models import Message
from orderhub.orders import services
from orderhub.orders.models import Order, Snapshot
from orderhub.orders.selectors import verify_order_audit
from tests import pgroles
from tests.conftest import order_input
from tests.intake.conftest import intake_actor, master  # noqa: F401  (fixtures)
from tests.intake.test_cli_and_crash import taobao_csv

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
ROOT = Path(__file__).resolve().parents[2]


def _refused(sql: str, params=(), *, match: str = "permission denied|must be owner"):
    with pytest.raises(DatabaseError, match=match), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, list(params))


@pytest.fixture
def history(company):
    a = company["actors"]
    order = services.order_create(data=order_input(), actor=a["sales"]).order
    services.order_transition(order=order, to="scheduled", actor=a["service"])
    msg = intake.inbound_receive(channel="miniprogram", kind="api", actor=a["sales"], payload=b'{"x": 1}',
                                 content_type="application/json")
    return order, msg


def test_the_suite_runs_as_the_app_role_which_owns_nothing(company):
    with connection.cursor() as cur:
        cur.execute("SELECT current_user, session_user")
        assert cur.fetchone() == (pgroles.app_role(), pgroles.app_role())
    assert dbroles.app_role_problems(pgroles.app_role()) == []
    owner_problems = dbroles.app_role_problems(pgroles.owner_role())
    assert any("owns" in p for p in owner_problems)   # the check does see an owner


@pytest.mark.parametrize("sql", [
    "ALTER TABLE core_auditevent DISABLE TRIGGER ALL",
    "ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only_row",
    "ALTER TABLE orders_snapshot DISABLE TRIGGER USER",
    "ALTER TABLE intake_inboundmessage DISABLE TRIGGER intake_inboundmessage_raw_guard_update",
    "DROP TRIGGER core_auditevent_append_only_row ON core_auditevent",
    "CREATE OR REPLACE FUNCTION core_auditevent_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN NEW; END $$",
    "ALTER TABLE core_auditevent OWNER TO CURRENT_USER",
    "SET session_replication_role = replica",
    "SET LOCAL session_replication_role = replica",
])
def test_the_app_role_cannot_switch_a_guard_off(history, sql):
    _refused(sql)


def test_no_role_switch_or_self_grant_helps(history):
    _refused(f"SET ROLE {pgroles.owner_role()}")
    _refused(f"SET SESSION AUTHORIZATION {pgroles.owner_role()}")
    with connection.cursor() as cur:   # a grant without the right to grant is a no-op (a warning)
        cur.execute(f"GRANT UPDATE, DELETE, TRUNCATE ON core_auditevent TO {pgroles.app_role()}")
    _refused("UPDATE core_auditevent SET reason = 'x'")


@pytest.mark.parametrize("table", ["core_auditevent", "orders_snapshot", "intake_inboundmessage",
                                   "core_auditlegacyboundary"])
@pytest.mark.parametrize("setting", ["", "SET orderhub.allow_truncate = on", "SET LOCAL orderhub.allow_truncate = on",
                                     "SET orderhub.anything = on"])
def test_append_only_rows_cannot_be_changed_deleted_or_truncated(history, table, setting):
    """No session setting lifts the guards: whatever ``orderhub.*`` says, the app role has no
    UPDATE (of the kept columns), DELETE or TRUNCATE there."""
    column = {"core_auditevent": "reason", "orders_snapshot": "content",
              "intake_inboundmessage": "payload", "core_auditlegacyboundary": "max_id"}[table]
    value = "0" if table == "core_auditlegacyboundary" else ("'\\x00'::bytea" if column == "payload" else "'x'")
    for sql in (f"UPDATE {table} SET {column} = {value}", f"DELETE FROM {table}", f"TRUNCATE {table}",
                f"TRUNCATE {table} CASCADE"):
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic(), \
                connection.cursor() as cur:
            if setting:
                cur.execute(setting)
            cur.execute(sql)
    assert AuditEvent.objects.exists() and Snapshot.objects.exists() and InboundMessage.objects.exists()


def test_a_raw_payload_keeps_only_its_status_columns_writable(history):
    _order, msg = history
    _refused("UPDATE intake_inboundmessage SET status = 'failed', payload = payload WHERE id = %s", [msg.pk])
    with connection.cursor() as cur:
        cur.execute("UPDATE intake_inboundmessage SET status = 'failed', errors = '[]'::jsonb, attempts = 3, "
                    "route = 'taobao', queued = true WHERE id = %s", [msg.pk])
        assert cur.rowcount == 1
    _refused("SELECT 1 FROM django_migrations FOR UPDATE")
    _refused("INSERT INTO django_migrations (app, name, applied) VALUES ('core', 'x', now())")


@pytest.mark.django_db(transaction=True)
def test_the_triggers_still_refuse_the_owner_and_no_setting_lifts_them(history):
    """Defence in depth: the owner has every privilege, the triggers still refuse it (it would
    have to disable them: an act of the owner, never of the app)."""
    with pgroles.connect("owner") as conn:
        for sql, words in [("UPDATE core_auditevent SET reason = 'x'", "append-only"),
                           ("DELETE FROM orders_snapshot", "append-only"),
                           ("UPDATE intake_inboundmessage SET payload = '\\x00'::bytea", "immutable"),
                           ("DELETE FROM intake_inboundmessage", "DELETE refused"),
                           ("TRUNCATE core_auditevent CASCADE", "TRUNCATE refused"),
                           ("TRUNCATE orders_snapshot", "TRUNCATE refused"),
                           ("TRUNCATE intake_inboundmessage CASCADE", "TRUNCATE refused")]:
            for setting in ("", "SET orderhub.allow_truncate = on"):
                with pytest.raises(psycopg.Error, match=words), conn.transaction():
                    if setting:
                        conn.execute(setting)
                    conn.execute(sql)
    assert AuditEvent.objects.exists() and Snapshot.objects.exists() and InboundMessage.objects.exists()


def test_a_table_a_later_migration_makes_is_reachable_without_a_grant(history):
    with pgroles.connect("owner") as owner:
        owner.execute("CREATE TABLE zz_later_migration (id bigserial PRIMARY KEY, v text)")
    try:
        with pgroles.connect("app") as app:
            app.execute("INSERT INTO zz_later_migration (v) VALUES ('a'), ('b')")
            app.execute("UPDATE zz_later_migration SET v = 'c' WHERE v = 'a'")
            app.execute("DELETE FROM zz_later_migration WHERE v = 'b'")
            assert app.execute("SELECT v FROM zz_later_migration").fetchall() == [("c",)]
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("TRUNCATE zz_later_migration")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("ALTER TABLE zz_later_migration ADD COLUMN w text")
    finally:
        with pgroles.connect("owner") as owner:
            owner.execute("DROP TABLE zz_later_migration")


def test_every_normal_write_path_works_as_the_app_role(master, intake_actor):  # noqa: F811
    a = master["actors"]
    with connection.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] == pgroles.app_role()
    order = services.order_create(data=order_input(), actor=a["sales"]).order                  # create
    batch = services.order_create_batch(items=[order_input(channel="import", external_ref=f"B{i}")
                                               for i in range(3)], actor=a["sales"])          # batch
    assert all(r.created for r in batch)
    assert services.order_transition(order=order, to="scheduled", actor=a["service"]).ok
    assert services.order_transition(order=order, to="materials_ready", actor=a["planner"]).ok  # reserves
    assert Reservation.objects.filter(order=order).exists()
    services.order_cancel(order=Order.objects.get(pk=order.pk), actor=a["admin"], reason="客户取消")  # cancel
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    job = intake.upload_import(channel="taobao", filename="t.csv", content=taobao_csv(5),
                               actor=intake_actor)                                            # intake import
    assert job.orders_created == 5
    assert Message.objects.filter(order=batch[0].order).exists()                            # outbox rows
    deliver_due()
    assert Message.objects.exclude(status="queued").exists()                                 # delivery updates
    _, breaks, bad = verify_order_audit()
    assert breaks == [] and bad == []


@pytest.mark.django_db(transaction=True)
def test_init_roles_then_migrate_as_the_owner_sets_a_fresh_server_up(tmp_path):
    """`orderhub db init-roles` (as a superuser) and `orderhub migrate` (as the owner) on a new
    database: the owner owns every table, the app none, with exactly its rights; both commands
    run again change nothing; a table the app role owned (an install from before) moves."""
    base = f"{connection.settings_dict['NAME']}_fresh"
    owner, app = f"{base}_owner", f"{base}_app"
    su = dbroles.RoleUrl(user=pgroles._roles.superuser.user, password=pgroles._roles.superuser.password,
                         host=connection.settings_dict["HOST"] or "127.0.0.1",
                         port=int(connection.settings_dict["PORT"] or 5432), database="postgres")
    hostport = pgroles.server_in_url(su.host, su.port)
    env = {**os.environ, "DATABASE_URL": f"postgres://{app}:app-pw@{hostport}/{base}",
           "ORDERHUB_OWNER_DATABASE_URL": f"postgres://{owner}:owner-pw@{hostport}/{base}",
           "ORDERHUB_SUPERUSER_DATABASE_URL": f"postgres://{su.user}@{hostport}/postgres",
           "ORDERHUB_DATA_DIR": str(tmp_path)}

    def orderhub(*args, environ=env):
        done = subprocess.run([sys.executable, "-m", "orderhub.cli", *args], env=environ, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def admin(sql, params=(), db=base):
        with psycopg.connect(**su.conninfo(db), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall() if sql.lstrip().upper().startswith("SELECT") \
                else conn.execute(sql, params)

    try:
        orderhub("db", "init-roles")
        admin(f'CREATE TABLE legacy_owned_by_app (id int); ALTER TABLE legacy_owned_by_app OWNER TO "{app}"')
        orderhub("db", "init-roles")                                  # again: moves what the app owned
        assert "warning" not in orderhub("migrate").lower()
        orderhub("migrate")                                           # idempotent
        app_env = {k: v for k, v in env.items() if k != "ORDERHUB_OWNER_DATABASE_URL"}
        assert "owns nothing" in orderhub("db", "check", environ=app_env)
        assert "所有事件链完好" in orderhub("audit", "verify", environ=app_env)
        owners = {r[0] for r in admin("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")}
        assert owners == {owner}
        rights = dict(admin(
            "SELECT t, has_table_privilege(%s, t, p) FROM unnest(%s::text[]) t, "
            "unnest(ARRAY['UPDATE']) p", [app, ["core_auditevent", "orders_snapshot", "orders_order"]]))
        assert rights == {"core_auditevent": False, "orders_snapshot": False, "orders_order": True}
        assert admin("SELECT has_table_privilege(%s, 'core_auditevent', 'INSERT'), "
                     "has_table_privilege(%s, 'core_auditevent', 'DELETE'), "
                     "has_table_privilege(%s, 'core_auditevent', 'TRUNCATE'), "
                     "has_column_privilege(%s, 'intake_inboundmessage', 'status', 'UPDATE'), "
                     "has_column_privilege(%s, 'intake_inboundmessage', 'payload', 'UPDATE'), "
                     "has_table_privilege(%s, 'django_migrations', 'INSERT')", [app] * 6) \
            == [(True, False, False, True, False, False)]
    finally:
        admin(f'DROP DATABASE IF EXISTS "{base}" WITH (FORCE)', db="postgres")
        for role in (app, owner):
            admin(f'DROP ROLE IF EXISTS "{role}"', db="postgres")


def test_a_role_url_may_name_a_unix_socket():
    """``DATABASE_URL`` with PostgreSQL's socket directory as the host (percent-encoded), as the
    README advises where the server runs on the same machine: the roles' commands connect there."""
    url = dbroles.RoleUrl.parse("postgres://orderhub_app:p%40ss@%2Fvar%2Frun%2Fpostgresql/orderhub")
    assert (url.user, url.password, url.host, url.port, url.database) == (
        "orderhub_app", "p@ss", "/var/run/postgresql", 5432, "orderhub")
    assert dbroles.RoleUrl.parse("postgres://u@%2Ftmp%2FPG:5433/db").host == "/tmp/PG"
    assert dbroles.RoleUrl.parse("postgres://u@Db.Example:6432/db").conninfo()["host"] == "db.example"

"""The audit log is append-only and tamper-evident; `orderhub audit verify` finds any break."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from orderhub.core.canonical import sha256_hex
from orderhub.core.models import AuditEvent
from orderhub.orders import services
from orderhub.orders.models import Snapshot
from orderhub.orders.selectors import verify_order_audit
from tests.conftest import order_input


def _history(company, n=3):
    a = company["actors"]
    orders = []
    for _ in range(n):
        order = services.order_create(data=order_input(), actor=a["sales"]).order
        services.order_transition(order=order, to="scheduled", actor=a["service"])
        services.order_hold(order=order, actor=a["finance"], reason="核对税号")
        orders.append(order)
    return orders


def _tamper(sql, params):
    """What a person with database access might do; on PostgreSQL the append-only triggers
    must be bypassed first, which only a superuser can (replication role)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET session_replication_role = replica")
        cur.execute(sql, params)
        if connection.vendor == "postgresql":
            cur.execute("SET session_replication_role = origin")


@pytest.mark.smoke
@pytest.mark.django_db
def test_intact_history_verifies(company, capsys):
    _history(company)
    checked, breaks, bad = verify_order_audit()
    assert checked >= 9 and breaks == [] and bad == []
    call_command("audit", "verify")
    assert "every chain intact" in capsys.readouterr().out


@pytest.mark.smoke
@pytest.mark.django_db
def test_edited_reason_is_found(company):
    orders = _history(company)
    ev = AuditEvent.objects.get(subject_type="order", subject_id=orders[1].pk, action="order.held")
    _tamper("UPDATE core_auditevent SET reason = %s WHERE id = %s", ["已核对", ev.pk])
    _, breaks, _ = verify_order_audit()
    assert [(b.subject_id, b.seq) for b in breaks] == [(orders[1].pk, ev.seq)]
    assert "edited" in breaks[0].problem
    with pytest.raises(CommandError):
        call_command("audit", "verify")


@pytest.mark.smoke
@pytest.mark.django_db
def test_deleted_middle_and_tail_events_are_found(company):
    orders = _history(company)
    middle = AuditEvent.objects.get(subject_type="order", subject_id=orders[0].pk, seq=2)
    tail = AuditEvent.objects.get(subject_type="order", subject_id=orders[2].pk, action="order.held")
    _tamper("DELETE FROM core_auditevent WHERE id IN (%s, %s)", [middle.pk, tail.pk])
    _, breaks, _ = verify_order_audit()
    broken = {b.subject_id for b in breaks}
    assert broken == {orders[0].pk, orders[2].pk}


@pytest.mark.smoke
@pytest.mark.django_db
def test_edited_snapshot_is_found(company):
    orders = _history(company, n=1)
    snap = Snapshot.objects.filter(order=orders[0]).first()
    assert snap.sha256 == sha256_hex(snap.content)
    _tamper("UPDATE orders_snapshot SET content = replace(content, '\"100\"', '\"10\"') WHERE id = %s", [snap.pk])
    _, _, bad = verify_order_audit()
    assert bad == [(orders[0].pk, snap.version)]


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("sql", [
    "UPDATE core_auditevent SET reason = 'x'",
    "DELETE FROM core_auditevent",
    "UPDATE orders_snapshot SET sha256 = 'x'",
    "DELETE FROM orders_snapshot",
])
def test_postgres_refuses_update_and_delete(company, sql):
    _history(company, n=1)
    with pytest.raises(DatabaseError) as err, transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)
    assert "append-only" in str(err.value)

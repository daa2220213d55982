"""Tampering with the audit log the way someone with direct database access would.

On PostgreSQL the app's role cannot (tests/core/test_db_roles.py), so the attacker is the
superuser with ``session_replication_role = replica`` (triggers skipped) or the table owner with
the triggers disabled, on a connection of their own: tests that tamper commit their data first
(``django_db(transaction=True)``). SQLite has no guards: the test's own connection does it.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection

from orderhub.core import audit
from orderhub.core.canonical import canonical_json, sha256_hex
from orderhub.core.models import AuditEvent
from tests import pgroles


@contextmanager
def attacker(role: str = "superuser"):
    if connection.vendor != "postgresql":
        with connection.cursor() as cur:
            yield cur
        return
    with pgroles.connect(role) as conn:
        cur = conn.cursor()
        if role == "superuser":
            cur.execute("SET session_replication_role = replica")
            yield cur
            return
        guarded = [r[0] for r in cur.execute(
            "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal").fetchall()]
        for table in guarded:
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            yield cur
        finally:
            for table in guarded:
                cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def run(sql: str, params=(), role: str = "superuser") -> None:
    with attacker(role) as cur:
        cur.execute(sql, list(params))


def events(order) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("seq"))


def reseal(ev: AuditEvent, *, key: bytes | None, key_id: str) -> str:
    """The hash an attacker computes for ``ev``: a MAC under ``key`` (with ``key_id`` recorded),
    or, with no key, a plain SHA-256 as a legacy event has."""
    ev.key_id = key_id
    text = canonical_json(audit._hashed_fields(ev))
    return sha256_hex(text) if key is None else audit.mac_hex(key, text)


def rewrite_chain(order, *, key: bytes | None, key_id: str, edit=None, role: str = "superuser") -> str:
    """Rewrite every event of ``order`` (``edit(ev)`` changes the first one), re-link and re-seal
    them, and move the head the order row records: returns the new head."""
    evs = events(order)
    if edit:
        edit(evs[0])
    prev = ""
    with attacker(role) as cur:
        for ev in evs:
            ev.prev_hash = prev
            ev.hash = reseal(ev, key=key, key_id=key_id)
            cur.execute("UPDATE core_auditevent SET reason = %s, prev_hash = %s, hash = %s, key_id = %s "
                        "WHERE id = %s", [ev.reason, ev.prev_hash, ev.hash, ev.key_id, ev.pk])
            prev = ev.hash
        cur.execute("UPDATE orders_order SET audit_head = %s WHERE id = %s", [prev, order.pk])
    return prev

"""Appending to the tamper-evident audit log, and the keyed MAC that seals it.

Every event carries ``hash`` = HMAC-SHA256, keyed with ``settings.ORDERHUB_AUDIT_KEY`` (a key
that lives outside the database), of the canonical JSON of its fields, ``prev_hash`` (the MAC of
the subject's previous event) and ``key_id`` (which key sealed it), so someone who can write the
database but does not hold the key can neither edit an event nor forge or re-hash a chain. Keys
rotate: events keep the id of the key that sealed them and verification looks the key up among
the current one and ``settings.ORDERHUB_AUDIT_RETIRED_KEYS``. Events made before keyed chains
(``key_id`` empty) carry a plain SHA-256 and are verified as a legacy segment
(:mod:`orderhub.core.audit_verify`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from . import clock
from .actors import Actor
from .canonical import canonical_json, sha256_hex, to_plain
from .instances import new
from .models import AuditEvent

if TYPE_CHECKING:
    from django.db.migrations import RunPython

GENESIS = ""
LEGACY = ""   # the key id of events made before keyed chains (plain SHA-256)


# --------------------------------------------------------------------------- keys


def key_id_of(key: str) -> str:
    """The short public name of a key: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


@lru_cache(maxsize=16)
def _key(key: str) -> tuple[str, bytes]:
    if not key:
        raise ImproperlyConfigured(
            "ORDERHUB_AUDIT_KEY is not set: audit events cannot be sealed (set it in the "
            "environment; outside production it is made once under ORDERHUB_DATA_DIR/keys)")
    return key_id_of(key), key.encode("utf-8")


def current_key() -> tuple[str, bytes]:
    """(key id, key) of the key that seals new events and checkpoints."""
    return _key(settings.ORDERHUB_AUDIT_KEY)


def keyring() -> dict[str, bytes]:
    """Every key verification accepts, by key id: the current key and the retired ones."""
    ring = {}
    for key in getattr(settings, "ORDERHUB_AUDIT_RETIRED_KEYS", ()):
        if key:
            kid, raw = _key(key)
            ring[kid] = raw
    if settings.ORDERHUB_AUDIT_KEY:
        kid, raw = current_key()
        ring[kid] = raw
    return ring


@lru_cache(maxsize=16)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def mac_hex(key: bytes, text: str) -> str:
    """HMAC-SHA256 of ``text`` under ``key``, hex (a copy of the keyed state: about half the
    cost of ``hmac.digest``, which sets the key up on every call)."""
    mac = _keyed(key).copy()
    mac.update(text.encode("utf-8"))
    return mac.hexdigest()


def seal(text: str) -> tuple[str, str]:
    """(key id, MAC) of ``text`` with the current key: for rows outside the chain (snapshots)."""
    kid, key = current_key()
    return kid, mac_hex(key, text)


def seal_matches(text: str, key_id: str, mac: str, keys: dict[str, bytes]) -> bool | None:
    """Whether ``mac`` is ``text``'s MAC under the key ``key_id``; None if that key is unknown."""
    key = keys.get(key_id)
    if key is None:
        return None
    return hmac.compare_digest(mac_hex(key, text), mac)


# --------------------------------------------------------------------------- events


def _hashed_fields(ev: AuditEvent) -> dict[str, Any]:
    fields = {
        "subject_type": ev.subject_type,
        "subject_id": ev.subject_id,
        "seq": ev.seq,
        "at": ev.at.astimezone(UTC).isoformat(),
        "action": ev.action,
        "actor_kind": ev.actor_kind,
        "actor_id": ev.actor_id,
        "actor_label": ev.actor_label,
        "ip": ev.ip,
        "user_agent": ev.user_agent,
        "request_id": ev.request_id,
        "changes": ev.changes,
        "data": ev.data,
        "reason": ev.reason,
        "forced": ev.forced,
        "prev_hash": ev.prev_hash,
    }
    if ev.key_id:   # legacy events were hashed without it
        fields["key_id"] = ev.key_id
    return fields


def event_seal_matches(ev: AuditEvent, keys: dict[str, bytes]) -> bool | None:
    """Whether the event's ``hash`` is what its content gives: the MAC under the key it names,
    or (a legacy event) the plain SHA-256. None: the key it names is not configured."""
    text = canonical_json(_hashed_fields(ev))
    if ev.key_id == LEGACY:
        return hmac.compare_digest(sha256_hex(text), ev.hash)
    return seal_matches(text, ev.key_id, ev.hash, keys)


def build_event(*, subject_type: str, subject_id: int, head: tuple[int, str], action: str,
                actor: Actor, changes: dict[str, Any] | None = None,
                data: dict[str, Any] | None = None, reason: str = "", forced: bool = False,
                at: datetime | None = None, plain: bool = False, data_json: str | None = None) -> AuditEvent:
    """Make (not save) the next event after ``head`` = (seq, hash) of the subject's last event.

    Callers that hold the subject row locked keep the head on that row, so appending costs no
    extra read. ``changes`` maps field -> [before, after]. ``plain``: the caller vouches that
    ``changes`` and ``data`` hold only JSON values already (as ``to_plain`` would return them),
    which spares the round trip on batch paths. Sealing costs one HMAC and no query.
    ``data_json``: ``canonical_json(data)`` if the caller has it already (an import's order
    holds its normalised input, encoded once for its fingerprint): the hashed text is made with
    it rather than encoding ``data`` again (the same text, see :func:`hashed_text`); only with
    ``plain``.
    """
    seq, prev_hash = head
    kid, key = current_key()
    ctx = actor.context
    ev = new(
        AuditEvent,
        subject_type=subject_type,
        subject_id=subject_id,
        seq=seq + 1,
        at=at or clock.now(),
        action=action,
        actor_kind=actor.kind,
        actor_id=actor.id[:64],
        actor_label=actor.label[:150],
        ip=ctx.ip,
        user_agent=(ctx.user_agent or "")[:400],
        request_id=(ctx.request_id or "")[:64],
        changes=(changes or {}) if plain else to_plain(changes or {}),
        data=(data or {}) if plain else to_plain(data or {}),
        reason=reason or "",
        forced=forced,
        prev_hash=prev_hash,
        key_id=kid,
    )
    if data_json is not None and not plain:
        raise ValueError("data_json needs plain data")
    ev.hash = mac_hex(key, hashed_text(ev, data_json))
    return ev


def hashed_text(ev: AuditEvent, data_json: str | None = None) -> str:
    """``canonical_json(_hashed_fields(ev))``, the text an event's hash seals. With
    ``data_json`` (``canonical_json(ev.data)``, given by the caller) that part is not encoded
    again but put in its place: canonical JSON sorts the keys and separates them by "," and
    ":" only, so the object is the fields before "data", then "data", then the ones after."""
    fields = _hashed_fields(ev)
    if data_json is None:
        return canonical_json(fields)
    del fields["data"]
    before = canonical_json({k: v for k, v in fields.items() if k < "data"})
    after = canonical_json({k: v for k, v in fields.items() if k > "data"})
    if before == "{}" or after == "{}":   # not the shape an event has; never splice around nothing
        return canonical_json({**fields, "data": json.loads(data_json)})
    return f'{before[:-1]},"data":{data_json},{after[1:]}'


def append_event(*, subject_type: str, subject_id: int, action: str, actor: Actor,
                 changes: dict[str, Any] | None = None, data: dict[str, Any] | None = None,
                 reason: str = "", forced: bool = False) -> AuditEvent:
    """Append for a subject that keeps no head of its own (configuration, master data).

    The (subject, seq) unique constraint refuses a forked chain if two writers race.
    """
    last = (
        AuditEvent.objects.filter(subject_type=subject_type, subject_id=subject_id)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    ev = build_event(subject_type=subject_type, subject_id=subject_id, head=last or (0, GENESIS),
                     action=action, actor=actor, changes=changes, data=data, reason=reason,
                     forced=forced)
    ev.save(force_insert=True)
    return ev


# --------------------------------------------------------------------------- PostgreSQL guards


def append_only_trigger_sql(table: str) -> tuple[str, str]:
    """PostgreSQL DDL that refuses UPDATE, DELETE and TRUNCATE on ``table``, and its reverse.

    No session setting lifts it: only the table's owner can (by disabling the trigger), and the
    application's database role owns no table (:mod:`orderhub.core.dbroles`)."""
    fn = f"{table}_append_only"
    forward = f"""
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '{table} is append-only: %% refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER {fn}_row BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {fn}();
{truncate_guard_sql(fn + "_truncate", f"{table} is append-only: TRUNCATE refused")}
CREATE TRIGGER {fn}_truncate BEFORE TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION {fn}_truncate();
"""
    reverse = f"""
DROP TRIGGER IF EXISTS {fn}_row ON {table};
DROP TRIGGER IF EXISTS {fn}_truncate ON {table};
DROP FUNCTION IF EXISTS {fn}();
DROP FUNCTION IF EXISTS {fn}_truncate();
"""
    return forward, reverse


def truncate_guard_sql(function: str, message: str) -> str:
    """(Re)define the statement-trigger function that refuses TRUNCATE, whatever the session."""
    return f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def record_legacy_boundary(table: str) -> RunPython:
    """A migration operation: record in ``AuditLegacyBoundary`` the highest id ``table`` has
    handed out so far (with the id block a running process may still hold), so its rows up to
    there may be legacy (unsealed) and every later one must carry a MAC. 0 on an empty table."""
    from django.db import migrations
    from django.utils import timezone

    def run(apps: Any, schema_editor: Any) -> None:
        conn = schema_editor.connection
        with conn.cursor() as cur:
            cur.execute(f"SELECT max(id) FROM {table}")
            top = cur.fetchone()[0] or 0
            if top and conn.vendor == "postgresql":
                cur.execute("SELECT s.last_value + s.increment_by - 1 FROM pg_sequences s "
                            "WHERE format('%%I.%%I', s.schemaname, s.sequencename) = "
                            "pg_get_serial_sequence(%s, 'id')", [table])
                row = cur.fetchone()
                top = max(top, (row[0] or 0) if row else 0)
        apps.get_model("core", "AuditLegacyBoundary").objects.using(conn.alias).create(
            table=table, max_id=top, recorded_at=timezone.now())

    def undo(apps: Any, schema_editor: Any) -> None:
        apps.get_model("core", "AuditLegacyBoundary").objects.using(
            schema_editor.connection.alias).filter(table=table).delete()

    return migrations.RunPython(run, undo)

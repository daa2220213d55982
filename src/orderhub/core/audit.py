"""Appending to and verifying the tamper-evident audit log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from . import clock
from .actors import Actor
from .canonical import canonical_json, sha256_hex, to_plain
from .instances import new
from .models import AuditEvent

GENESIS = ""


def _event_digest(fields: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(fields))


def _hashed_fields(ev: AuditEvent) -> dict[str, Any]:
    return {
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


def build_event(*, subject_type: str, subject_id: int, head: tuple[int, str], action: str,
                actor: Actor, changes: dict[str, Any] | None = None,
                data: dict[str, Any] | None = None, reason: str = "", forced: bool = False,
                at: datetime | None = None, plain: bool = False) -> AuditEvent:
    """Make (not save) the next event after ``head`` = (seq, hash) of the subject's last event.

    Callers that hold the subject row locked keep the head on that row, so appending costs no
    extra read. ``changes`` maps field -> [before, after]. ``plain``: the caller vouches that
    ``changes`` and ``data`` hold only JSON values already (as ``to_plain`` would return them),
    which spares the round trip on batch paths.
    """
    seq, prev_hash = head
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
    )
    ev.hash = _event_digest(_hashed_fields(ev))
    return ev


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


@dataclass(frozen=True)
class ChainBreak:
    subject_type: str
    subject_id: int
    seq: int
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id} #{self.seq} (event {self.event_id}): {self.problem}"


def _iter_events(subject_type: str | None) -> Iterator[AuditEvent]:
    qs = AuditEvent.objects.order_by("subject_type", "subject_id", "seq")
    if subject_type:
        qs = qs.filter(subject_type=subject_type)
    return qs.iterator(chunk_size=5000)


def verify_chains(*, heads: Iterable[tuple[str, int, int, str]] = (),
                  subject_type: str | None = None) -> tuple[int, list[ChainBreak]]:
    """Walk every chain; return (events checked, breaks).

    ``heads`` are (subject_type, subject_id, seq, hash) that subjects recorded for their last
    event: a chain whose tail was deleted is caught by comparing with them.
    """
    breaks: list[ChainBreak] = []
    last: dict[tuple[str, int], tuple[int, str]] = {}
    checked = 0
    current: tuple[str, int] | None = None
    expected_seq, expected_prev = 0, GENESIS
    for ev in _iter_events(subject_type):
        checked += 1
        key = (ev.subject_type, ev.subject_id)
        if key != current:
            current, expected_seq, expected_prev = key, 0, GENESIS
        expected_seq += 1
        if ev.seq != expected_seq:
            breaks.append(ChainBreak(*key, ev.seq, ev.pk,
                                     f"sequence jumps from {expected_seq - 1} to {ev.seq} (events missing)"))
            expected_seq = ev.seq
        if ev.prev_hash != expected_prev:
            breaks.append(ChainBreak(*key, ev.seq, ev.pk, "previous-hash link does not match"))
        if _event_digest(_hashed_fields(ev)) != ev.hash:
            breaks.append(ChainBreak(*key, ev.seq, ev.pk, "content does not match its hash (edited)"))
        expected_prev = ev.hash
        last[key] = (ev.seq, ev.hash)
    for stype, sid, seq, digest in heads:
        if subject_type and stype != subject_type:
            continue
        found = last.get((stype, sid))
        if seq and found is None:
            breaks.append(ChainBreak(stype, sid, seq, None, "all events missing"))
        elif found and found != (seq, digest):
            breaks.append(ChainBreak(stype, sid, seq, None,
                                     f"last event is #{found[0]} but the subject records #{seq} (tail deleted or replaced)"))
    return checked, breaks


def append_only_trigger_sql(table: str) -> tuple[str, str]:
    """PostgreSQL DDL that refuses UPDATE, DELETE and TRUNCATE on ``table``, and its reverse."""
    fn = f"{table}_append_only"
    forward = f"""
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '{table} is append-only: %% refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER {fn}_row BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {fn}();
CREATE OR REPLACE FUNCTION {fn}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- a test database is emptied between tests; it sets this on its connections
  IF current_setting('orderhub.allow_truncate', true) = 'on' THEN RETURN NULL; END IF;
  RAISE EXCEPTION '{table} is append-only: TRUNCATE refused' USING ERRCODE = 'insufficient_privilege';
END $$;
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


def is_postgres() -> bool:
    return connection.vendor == "postgresql"

"""What the audit verifier and the checkpoint job share: the subject kinds apps register, what a
finding is, one consistent snapshot of the database, and the streams they read.

Core knows no app. An app whose subjects keep their chain head on their own row (orders keep
``audit_seq``/``audit_head``) registers it in its ``AppConfig.ready()``::

    register_subject("order", noun=_("order"), heads=order_audit_heads, history_required=True)

``heads()`` yields ``(subject id, seq, head MAC, label)`` ordered by id, the label naming the
subject to people (the order number). An app may also register a check that runs inside the
verifier's snapshot (orders: sealed snapshots). Subjects nobody registers are verified from
their events alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from .models import AuditEvent, AuditLegacyBoundary

Head = tuple[int, int, str, str]   # subject id, seq, head MAC, label


@dataclass(frozen=True)
class SubjectKind:
    subject_type: str
    noun: Any                                   # a lazy translated noun: "order"
    heads: Callable[[], Iterable[Head]] | None = None
    history_required: bool = False              # every subject has at least one event


@dataclass(frozen=True)
class Finding:
    """One thing wrong, in plain words: ``label`` names the subject (``订单 SO-…``), ``kind``
    is a stable code (``tail_deleted``, ``edited`` …) and ``message`` says what is wrong."""

    kind: str
    label: str
    message: str
    subject_type: str = ""
    subject_id: int | None = None
    seq: int | None = None

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"


@dataclass(frozen=True)
class VerifyContext:
    """What a registered check needs: the keys by id and the legacy boundaries by table."""

    keys: dict[str, bytes]
    boundaries: dict[str, int]


_kinds: dict[str, SubjectKind] = {}
_checks: dict[str, tuple[str, Callable[[VerifyContext], Iterable[Finding]]]] = {}


def register_subject(subject_type: str, *, noun: Any, heads: Callable[[], Iterable[Head]] | None = None,
                     history_required: bool = False) -> None:
    _kinds[subject_type] = SubjectKind(subject_type, noun, heads, history_required)


def register_check(name: str, check: Callable[[VerifyContext], Iterable[Finding]], *,
                   subject_type: str) -> None:
    """``check(context)`` yields findings about subjects of ``subject_type``; it runs inside the
    verifier's snapshot whenever that type is verified."""
    _checks[name] = (subject_type, check)


def subject_kind(subject_type: str) -> SubjectKind | None:
    return _kinds.get(subject_type)


def registered_checks() -> dict[str, tuple[str, Callable[[VerifyContext], Iterable[Finding]]]]:
    """name -> (subject type, check)."""
    return dict(_checks)


def head_types() -> set[str]:
    return {t for t, k in _kinds.items() if k.heads is not None}


def describe(subject_type: str, subject_id: int | None, label: str = "") -> str:
    """How people call a subject: ``订单 SO-261122-000351``, ``customer #12``."""
    kind = _kinds.get(subject_type)
    noun = str(kind.noun) if kind else subject_type
    if label:
        return f"{noun} {label}"
    return f"{noun} #{subject_id}"


def event_span(seqs: list[int]) -> str:
    if len(seqs) == 1:
        return _("event #%(seq)s") % {"seq": seqs[0]}
    return _("events #%(first)s–#%(last)s (%(n)s)") % {"first": seqs[0], "last": seqs[-1], "n": len(seqs)}


# --------------------------------------------------------------------------- reading


@contextmanager
def consistent_snapshot() -> Iterator[None]:
    """Read everything inside one snapshot of the database: on PostgreSQL a REPEATABLE READ,
    READ ONLY transaction, so writers committing meanwhile are either wholly seen or not at all
    (an order row's head and its events always agree). Inside a caller's transaction (tests),
    that transaction is the snapshot."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def event_types() -> list[str]:
    """The subject types that have events, by a loose index scan (one index probe per type,
    whatever the number of events)."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(
            f"WITH RECURSIVE t(st) AS (SELECT min(subject_type) FROM {table} UNION ALL "
            f"SELECT (SELECT min(subject_type) FROM {table} WHERE subject_type > t.st) "
            f"FROM t WHERE t.st IS NOT NULL) SELECT st FROM t WHERE st IS NOT NULL")
        return sorted(r[0] for r in cur.fetchall())


def legacy_boundaries() -> dict[str, int]:
    return dict(AuditLegacyBoundary.objects.values_list("table", "max_id"))


def events_of(subject_type: str) -> Iterator[tuple[int, list[AuditEvent]]]:
    """(subject id, its events by seq) for every subject of the type, by id, streamed."""
    rows = (AuditEvent.objects.filter(subject_type=subject_type).order_by("subject_id", "seq")
            .iterator(chunk_size=2000))
    for sid, group in groupby(rows, key=lambda ev: ev.subject_id):
        yield sid, list(group)


def heads_of(subject_type: str) -> Iterator[Head]:
    """Every subject's head, by id: from the registered provider (the subjects' own rows), else
    the last event of each subject (one streamed index scan of the type's events)."""
    kind = _kinds.get(subject_type)
    if kind is not None and kind.heads is not None:
        yield from kind.heads()
        return
    rows = (AuditEvent.objects.filter(subject_type=subject_type).order_by("subject_id", "seq")
            .values_list("subject_id", "seq", "hash").iterator(chunk_size=10000))
    for sid, group in groupby(rows, key=itemgetter(0)):
        *_rest, last = group
        yield sid, last[1], last[2], ""


def events_at(subject_type: str, positions: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """The MACs of the events at ``positions`` = [(subject id, seq)], one query per 1,000."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    found: dict[tuple[int, int], str] = {}
    for i in range(0, len(positions), 1000):
        chunk = positions[i:i + 1000]
        values = ",".join(["(%s,%s)"] * len(chunk))
        params: list[Any] = [x for pos in chunk for x in pos]
        with connection.cursor() as cur:
            cur.execute(f"SELECT e.subject_id, e.seq, e.hash FROM {table} e JOIN (VALUES {values}) AS v "
                        f"ON e.subject_id = v.column1 AND e.seq = v.column2 WHERE e.subject_type = %s",
                        [*params, subject_type])
            for sid, seq, digest in cur.fetchall():
                found[(sid, seq)] = digest
    return found


def merge_by_id(*streams: Iterable[tuple]) -> Iterator[tuple]:
    """Join streams sorted by their first item (a subject id, unique per stream):
    yields (id, item of stream 1 or None, item of stream 2 or None, …) by id."""
    its = [iter(s) for s in streams]
    cur = [next(it, None) for it in its]
    while True:
        live = [x[0] for x in cur if x is not None]
        if not live:
            return
        key = min(live)
        out: list[tuple[Any, ...] | None] = []
        for i, x in enumerate(cur):
            if x is not None and x[0] == key:
                out.append(x)
                cur[i] = next(its[i], None)
            else:
                out.append(None)
        yield (key, *out)

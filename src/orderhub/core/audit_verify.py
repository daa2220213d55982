"""`orderhub audit verify`: every chain, every recorded head and the newest signed checkpoint,
read in one consistent snapshot of the database.

Per subject (events by seq, the head the subject's row records, the checkpoint's head):

* each event's seal: the MAC under the key it names (current or retired key), or, for a legacy
  event made before keyed chains (id up to the recorded legacy boundary), its SHA-256; an
  unkeyed event after that boundary or after a keyed event is a forgery;
* the chain: seq 1, 2, 3 … with no gap, each ``prev_hash`` the MAC of the event before;
* the head the subject records (orders' ``audit_seq``/``audit_head``) is the last event;
* the checkpoint's head is still in the chain, unchanged, at its seq; legacy events beyond it
  are not covered (once a checkpoint exists, every legacy event must be).

Streams are read in (type, id) order and merged, so memory stays flat at millions of subjects.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from . import audit_chains as chains
from .audit import LEGACY, event_seal_matches, keyring
from .audit_chains import Finding, VerifyContext, describe, event_span
from .checkpoints import Checkpoint, newest_valid
from .models import AuditEvent

EVENTS_TABLE = AuditEvent._meta.db_table


@dataclass
class Report:
    events: int = 0
    subjects: int = 0
    legacy_events: int = 0
    legacy_subjects: int = 0
    findings: list[Finding] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    checkpoint_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


def verify(*, subject_types: Collection[str] | None = None, directory: Path | None = None) -> Report:
    """Verify the audit log; ``subject_types`` narrows it to those types (and their checks)."""
    keys = keyring()
    # the checkpoint is chosen before the snapshot starts, so everything it lists is visible
    chosen = newest_valid(directory, keys)
    report = Report(checkpoint=chosen.checkpoint, checkpoint_dir=directory)
    report.findings.extend(chosen.findings)
    cp = chosen.checkpoint
    with chains.consistent_snapshot():
        boundaries = chains.legacy_boundaries()
        if cp is not None:
            for table, value in cp.legacy.items():
                if boundaries.get(table) != value:
                    report.findings.append(Finding(
                        kind="boundary_changed", label=_("legacy boundary"),
                        message=_("the record of where keyed MACs began (%(table)s) was changed: the "
                                  "checkpoint of %(time)s says %(expected)s, the database %(found)s") % {
                            "table": table, "time": cp.when, "expected": value,
                            "found": boundaries.get(table, "-")}))
            boundaries = {**boundaries, **cp.legacy}   # the signed value wins
        types = sorted(set(chains.event_types()) | chains.head_types() | (set(cp.types) if cp else set()))
        if subject_types is not None:
            types = [t for t in types if t in subject_types]
        walker = _Walker(report, keys, boundaries.get(EVENTS_TABLE, 0), cp)
        old = _CheckpointStream(cp)
        for t in types:
            walker.walk_type(t, old.take(t))
        ctx = VerifyContext(keys=keys, boundaries=boundaries)
        for subject_type, check in chains.registered_checks().values():
            if subject_types is None or subject_type in subject_types:
                report.findings.extend(check(ctx))
    return report


class _CheckpointStream:
    def __init__(self, cp: Checkpoint | None):
        self._it = cp.entries() if cp is not None else iter(())
        self._next = next(self._it, None)

    def take(self, t: str) -> Iterator[tuple[int, int, str, str]]:
        while self._next is not None and self._next[0] < t:
            self._next = next(self._it, None)
        while self._next is not None and self._next[0] == t:
            _t, sid, label, seq, head = self._next
            self._next = next(self._it, None)
            yield sid, seq, head, label


class _Walker:
    def __init__(self, report: Report, keys: dict[str, bytes], legacy_max_id: int, cp: Checkpoint | None):
        self.report = report
        self.keys = keys
        self.legacy_max_id = legacy_max_id
        self.cp = cp

    def walk_type(self, t: str, checkpointed: Iterator[tuple[int, int, str, str]]) -> None:
        kind = chains.subject_kind(t)
        heads = kind.heads() if kind is not None and kind.heads is not None else ()
        for sid, evs, head, cp_head in chains.merge_by_id(chains.events_of(t), heads, checkpointed):
            self.subject(t, sid, evs[1] if evs else [], head, cp_head, kind)

    def subject(self, t: str, sid: int, evs: list[AuditEvent], head: tuple | None,
                cp_head: tuple | None, kind: chains.SubjectKind | None) -> None:
        report = self.report
        label = (head[3] if head else "") or (cp_head[3] if cp_head else "")
        name = describe(t, sid, label)
        if evs:
            report.subjects += 1
        chain = self._walk_events(evs, cp_head)
        findings = [Finding(kind=code, label=name, message=_SPAN_MESSAGES[code]() % {
            "events": event_span(seqs), **chain.extra[code]}, subject_type=t, subject_id=sid,
            seq=seqs[0]) for code, seqs in chain.spans.items()]

        def add(code: str, message: str, seq: int | None = None) -> None:
            findings.append(Finding(kind=code, label=name, message=message, subject_type=t,
                                    subject_id=sid, seq=seq))

        if kind is not None and kind.heads is not None:
            _head_findings(kind, head, chain.last, add)
        if cp_head is not None:
            assert self.cp is not None  # a checkpointed head comes from the checkpoint
            _checkpoint_findings(self.cp, cp_head, chain, add)
        if chain.legacy:
            report.legacy_events += len(chain.legacy)
            report.legacy_subjects += 1
            if self.cp is not None:
                beyond = [s for s in chain.legacy if s > (cp_head[1] if cp_head else 0)]
                if beyond:
                    add("legacy_uncovered", _("%(events)s: legacy events without a MAC that the checkpoint "
                                              "of %(time)s does not cover (forged without the key)") % {
                        "events": event_span(beyond), "time": self.cp.when}, beyond[0])
        report.findings.extend(findings)

    def _walk_events(self, evs: list[AuditEvent], cp_head: tuple | None) -> _Chain:
        """One pass over a subject's events: gaps, broken links and seals, by kind of fault."""
        chain = _Chain()
        expected_seq, expected_prev, keyed = 1, "", False
        for ev in evs:
            self.report.events += 1
            if ev.seq != expected_seq:
                for missing in range(expected_seq, ev.seq):
                    chain.fault("events_missing", missing)
            elif ev.prev_hash != expected_prev:
                chain.fault("link_broken", ev.seq)
            sealed = event_seal_matches(ev, self.keys)
            if ev.key_id == LEGACY:
                if keyed or not 0 < ev.pk <= self.legacy_max_id:
                    chain.fault("unkeyed", ev.seq)
                elif sealed is False:
                    chain.fault("edited_legacy", ev.seq)
                else:
                    chain.legacy.append(ev.seq)
            else:
                keyed = True
                if sealed is None:
                    chain.fault("unknown_key", ev.seq, key_id=ev.key_id)
                elif not sealed:
                    chain.fault("edited", ev.seq)
            if cp_head is not None and ev.seq == cp_head[1]:
                chain.at_cp = ev.hash
            expected_seq, expected_prev = ev.seq + 1, ev.hash
        chain.last = (evs[-1].seq, evs[-1].hash) if evs else None
        return chain


@dataclass
class _Chain:
    """What walking one subject's events found."""
    spans: dict[str, list[int]] = field(default_factory=dict)   # kind of fault -> seqs
    extra: dict[str, dict] = field(default_factory=dict)        # kind of fault -> message params
    legacy: list[int] = field(default_factory=list)
    at_cp: str | None = None            # hash of the event the checkpoint recorded
    last: tuple[int, str] | None = None  # (seq, hash) of the newest event

    def fault(self, code: str, seq: int, **params: Any) -> None:
        self.spans.setdefault(code, []).append(seq)
        self.extra.setdefault(code, params)


def _head_findings(kind: chains.SubjectKind, head: tuple | None, last: tuple[int, str] | None,
                   add: Callable[..., None]) -> None:
    """Compare the chain's newest event with the head the subject's own row records."""
    noun = str(kind.noun)
    if head is None:
        add("orphan", _("has events but no longer exists (its row was deleted)"))
        return
    _sid, hseq, hhash, _label = head
    if last is None:
        if hseq:
            add("all_events_missing", _("every event is missing; the %(noun)s records #%(seq)s "
                                        "(history deleted)") % {"noun": noun, "seq": hseq}, hseq)
        elif kind.history_required:
            add("no_history", _("has no history at all (every event deleted and its head "
                                "cleared)"))
    elif (hseq, hhash) != last:
        params = {"noun": noun, "seq": hseq, "last": last[0]}
        if last[0] < hseq:
            add("tail_deleted", _("the chain ends at event #%(last)s but the %(noun)s records "
                                  "#%(seq)s as its newest (newest events deleted)") % params, hseq)
        elif last[0] > hseq:
            add("head_behind", _("the chain goes on to event #%(last)s but the %(noun)s records "
                                 "#%(seq)s as its newest (an event was inserted, or the head was "
                                 "moved back)") % params, last[0])
        else:
            add("head_mismatch", _("its newest event #%(seq)s is not the one the %(noun)s "
                                   "records (replaced)") % params, hseq)


def _checkpoint_findings(cp: Checkpoint, cp_head: tuple, chain: _Chain,
                         add: Callable[..., None]) -> None:
    """Compare the chain with the head the previous checkpoint recorded for the subject."""
    _sid, cseq, chash, _label = cp_head
    last = chain.last
    params = {"seq": cseq, "time": cp.when, "last": last[0] if last else 0}
    if last is None:
        add("all_events_missing", _("every event is missing; the checkpoint of %(time)s recorded "
                                    "#%(seq)s (history deleted)") % params, cseq)
    elif chain.at_cp is None and last[0] < cseq:
        add("tail_deleted", _("the chain ends at event #%(last)s but the checkpoint of %(time)s "
                              "recorded #%(seq)s (newest events deleted, head moved back)") % params, cseq)
    elif chain.at_cp is None:
        add("checkpoint_gap", _("event #%(seq)s that the checkpoint of %(time)s recorded is missing "
                                "(deleted)") % params, cseq)
    elif chain.at_cp != chash:
        add("rewritten", _("event #%(seq)s differs from the one the checkpoint of %(time)s recorded "
                           "(history rewritten)") % params, cseq)


_SPAN_MESSAGES = {
    "events_missing": lambda: _("%(events)s missing from the chain (deleted)"),
    "link_broken": lambda: _("%(events)s: does not link to the event before it (an event was inserted "
                             "or replaced)"),
    "unkeyed": lambda: _("%(events)s: no MAC, although made after keyed chains began (forged or "
                         "re-hashed without the key)"),
    "edited_legacy": lambda: _("%(events)s: content does not match its SHA-256 (edited)"),
    "unknown_key": lambda: _("%(events)s: sealed with key %(key_id)s, which is not configured (forged "
                             "with another key, or a retired key missing from "
                             "ORDERHUB_AUDIT_RETIRED_KEYS)"),
    "edited": lambda: _("%(events)s: content does not match its MAC (edited or forged)"),
}

"""Signed checkpoints of the audit chains' heads, written outside the database.

A checkpoint is a gzip file in ``settings.ORDERHUB_AUDIT_CHECKPOINT_DIR`` listing every
subject's head (type, id, label such as the order number, seq, head MAC) as one snapshot of the
database saw them, signed with the audit key (HMAC-SHA256 over the file's text) and written
atomically (temporary file, fsync, rename). ``orderhub audit verify`` compares the database
with the newest valid checkpoint: each head it lists must still be in its chain, unchanged, at
the same seq, so a deleted tail, a re-hashed chain (even by someone who holds the key) and a
moved head are found for everything checkpointed.

The file's text (UTF-8, one item a line)::

    orderhub-audit-checkpoint/1
    {"key_id": …, "legacy": {table: max id}, "made_at": …}
    ["order",12,"SO-261122-000012",5,"<head MAC>"]          one line per subject, by (type, id)
    {"heads_sha256": …, "subjects": N}
    signature <HMAC-SHA256 of every byte above, hex>

A new checkpoint is written only if the database still agrees with the previous one (no head
gone back, none changed at the same seq, each moved head's old head still in its chain):
otherwise the job refuses and logs it, so a checkpoint never launders tampering. Put the
directory where the database's administrators cannot write (another host, a write-once bucket).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit_chains as chains
from .audit import current_key, keyring
from .audit_chains import Finding

logger = logging.getLogger(__name__)

FORMAT = "orderhub-audit-checkpoint/1"
PREFIX, SUFFIX = "checkpoint-", ".ohcp.gz"


class CheckpointInvalid(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    key_id: str
    made_at: datetime
    legacy: dict[str, int]
    subjects: int
    heads_sha256: str
    types: frozenset[str]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def when(self) -> str:
        """The time it was made, as people read it (local time, no ISO 'T')."""
        return timezone.localtime(self.made_at).strftime("%Y-%m-%d %H:%M:%S")

    def entries(self) -> Iterator[tuple[str, int, str, int, str]]:
        """(type, id, label, seq, head) of every subject, by (type, id)."""
        with gzip.open(self.path, "rt", encoding="utf-8", newline="\n") as fh:
            next(fh)
            next(fh)
            for line in fh:
                if line.startswith("["):
                    t, sid, label, seq, head = json.loads(line)
                    yield t, sid, label, seq, head


@dataclass
class Selection:
    checkpoint: Checkpoint | None
    findings: list[Finding] = field(default_factory=list)   # unreadable or forged files on the way


@dataclass
class WriteResult:
    path: Path | None = None
    subjects: int = 0
    unchanged: bool = False
    refused: list[Finding] = field(default_factory=list)
    seconds: float = 0.0


def checkpoint_dir() -> Path:
    return Path(settings.ORDERHUB_AUDIT_CHECKPOINT_DIR)


def checkpoint_files(directory: Path) -> list[Path]:
    """Checkpoint files of ``directory``, oldest first (their names sort by time)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX))


def _entry_line(t: str, sid: int, label: str, seq: int, head: str) -> str:
    return json.dumps([t, sid, label, seq, head], ensure_ascii=False, separators=(",", ":")) + "\n"


def read(path: Path, keys: dict[str, bytes]) -> Checkpoint:
    """Check the file's signature (reading it once, streamed) and return what it says."""
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="\n") as fh:
            first = fh.readline()
            if first != FORMAT + "\n":
                raise CheckpointInvalid("checkpoint_signature", _("not a checkpoint file"))
            header_line = fh.readline()
            header = json.loads(header_line)
            key = keys.get(header.get("key_id", ""))
            if key is None:
                raise CheckpointInvalid("checkpoint_key", _(
                    "signed with key %(key_id)s, which is not configured") % {"key_id": header.get("key_id")})
            mac = hmac.new(key, digestmod="sha256")
            mac.update(first.encode())
            mac.update(header_line.encode())
            types: set[str] = set()
            summary = None
            signature = ""
            for line in fh:
                if line.startswith("signature "):
                    signature = line[len("signature "):].strip()
                    break
                mac.update(line.encode())
                if line.startswith("["):
                    types.add(line[2:line.index('"', 2)])
                else:
                    summary = json.loads(line)
    except CheckpointInvalid:
        raise
    except (OSError, EOFError, ValueError, KeyError) as exc:
        raise CheckpointInvalid("checkpoint_unreadable", _("cannot be read (%(error)s)") % {"error": exc}) from exc
    if not signature or summary is None or not hmac.compare_digest(mac.hexdigest(), signature):
        raise CheckpointInvalid("checkpoint_signature", _(
            "its signature does not match its content (edited or forged)"))
    return Checkpoint(path=path, key_id=header["key_id"], made_at=datetime.fromisoformat(header["made_at"]),
                      legacy={k: int(v) for k, v in header["legacy"].items()},
                      subjects=int(summary["subjects"]), heads_sha256=summary["heads_sha256"],
                      types=frozenset(types))


def newest_valid(directory: Path | None = None, keys: dict[str, bytes] | None = None) -> Selection:
    """The newest checkpoint whose signature holds; each newer file that fails is a finding."""
    directory = directory or checkpoint_dir()
    keys = keyring() if keys is None else keys
    findings: list[Finding] = []
    for path in reversed(checkpoint_files(directory)):
        try:
            return Selection(read(path, keys), findings)
        except CheckpointInvalid as exc:
            findings.append(Finding(kind=exc.kind, label=_("checkpoint file %(name)s") % {"name": path.name},
                                    message=str(exc)))
    return Selection(None, findings)


# --------------------------------------------------------------------------- writing


def _previous_entries(prev: Checkpoint | None) -> Iterator[tuple[str, int, str, int, str]]:
    return prev.entries() if prev is not None else iter(())


def _contradiction(kind: str, t: str, sid: int, label: str, message: str, seq: int | None = None) -> Finding:
    return Finding(kind=kind, label=chains.describe(t, sid, label), message=message, subject_type=t,
                   subject_id=sid, seq=seq)


def checkpoint_write(*, directory: Path | None = None) -> WriteResult:
    """Write a checkpoint of every subject's head (the periodic job ``audit.checkpoint``).

    One snapshot of the database; per subject type one streamed query (orders: their rows),
    plus one query per 1,000 heads that moved since the previous checkpoint, to confirm that
    the old head is still in its chain. Nothing is written when nothing changed, or when the
    database contradicts the previous checkpoint (the contradictions are returned and logged).
    """
    started = time.monotonic()
    directory = directory or checkpoint_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    kid, key = current_key()
    keys = keyring()
    prev = newest_valid(directory, keys).checkpoint    # read before the snapshot: it is older
    made_at = timezone.now()   # wall time of the file, not business time
    name = f"{PREFIX}{made_at.strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(3)}{SUFFIX}"
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=directory)
    tmp = Path(tmp_name)
    result = WriteResult()
    mac = hmac.new(key, digestmod="sha256")
    body = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3) as gz:
            def put(line: str, *, entry: bool = False) -> None:
                data = line.encode("utf-8")
                mac.update(data)
                if entry:
                    body.update(data)
                gz.write(data)

            with chains.consistent_snapshot():
                legacy = chains.legacy_boundaries()
                if prev is not None and prev.legacy != legacy:
                    result.refused.append(Finding(
                        kind="boundary_changed", label=_("legacy boundary"),
                        message=_("the record of where keyed MACs began changed since the checkpoint "
                                  "of %(time)s (%(before)s → %(after)s)") % {
                            "time": prev.when, "before": prev.legacy, "after": legacy}))
                put(FORMAT + "\n")
                put(json.dumps({"key_id": kid, "legacy": legacy, "made_at": made_at.isoformat()},
                               sort_keys=True, separators=(",", ":")) + "\n")
                types = sorted(set(chains.event_types()) | chains.head_types()
                               | (set(prev.types) if prev else set()))
                old_stream = _Peek(_previous_entries(prev))
                for t in types:
                    moved: list[tuple[int, int, str, str]] = []
                    old = ((sid, label, seq, head) for _t, sid, label, seq, head in old_stream.take(t))
                    for sid, now, before in chains.merge_by_id(chains.heads_of(t), old):
                        if now is not None:
                            put(_entry_line(t, sid, now[3], now[1], now[2]), entry=True)
                            result.subjects += 1
                        if before is not None:
                            _compare(t, sid, now, before, moved, result.refused, prev)
                            if len(moved) >= 5000:
                                _confirm_moved(t, moved, result.refused, prev)
                    _confirm_moved(t, moved, result.refused, prev)
            digest = body.hexdigest()
            put(json.dumps({"heads_sha256": digest, "subjects": result.subjects},
                           sort_keys=True, separators=(",", ":")) + "\n")
            gz.write(f"signature {mac.hexdigest()}\n".encode())
            gz.flush()
            raw.flush()
            os.fsync(raw.fileno())
        if result.refused:
            logger.error("audit checkpoint refused: the database contradicts %s: %s",
                         prev.name if prev else "-", "; ".join(str(f) for f in result.refused[:20]))
            return result
        if prev is not None and prev.heads_sha256 == digest:
            result.unchanged = True
            return result
        final = directory / name
        os.replace(tmp, final)
        _fsync_dir(directory)
        result.path = final
        _prune(directory)
        return result
    finally:
        tmp.unlink(missing_ok=True)
        result.seconds = time.monotonic() - started


def _compare(t: str, sid: int, now: tuple[Any, ...] | None, before: tuple[Any, ...],
             moved: list, refused: list[Finding], prev: Checkpoint | None) -> None:
    # ``before`` comes from the previous checkpoint's entries, so there is one
    assert prev is not None
    _sid, label, seq, head = before
    if now is None:
        refused.append(_contradiction("all_events_missing", t, sid, label, _(
            "every event is missing; the checkpoint of %(time)s recorded #%(seq)s (history deleted)")
            % {"time": prev.when, "seq": seq}))
    elif now[1] < seq:
        refused.append(_contradiction("tail_deleted", t, sid, label, _(
            "the chain ends at event #%(last)s but the checkpoint of %(time)s recorded #%(seq)s "
            "(newest events deleted, head moved back)") % {"last": now[1], "time": prev.when, "seq": seq}))
    elif now[1] == seq and now[2] != head:
        refused.append(_contradiction("rewritten", t, sid, label, _(
            "event #%(seq)s differs from the one the checkpoint of %(time)s recorded (history rewritten)")
            % {"seq": seq, "time": prev.when}, seq))
    elif now[1] > seq:
        moved.append((sid, seq, head, label))


def _confirm_moved(t: str, moved: list[tuple[int, int, str, str]], refused: list[Finding],
                   prev: Checkpoint | None) -> None:
    """Heads that moved on since ``prev``: their old head must still be in the chain, unchanged."""
    if not moved or prev is None:
        return
    at = chains.events_at(t, [(sid, seq) for sid, seq, _h, _l in moved])
    for sid, seq, head, label in moved:
        found = at.get((sid, seq))
        if found is None:
            refused.append(_contradiction("checkpoint_gap", t, sid, label, _(
                "event #%(seq)s that the checkpoint of %(time)s recorded is missing (deleted)")
                % {"seq": seq, "time": prev.when}, seq))
        elif found != head:
            refused.append(_contradiction("rewritten", t, sid, label, _(
                "event #%(seq)s differs from the one the checkpoint of %(time)s recorded (history rewritten)")
                % {"seq": seq, "time": prev.when}, seq))
    moved.clear()


class _Peek:
    """Entries of a checkpoint, sorted by (type, id), taken one type at a time."""

    def __init__(self, it: Iterator[tuple[str, int, str, int, str]]):
        self._it = it
        self._next = next(it, None)

    def take(self, t: str) -> Iterator[tuple[str, int, str, int, str]]:
        while self._next is not None and self._next[0] < t:   # a type no longer asked for
            self._next = next(self._it, None)
        while self._next is not None and self._next[0] == t:
            item, self._next = self._next, next(self._it, None)
            yield item


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(directory: Path) -> None:
    keep = max(int(getattr(settings, "ORDERHUB_AUDIT_CHECKPOINT_KEEP", 48)), 1)
    for old in checkpoint_files(directory)[:-keep]:
        old.unlink(missing_ok=True)
    cutoff = time.time() - 3600
    for stale in directory.glob(".tmp-*"):
        try:
            if stale.stat().st_mtime < cutoff:
                stale.unlink(missing_ok=True)
        except OSError:
            pass

"""The raw inbox: store first, then parse; a failure keeps the payload and its error, and a
replay runs the current mapping again.

Processing is idempotent: orders are keyed by channel + external id, so a replay (or a restart
after a crash mid-import) finds the orders already made as duplicates and never doubles them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.selectors import MasterData
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audit import GENESIS
from orderhub.core.canonical import to_plain
from orderhub.core.errors import Conflict, DomainError, NotFound, PermissionDenied, Problem
from orderhub.core.models import AuditEvent
from orderhub.orders.services import order_create_batch

from .. import events
from ..mapping import Item, Lookups, Mapper, map_records
from ..models import ConfigVersion, ImportJob, InboundMessage
from ..ocr import DOCUMENT_TYPES
from ..readers import Unreadable, read
from ..report import conversion_notes
from ..store import create_message, insert_links, payload_of
from .config import compiled_config, current_config
from .triage import triage_record

logger = logging.getLogger(__name__)

Status = InboundMessage.Status
CHUNK = 500
# header names never stored (credentials)
SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}
# problems a person can settle (pick the customer, decide between versions): review, not failure
REVIEW_CODES = {"duplicate_conflict", "unknown_customer", "ambiguous_customer"}
REPLAYABLE = {Status.RECEIVED, Status.FAILED, Status.NEEDS_REVIEW}
MAX_REPORT_ITEMS = 5000


def _clean_headers(headers: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v)[:2000] for k, v in (headers or {}).items()
            if str(k).lower() not in SECRET_HEADERS}


def inbound_receive(*, channel: str, kind: str, payload: bytes, actor: Actor, content_type: str = "",
                    headers: dict[str, Any] | None = None, source: str = "", filename: str = "",
                    parent: InboundMessage | None = None, status: str = Status.RECEIVED,
                    errors: list[dict[str, Any]] | None = None, external_ref: str = "",
                    queued: bool = False) -> InboundMessage:
    """Store a payload verbatim, in its own transaction, before anything parses it.

    Call it outside any transaction: when it returns, the bytes are committed, whatever
    happens to the parsing after it. ``queued``: left for ``inbound_process_pending``.
    """
    now = clock.now()
    with transaction.atomic():
        msg = create_message(
            channel=channel[:32], kind=kind, status=status, payload=bytes(payload),
            content_type=content_type[:200], headers=_clean_headers(headers), source=source[:300],
            filename=filename[:300], size=len(payload), sha256=hashlib.sha256(payload).hexdigest(),
            received_at=now, received_by=actor.label[:150], parent=parent, errors=errors or [],
            external_ref=external_ref[:200], queued=queued)
        events.message_received(message=msg, actor=actor)
    return msg


@dataclass
class Outcome:
    status: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    duplicates: int = 0
    refused: int = 0
    review: int = 0
    rows: int = 0
    failed_rows: int = 0  # source rows of the refused and to-review orders (an order may span rows)
    external_ref: str = ""
    mapping: ConfigVersion | None = None
    # a chunk of a parallel import: created orders without notes kept aside (the report lists
    # the first 50 of the whole file), and triage alerts left for the chunk's end (recorded
    # under the message's lock: its audit chain takes one append at a time)
    quiet_created: list[dict[str, Any]] | None = None
    deferred_alerts: list[tuple[Any, list[dict[str, Any]]]] | None = None


def is_document(msg: InboundMessage) -> bool:
    """A picture or PDF: read by OCR into a draft, never through a mapping."""
    return msg.content_type.split(";")[0].strip().lower() in DOCUMENT_TYPES


def get_message(message: InboundMessage | int) -> InboundMessage:
    if isinstance(message, InboundMessage):
        return message
    msg = InboundMessage.objects.filter(pk=message).defer("payload").first()  # read when needed: payload_of
    if msg is None:
        raise NotFound("message_not_found", _("Inbound message %(id)s does not exist.") % {"id": message})
    return msg


def inbound_map(*, message: InboundMessage | int, actor: Actor, mode: str = "accept_valid") -> InboundMessage:
    """Parse a stored message through its channel's current mapping and make its orders (the
    path of structured payloads; ``dispatch.inbound_process`` routes a message here or elsewhere).

    Never raises for bad content or a failing mapping: the message ends parsed, duplicate,
    needs_review or failed, with its errors and per-row report. Permission is checked by the
    order services (the actor must be allowed to create orders).
    """
    msg = get_message(message)
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    version = current_config("mapping", msg.read_as)
    if version is None:
        outcome = Outcome(Status.FAILED, errors=[
            {"code": "no_mapping", "message": _("Channel '%(channel)s' has no mapping.") % {"channel": msg.read_as}}])
    else:
        try:
            outcome = _run(msg, version, actor, mode)
        except Unreadable as exc:
            outcome = Outcome(Status.FAILED, errors=[{"code": "unreadable", "message": str(exc)}])
        except DomainError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            outcome = Outcome(Status.FAILED, errors=[{"code": exc.code, "message": exc.message}])
        except Exception as exc:  # a mapping or our code raised: keep the payload and the error
            logger.exception("intake: processing message %s raised", msg.pk)
            outcome = Outcome(Status.FAILED, errors=[{
                "code": "internal_error",
                "message": _("Processing raised %(type)s: %(error)s") % {"type": type(exc).__name__,
                                                                         "error": str(exc)[:500]}}])
        outcome.mapping = version
    return conclude(msg, outcome, actor)


CONCLUDED_FIELDS = ["status", "errors", "report", "attempts", "processed_at", "mapping", "external_ref"]


def _apply_outcome(msg: InboundMessage, outcome: Outcome, now) -> str:
    """Set what processing concluded on ``msg`` (not saved); returns the status it had."""
    before = msg.status
    msg.status = outcome.status
    msg.errors = plain(outcome.errors[:MAX_REPORT_ITEMS])
    msg.report = plain({
        "summary": {"orders_created": outcome.created, "duplicates": outcome.duplicates,
                    "refused": outcome.refused, "review": outcome.review, "rows": outcome.rows,
                    "rows_failed": outcome.failed_rows},
        # in the order of the source (a chunk reports its refused rows before its written ones)
        "items": sorted(outcome.items, key=_by_index)[:MAX_REPORT_ITEMS]})
    msg.attempts += 1
    msg.processed_at = now
    if outcome.mapping is not None:
        msg.mapping = outcome.mapping
    if outcome.external_ref:
        msg.external_ref = outcome.external_ref[:200]
    return before


def conclude(msg: InboundMessage, outcome: Outcome, actor: Actor) -> InboundMessage:
    with transaction.atomic():
        locked = InboundMessage.objects.select_for_update().defer("payload").get(pk=msg.pk)
        before = _apply_outcome(locked, outcome, clock.now())
        locked.save(update_fields=CONCLUDED_FIELDS)
        events.message_status_changed(message=locked, before=before, actor=actor,
                                      data={"attempt": locked.attempts, "summary": locked.report["summary"],
                                            "errors": locked.errors[:20]})
        job = ImportJob.objects.filter(message=locked).first()
        if job is not None:
            job.status = ImportJob.Status.DONE if outcome.status != Status.FAILED or outcome.rows else ImportJob.Status.FAILED
            job.finished_at = job.updated_at = clock.now()
            job.rows_total = max(job.rows_total, outcome.rows)
            job.rows_done = job.rows_total
            job.orders_created, job.duplicates = outcome.created, outcome.duplicates
            job.rows_failed = outcome.failed_rows  # rows, not orders
            job.save()
    return locked


def _conclude_many(done: list[tuple[InboundMessage, Outcome]], actor: Actor) -> None:
    """``conclude`` for queued messages the caller holds locked (claimed by
    ``inbound_process_pending``; queued messages have no import job): one read of their audit
    heads, one UPDATE of all their rows, one INSERT of all their events."""
    heads: dict[int, tuple[int, str]] = {}
    for sid, seq, digest in (AuditEvent.objects.filter(subject_type=events.SUBJECT,
                                                       subject_id__in=[m.pk for m, _o in done])
                             .values_list("subject_id", "seq", "hash")):
        if seq > heads.get(sid, (0, GENESIS))[0]:
            heads[sid] = (seq, digest)
    now = clock.now()
    evs = []
    for msg, outcome in done:
        before = _apply_outcome(msg, outcome, now)
        evs.append(events.message_status_event(
            message=msg, before=before, head=heads.get(msg.pk, (0, GENESIS)), actor=actor,
            data={"attempt": msg.attempts, "summary": msg.report["summary"], "errors": msg.errors[:20]}))
    InboundMessage.objects.bulk_update([m for m, _o in done], CONCLUDED_FIELDS)
    type(evs[0]).objects.bulk_create(evs)


def _problem_row(item: Item, p: Problem) -> dict[str, Any]:
    out = p.as_dict()
    row = (p.data or {}).get("row")
    if row is None and item.rows:
        row = item.rows[0]
    if row is not None:
        out["row"] = row
    return out


def _core_problems(item: Item, exc: DomainError) -> list[dict[str, Any]]:
    """Core names fields of the order (``lines[1].qty``); name the source instead."""
    out = []
    problems = exc.problems or [Problem(exc.code, exc.message)]
    for p in problems:
        target = p.field or ""
        source = item.source_field(target) if target else ""
        row = None
        if target.startswith("lines[") and item.rows:
            idx = int(target[6:target.index("]")])
            row = item.rows[idx] if idx < len(item.rows) else None
        elif item.rows:
            row = item.rows[0]
        d = {"code": p.code, "message": p.message, "field": source or target}
        if target and source != target:
            d["target"] = target
        if row is not None:
            d["row"] = row
        out.append(d)
    return out


def _run(msg: InboundMessage, version: ConfigVersion, actor: Actor, mode: str) -> Outcome:
    mapping = compiled_config(version)
    records = read(mapping.spec, payload_of(msg))
    tags_v, triage_v = current_config("tags", "default"), current_config("triage", "default")
    tag_rules = compiled_config(tags_v) if tags_v else []
    triage_rules = compiled_config(triage_v) if triage_v else []
    mapper = Mapper(mapping, Lookups(msg.read_as), channel=msg.read_as, received_at=msg.received_at,
                    tag_rules=tag_rules, triage_rules=triage_rules)
    out = Outcome(Status.FAILED, rows=sum(max(len(r.rows), 1) for r in records))
    job = ImportJob.objects.filter(message=msg).first()
    if job is not None:
        ImportJob.objects.filter(pk=job.pk).update(rows_total=out.rows, rows_done=0, updated_at=clock.now(),
                                                   status=ImportJob.Status.RUNNING)
    if not records:
        out.errors.append({"code": "empty", "message": _("The payload holds no orders.")})
        return out

    if mode == "all_or_nothing":
        items = mapper.map(records)
        if any(it.problems for it in items):
            for it in items:
                _refused(out, it, [_problem_row(it, p) for p in it.problems] if it.problems else [],
                         unrelated=not it.problems)
            out.status = Status.FAILED
            return out
        try:
            with transaction.atomic():
                for start in range(0, len(items), CHUNK):
                    _write_chunk(msg, items[start:start + CHUNK], actor, out, all_or_nothing=True,
                                 master=mapper.master)
                if out.refused or out.review:
                    raise _Rollback()
        except _Rollback:
            out.created = 0
            out.items = [i for i in out.items if i["result"] != "created"]
            for i in out.items:
                if i["result"] == "duplicate":
                    i["result"] = "not_written"
            out.status = Status.NEEDS_REVIEW if out.review and not out.refused else Status.FAILED
            out.errors.insert(0, {"code": "refused_all",
                                  "message": _("Nothing was written: all or nothing, and some orders were refused.")})
            return out
    else:
        done = 0
        for start in range(0, len(records), CHUNK):
            chunk = records[start:start + CHUNK]
            done += sum(max(len(r.rows), 1) for r in chunk)
            items = mapper.map(chunk, start)
            with transaction.atomic():
                accept_valid_chunk(msg, items, actor, out, master=mapper.master)
                if job is not None:
                    ImportJob.objects.filter(pk=job.pk).update(
                        rows_done=min(done, out.rows), orders_created=out.created, duplicates=out.duplicates,
                        rows_failed=out.failed_rows, updated_at=clock.now())
    if len(records) == 1 and records and not out.external_ref:
        pass
    out.status = _status(out)
    return out


def accept_valid_chunk(msg: InboundMessage, items: list[Item], actor: Actor, out: Outcome, *,
                       master: MasterData | None = None) -> None:
    """Report the refused items of a chunk and write the others (accept valid rows). ``master``:
    what mapping looked up (the orders are made with it, nothing is looked up twice)."""
    for it in items:
        if it.problems:
            _refused(out, it, [_problem_row(it, p) for p in it.problems])
    _write_chunk(msg, [it for it in items if not it.problems], actor, out, all_or_nothing=False, master=master)


_by_index = itemgetter("index")


class _Rollback(Exception):
    pass


def _refused(out: Outcome, item: Item, problems: list[dict[str, Any]], *, unrelated: bool = False) -> None:
    if unrelated:
        out.items.append({"index": item.index, "rows": item.rows, "ref": item.external_ref,
                          "result": "not_written"})
        return
    review = any(p.get("code") in REVIEW_CODES for p in problems) and all(
        p.get("code") in REVIEW_CODES for p in problems)
    if review:
        out.review += 1
    else:
        out.refused += 1
    out.failed_rows += max(len(item.rows), 1)
    out.errors.extend(problems)
    out.items.append({"index": item.index, "rows": item.rows, "ref": item.external_ref,
                      "result": "review" if review else "refused", "problems": problems,
                      "notes": item.notes})
    if item.external_ref and not out.external_ref:
        out.external_ref = item.external_ref


def _write_chunk(msg: InboundMessage, items: list[Item], actor: Actor, out: Outcome, *,
                 all_or_nothing: bool, master: MasterData | None) -> None:
    if not items:
        return
    if master is not None:  # say how each line's unit was converted and rounded
        for it in items:
            it.notes.extend(conversion_notes(it.data, master, rows=it.rows))
    results = order_create_batch(items=[it.data for it in items], actor=actor, all_or_nothing=all_or_nothing,
                                 master=master)
    _record_results(msg, items, results, actor, out)


def _record_results(msg: InboundMessage, items: list[Item], results: list, actor: Actor, out: Outcome) -> None:
    """What ``order_create_batch`` answered for ``items`` of ``msg``: report, links, triage."""
    links: list[dict[str, Any]] = []
    alerts = []
    quiet = out.quiet_created
    for it, res in zip(items, results, strict=True):
        if it.external_ref and not out.external_ref:
            out.external_ref = it.external_ref
        if res.error is not None:
            problems = _core_problems(it, res.error)
            if isinstance(res.error, Conflict):
                out.review += 1
                out.failed_rows += max(len(it.rows), 1)
                entry = {"index": it.index, "rows": it.rows, "ref": it.external_ref, "result": "conflict",
                         "order": res.error.data.get("order"), "problems": problems,
                         "differences": res.error.data.get("differences", [])}
                out.errors.extend(problems)
                out.items.append(entry)
            else:
                _refused(out, it, problems)
            continue
        if res.order is None:
            continue
        meta = plain({k: v for k, v in it.meta.items() if not k.startswith("_")})
        if it.notes:
            meta["notes"] = it.notes
        triage = plain(it.alerts) if it.alerts and res.created else None
        if triage:
            meta["triage"] = triage
        links.append({"message_id": msg.pk, "order_id": res.order.pk, "row": it.rows[0] if it.rows else None,
                      "created": res.created, "meta": meta})
        if res.created:
            out.created += 1
            if triage:
                alerts.append((res.order, triage))
            entry = {"index": it.index, "rows": it.rows, "ref": it.external_ref, "result": "created",
                     "order": res.order.number, "notes": it.notes}
            if it.notes or (quiet is None and len(out.items) < 50):
                out.items.append(entry)
            elif quiet is not None:  # listed if among the file's first 50 rows reported
                quiet.append(entry)
        else:
            out.duplicates += 1
            out.items.append({"index": it.index, "rows": it.rows, "ref": it.external_ref,
                              "result": "duplicate", "order": res.order.number})
    insert_links(links)
    if out.deferred_alerts is not None:
        out.deferred_alerts.extend(alerts)
        return
    for order, item_alerts in alerts:
        triage_record(message=msg, order=order, alerts=item_alerts, actor=actor)


def plain(value: Any) -> Any:
    """``to_plain(value)`` (what the JSON columns keep: Decimals and dates spelt as canonical JSON
    spells them) without a round trip through JSON text for the shapes a report and a link's
    details have; anything else goes through ``to_plain``."""
    t = type(value)
    if t is str or t is int or value is None or t is bool or t is float:
        return value
    if t is dict:
        for k in value:
            if type(k) is not str:
                return to_plain(value)
        return {k: plain(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [plain(v) for v in value]
    if t is Decimal:
        return format(value.normalize(), "f")  # as core.canonical: 12.50 → "12.5", never 1E+1
    if t is datetime or t is date:
        return value.isoformat()
    return to_plain(value)


def _status(out: Outcome) -> str:
    if out.refused == 0 and out.review == 0:
        if out.created:
            return Status.PARSED
        return Status.DUPLICATE if out.duplicates else Status.FAILED
    if out.created or out.duplicates or out.review:
        return Status.NEEDS_REVIEW
    return Status.FAILED


class NotBatchable(Exception):
    """Messages ``process_many`` cannot map together (documents, no mapping, not JSON)."""

    pass


def process_many(msgs: list[InboundMessage], channel: str, actor: Actor) -> None:
    """Map every message, write all their orders with one ``order_create_batch`` (accept valid
    rows: every order stands on its own), then conclude each message."""
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    version = current_config("mapping", channel)
    if version is None or any(m.content_type.split(";")[0].strip().lower() in DOCUMENT_TYPES for m in msgs):
        raise NotBatchable()
    mapping = compiled_config(version)
    if mapping.spec.format != "json":
        raise NotBatchable()
    tags_v, triage_v = current_config("tags", "default"), current_config("triage", "default")
    tag_rules = compiled_config(tags_v) if tags_v else []
    triage_rules = compiled_config(triage_v) if triage_v else []
    lookups = Lookups(channel)
    outcomes: list[tuple[InboundMessage, Outcome, list[Item]]] = []
    for msg in msgs:
        try:
            records = read(mapping.spec, payload_of(msg))
        except Unreadable as exc:
            outcomes.append((msg, Outcome(Status.FAILED, errors=[{"code": "unreadable", "message": str(exc)}]), []))
            continue
        out = Outcome(Status.FAILED, rows=sum(max(len(r.rows), 1) for r in records))
        if not records:
            out.errors.append({"code": "empty", "message": _("The payload holds no orders.")})
            outcomes.append((msg, out, []))
            continue
        items = map_records(mapping, records, lookups, channel=channel, received_at=msg.received_at,
                            tag_rules=tag_rules, triage_rules=triage_rules)
        good = []
        for i, it in enumerate(items):
            it.index = i
            if it.problems:
                _refused(out, it, [_problem_row(it, p) for p in it.problems])
            else:
                good.append(it)
        outcomes.append((msg, out, good))
    writing = [it for _m, _o, good in outcomes for it in good]
    for it in writing:
        it.notes.extend(conversion_notes(it.data, lookups.master, rows=it.rows))
    results = order_create_batch(items=[it.data for it in writing], actor=actor,
                                 all_or_nothing=False, master=lookups.master) if writing else []
    at = 0
    for msg, out, good in outcomes:
        if good:
            _record_results(msg, good, results[at:at + len(good)], actor, out)
            at += len(good)
        out.mapping = version
        if out.rows:
            out.status = _status(out)
    _conclude_many([(msg, out) for msg, out, _good in outcomes], actor)

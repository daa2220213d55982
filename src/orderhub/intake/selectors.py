"""Intake reads for the API and the pages the lead builds: the inbox with filters, one
message with its report, upload progress and drafts awaiting confirmation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock, permissions
from orderhub.core.actors import Actor
from orderhub.core.errors import NotFound
from orderhub.core.models import AuditEvent
from orderhub.orders.models import Order
from orderhub.orders.selectors import scope_q, visible

from .events import IMPORT_RESUMED, TRIAGE_ALERT
from .events import SUBJECT as INBOUND_SUBJECT
from .liveness import WATCHDOG, importer_alive
from .models import Draft, ImportJob, InboundMessage, InboundOrder, RefusedRequest
from .report import report_view
from .store import payload_of


@dataclass(frozen=True)
class InboxFilter:
    status: str | None = None
    channel: str | None = None
    kind: str | None = None
    ref: str | None = None
    order: str | None = None
    received_from: date | None = None
    received_to: date | None = None


def visible_messages(qs: QuerySet[InboundMessage], actor: Actor) -> QuerySet[InboundMessage]:
    """Messages ``actor`` may see. Someone who sees only their own customers' orders sees a
    message when every order it made is one of theirs (a file mixing customers stays hidden: its
    payload holds the others' rows), and the messages they sent themselves."""
    q = scope_q(actor, via="order__")
    if q is None:
        return qs
    if permissions.order_scope(actor) == permissions.NO_ORDERS:
        return qs.none()
    links = InboundOrder.objects.filter(message=OuterRef("pk"))
    return qs.filter(Q(received_by=actor.label[:150]) | (Exists(links.filter(q)) & ~Exists(links.exclude(q))))


def visible_drafts(qs: QuerySet[Draft], actor: Actor) -> QuerySet[Draft]:
    """Drafts ``actor`` may see: confirmed ones by their order; open ones by the customer read
    from the document (one of the actor's own customers)."""
    q = scope_q(actor, via="order__")
    if q is None:
        return qs
    if permissions.order_scope(actor) == permissions.NO_ORDERS or actor.user is None:
        return qs.none()
    own = list(Customer.objects.filter(sales_owner_id=actor.user.pk).values_list("code", flat=True))
    return qs.filter(q | Q(order__isnull=True, data__customer__in=own))


def inbox_queryset(f: InboxFilter | None = None, *, actor: Actor) -> QuerySet[InboundMessage]:
    """Newest first, without the payload bytes, of what ``actor`` may see."""
    f = f or InboxFilter()
    qs = visible_messages(InboundMessage.objects.defer("payload").order_by("-received_at", "-pk"), actor)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.ref:
        qs = qs.filter(external_ref=f.ref)
    if f.order:
        qs = qs.filter(links__order__number=f.order)
    if f.received_from:
        qs = qs.filter(received_at__date__gte=f.received_from)
    if f.received_to:
        qs = qs.filter(received_at__date__lte=f.received_to)
    return qs


def message_dict(m: InboundMessage) -> dict[str, Any]:
    return {
        "id": m.pk, "channel": m.channel, "route": m.route, "queued": m.queued, "kind": m.kind,
        "status": m.status,
        "status_label": str(m.get_status_display()), "content_type": m.content_type,
        "source": m.source, "filename": m.filename, "size": m.size, "sha256": m.sha256,
        "received_at": m.received_at, "received_by": m.received_by, "external_ref": m.external_ref,
        "attempts": m.attempts, "processed_at": m.processed_at, "parent": m.parent_id,
        "errors": m.errors, "summary": (m.report or {}).get("summary"),
    }


def get_message(message_id: int) -> InboundMessage:
    m = InboundMessage.objects.defer("payload").filter(pk=message_id).first()
    if m is None:
        raise NotFound("message_not_found", _("Inbound message %(id)s does not exist.") % {"id": message_id})
    return m


def visible_message(message_id: int, *, actor: Actor) -> InboundMessage:
    """The message (without its payload) if ``actor`` may see it; 404 otherwise."""
    m = visible_messages(InboundMessage.objects.defer("payload"), actor).filter(pk=message_id).first()
    if m is None:
        raise NotFound("message_not_found", _("Inbound message %(id)s does not exist.") % {"id": message_id})
    return m


def message_detail(message_id: int, *, actor: Actor) -> dict[str, Any]:
    """One message with its report, its orders, its parts and its history."""
    m = visible_message(message_id, actor=actor)
    out = message_dict(m)
    out["headers"] = m.headers
    out["report"] = m.report
    out["report_view"] = report_view(m.report, m.errors)  # the report as a person reads it
    out["mapping"] = f"{m.mapping.code} v{m.mapping.version}" if m.mapping_id else None
    out["orders"] = [
        {"number": ln.order.number, "created": ln.created, "row": ln.row, "meta": ln.meta}
        for ln in visible(InboundOrder.objects.filter(message=m), actor, via="order__")
        .select_related("order").order_by("pk")]
    out["children"] = [message_dict(c) for c in visible_messages(m.children.defer("payload"), actor).order_by("pk")]
    out["drafts"] = [draft_dict(d) for d in visible_drafts(m.drafts.all(), actor).order_by("pk")]
    job = ImportJob.objects.filter(message=m).first()
    out["job"] = job_dict(job) if job else None
    out["events"] = [
        {"seq": e.seq, "at": e.at, "action": e.action, "actor": e.actor_label, "changes": e.changes,
         "data": e.data}
        for e in AuditEvent.objects.filter(subject_type="inbound", subject_id=m.pk).order_by("seq")]
    return out


def message_payload(message_id: int, *, actor: Actor) -> tuple[bytes, str, str]:
    m = visible_messages(InboundMessage.objects.all(), actor).filter(pk=message_id) \
        .only("content_type", "filename").first()
    if m is None:
        raise NotFound("message_not_found", _("Inbound message %(id)s does not exist.") % {"id": message_id})
    return payload_of(m), m.content_type or "application/octet-stream", m.filename


def job_dict(job: ImportJob) -> dict[str, Any]:
    total = job.rows_total
    return {"id": job.pk, "message": job.message_id, "mode": job.mode, "status": job.status,
            "rows_total": total, "rows_done": job.rows_done,
            "percent": 100 if job.status != ImportJob.Status.RUNNING and total == 0
            else (round(100 * job.rows_done / total) if total else 0),
            "orders_created": job.orders_created, "duplicates": job.duplicates,
            "rows_failed": job.rows_failed, "started_at": job.started_at, "updated_at": job.updated_at,
            "finished_at": job.finished_at, "stalled": (stalled := job_stalled(job)),
            "resumes_by_itself": stalled and resumes_by_itself(job)}


def running_imports(message_ids) -> dict[int, dict[str, Any]]:
    """The imports still running among these messages' (an inbox page's), by message id."""
    jobs = ImportJob.objects.filter(message_id__in=list(message_ids), status=ImportJob.Status.RUNNING)
    return {job.message_id: job_dict(job) for job in jobs}


def job_stalled(job: ImportJob) -> bool:
    """Running, but no progress for ``ORDERHUB_IMPORT_STALLED_SECONDS`` and, on PostgreSQL, no
    process importing it any more (``liveness``: a slow chunk is not a dead import). Then
    ``services.background.upload_resume`` starts it again."""
    if job.status != ImportJob.Status.RUNNING or (
            clock.now() - job.updated_at).total_seconds() < settings.ORDERHUB_IMPORT_STALLED_SECONDS:
        return False
    return importer_alive(job.pk) is not True


def resumes_by_itself(job: ImportJob) -> bool:
    """Whether the job runner will resume this stalled import by itself (PostgreSQL, automatic
    resumes on and not used up: ``services.background.imports_resume_stalled``)."""
    limit = settings.ORDERHUB_IMPORT_AUTO_RESUMES
    return connection.vendor == "postgresql" and limit > 0 and _auto_resumes(job) < limit


def _auto_resumes(job: ImportJob) -> int:
    """How many times the job runner has resumed this import."""
    return AuditEvent.objects.filter(subject_type=INBOUND_SUBJECT, subject_id=job.message_id,
                                     action=IMPORT_RESUMED, actor_id=WATCHDOG).count()


def upload_progress(job_id: int, *, actor: Actor) -> dict[str, Any]:
    """What a progress bar polls: cheap (one row; its message's visibility for those who see
    only their own customers' orders)."""
    jobs = ImportJob.objects.filter(pk=job_id)
    if scope_q(actor) is not None:
        jobs = jobs.filter(message__in=visible_messages(InboundMessage.objects.all(), actor).values("pk"))
    job = jobs.first()
    if job is None:
        raise NotFound("job_not_found", _("Import %(id)s does not exist.") % {"id": job_id})
    return job_dict(job)


def drafts_open(*, actor: Actor) -> QuerySet[Draft]:
    """Drafts awaiting confirmation that ``actor`` may see, oldest first."""
    return visible_drafts(Draft.objects.filter(status=Draft.Status.OPEN), actor).order_by("created_at", "pk")


def draft_dict(d: Draft) -> dict[str, Any]:
    return {"id": d.pk, "message": d.message_id, "status": d.status, "data": d.data,
            "confidence": d.confidence, "text": d.text, "created_at": d.created_at,
            "order": d.order.number if d.order_id else None, "decided_by": d.decided_by,
            "decided_at": d.decided_at}


def get_draft(draft_id: int, *, actor: Actor) -> Draft:
    d = visible_drafts(Draft.objects.all(), actor).filter(pk=draft_id).first()
    if d is None:
        raise NotFound("draft_not_found", _("Draft %(id)s does not exist.") % {"id": draft_id})
    return d


def triage_alerts_for(*, username: str, roles: frozenset[str] | set[str], actor: Actor, limit: int = 20,
                      scan: int = 500) -> list[dict[str, Any]]:
    """Triage alerts addressed to a person (by name when raised, or by one of their roles now),
    newest first, for open orders only: what the intake page shows them until the notification
    hub delivers the alerts elsewhere. Two queries: recent alert events, then their orders."""
    wanted = []
    events = (AuditEvent.objects.filter(action=TRIAGE_ALERT).order_by("-id")
              .values("at", "data", "subject_id", "subject_type")[:scan])
    for e in events:
        data = e["data"] or {}
        if username in (data.get("recipients") or []) or set(data.get("roles") or []) & set(roles):
            wanted.append(e)
    if not wanted:
        return []
    orders = {o.number: o for o in visible(Order.objects, actor).filter(
        number__in={e["data"].get("order") for e in wanted}, status=Order.Status.OPEN).select_related("customer")}
    out, seen = [], set()
    for e in wanted:
        number = e["data"].get("order")
        order = orders.get(number)
        if order is None or (number, e["data"].get("rule")) in seen:
            continue
        seen.add((number, e["data"].get("rule")))
        message = e["subject_id"] if e["subject_type"] == INBOUND_SUBJECT else None  # None: web form or API
        out.append({"at": e["at"], "message": message, "order": order, "rule": e["data"].get("rule"),
                    "label": e["data"].get("label") or e["data"].get("rule"),
                    "total": e["data"].get("total"), "hours_to_due": e["data"].get("hours_to_due"),
                    "required_date": e["data"].get("required_date"),
                    "recipients": e["data"].get("recipients") or [], "fallback": e["data"].get("fallback")})
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------- refused requests

REFUSED_PERM = "intake.view_refusedrequest"


def refused_queryset(*, channel: str | None = None, reason: str | None = None,
                     ip: str | None = None) -> QuerySet[RefusedRequest]:
    """Refused requests, newest first, filtered."""
    qs = RefusedRequest.objects.order_by("-received_at", "-pk")
    if channel:
        qs = qs.filter(channel=channel)
    if reason:
        qs = qs.filter(reason=reason)
    if ip:
        qs = qs.filter(ip=ip)
    return qs


def refused_dict(r: RefusedRequest) -> dict[str, Any]:
    return {"id": r.pk, "received_at": r.received_at, "kind": r.kind, "channel": r.channel,
            "reason": r.reason, "reason_label": str(r.get_reason_display()), "detail": r.detail,
            "ip": r.ip, "user_agent": r.user_agent, "content_type": r.content_type, "size": r.size,
            "sha256": r.sha256, "head": r.head}


TEXT_PREVIEW_BYTES = 16 * 1024


def message_text_preview(message_id: int, limit: int = TEXT_PREVIEW_BYTES) -> tuple[str, bool] | None:
    """The first ``limit`` bytes of a payload as text, and whether there is more; None when
    they are not UTF-8 text (a picture, a PDF, a spreadsheet). Shown escaped inside our own
    page, never served as the sender's type. Reads only those bytes from the database."""
    from django.db.models import BinaryField
    from django.db.models.functions import Substr

    row = (InboundMessage.objects.filter(pk=message_id)
           .annotate(head=Substr("payload", 1, limit + 1, output_field=BinaryField()))
           .values_list("head", "size").first())
    if row is None or row[0] is None:
        return None
    head, size = bytes(row[0]), row[1]
    more = size > limit
    head = head[:limit]
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not more or exc.start < len(head) - 4:  # only a character cut at the end is forgiven
            return None
        text = head[:exc.start].decode("utf-8")
    return text, more

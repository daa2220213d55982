"""Intake API (mounted at /api/intake). Thin handlers: parse, call one service or selector.

Signed webhooks (``POST /api/intake/{channel}``) and quick orders (``/api/intake/quick/{token}``)
carry their own credentials (signature, link token) and need no bearer token. A request refused
at that door stores nothing (it is logged: ``GET /api/intake/refused``), and every client address
is rate-limited there (429 with ``Retry-After``; ``orderhub.core.ratelimit``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.utils.translation import gettext as _
from ninja import Body, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import ConfigDict, Field

from orderhub.core.downloads import download_response
from orderhub.core.errors import NotFound
from orderhub.core.http.auth import requires
from orderhub.core.http.schemas import ERRORS, BizDate, ErrorOut, IsoDate, Line, ReasonIn, Text

from . import selectors, services
from .models import ConfigVersion, InboundMessage

router = Router(tags=["intake"])
STRICT = ConfigDict(extra="forbid")
# the doors anyone can knock on: refused (401/404) and rate-limited per client address (429)
DOOR_ERRORS = {**ERRORS, 429: ErrorOut}


class MessageOut(Schema):
    id: int
    channel: str
    route: str = ""
    queued: bool = False
    kind: str
    status: str
    status_label: str
    content_type: str
    source: str
    filename: str
    size: int
    sha256: str
    received_at: datetime
    received_by: str
    external_ref: str
    attempts: int
    processed_at: datetime | None
    parent: int | None
    errors: list[dict[str, Any]]
    summary: dict[str, Any] | None = None


class MessageDetailOut(MessageOut):
    headers: dict[str, Any]
    report: dict[str, Any]
    mapping: str | None
    orders: list[dict[str, Any]]
    children: list[MessageOut]
    drafts: list[dict[str, Any]]
    job: dict[str, Any] | None
    events: list[dict[str, Any]]


class MessagePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[MessageOut]


class JobOut(Schema):
    id: int
    message: int
    mode: str
    status: str
    rows_total: int
    rows_done: int
    percent: int
    orders_created: int
    duplicates: int
    rows_failed: int
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    stalled: bool = Field(description="running, but no progress for ORDERHUB_IMPORT_STALLED_SECONDS: "
                                      "POST …/resume starts it again")
    resumes_by_itself: bool = Field(
        description="stalled, and the job runner will resume it within about a minute "
                    "(PostgreSQL, ORDERHUB_IMPORT_AUTO_RESUMES not used up)")


class DraftOut(Schema):
    id: int
    message: int
    status: str
    data: dict[str, Any]
    confidence: dict[str, float]
    text: str
    created_at: datetime
    order: str | None
    decided_by: str
    decided_at: datetime | None


class DraftConfirmIn(Schema):
    model_config = STRICT

    changes: dict[str, Any] = Field(default_factory=dict)


class QuickLineIn(Schema):
    model_config = STRICT

    item: Line = Field(min_length=1, max_length=128, description="SKU or one of its aliases")
    qty: Decimal = Field(gt=0, lt=Decimal("1e12"))


class QuickOrderIn(Schema):
    """Either ``lines`` (products with quantities) or ``item`` (a product, ordered in its usual
    quantity, or an earlier order's number or reference, ordered again)."""

    model_config = STRICT

    item: Line = Field(default="", max_length=128)
    lines: list[QuickLineIn] | None = Field(default=None, min_length=1, max_length=50)
    due_date: BizDate
    remark: Text = Field(default="", max_length=1000)


class QuickLinkOut(Schema):
    customer: str
    token: str
    url: str
    qr_svg: str


class ConfigOut(Schema):
    kind: str
    code: str
    version: int
    name: str
    is_current: bool
    spec: dict[str, Any]
    created_at: datetime
    created_by: str


def _config_out(v) -> dict[str, Any]:
    return {"kind": v.kind, "code": v.code, "version": v.version, "name": v.name, "is_current": v.is_current,
            "spec": v.spec, "created_at": v.created_at, "created_by": v.created_by}


MessageStatus = Literal[tuple(InboundMessage.Status.values)]  # type: ignore[valid-type]
MessageKind = Literal[tuple(InboundMessage.Kind.values)]  # type: ignore[valid-type]


@router.get("/messages", auth=requires("intake.view"), response={200: MessagePage, **ERRORS})
def list_messages(request, status: MessageStatus | None = None, channel: Line | None = None,
                  kind: MessageKind | None = None,
                  ref: Line | None = None, order: Line | None = None, received_from: IsoDate | None = None,
                  received_to: IsoDate | None = None, page: int = Query(1, ge=1, le=1_000_000),
                  page_size: int = Query(50, ge=1, le=500)):
    """The inbox, newest first, filtered. Dates are ISO dates (`2026-12-20`)."""
    qs = selectors.inbox_queryset(selectors.InboxFilter(
        status=status, channel=channel, kind=kind, ref=ref, order=order, received_from=received_from,
        received_to=received_to), actor=request.actor)
    start = (page - 1) * page_size
    return {"count": qs.count(), "page": page, "page_size": page_size,
            "items": [selectors.message_dict(m) for m in qs[start:start + page_size]]}


@router.get("/messages/{message_id}", auth=requires("intake.view"), response={200: MessageDetailOut, **ERRORS})
def get_message(request, message_id: int):
    """One message with its report (row, field, problem), orders, parts, drafts and history."""
    return selectors.message_detail(message_id, actor=request.actor)


@router.get("/messages/{message_id}/payload", auth=requires("intake.view"), response={200: None, **ERRORS})
def get_payload(request, message_id: int):
    """The payload exactly as received, always as a download: ``application/octet-stream``,
    ``Content-Disposition: attachment`` (the received file name, else ``message-<id>.bin``),
    ``X-Content-Type-Options: nosniff``. The type the sender claimed is in the message's
    ``content_type``."""
    body, _content_type, filename = selectors.message_payload(message_id, actor=request.actor)
    return download_response(body, filename=filename, fallback=f"message-{message_id}.bin")


class RefusedOut(Schema):
    id: int
    received_at: datetime
    kind: str
    channel: str
    reason: str
    reason_label: str
    detail: str
    ip: str
    user_agent: str
    content_type: str
    size: int
    sha256: str
    head: str


class RefusedPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[RefusedOut]


@router.get("/refused", auth=requires("intake.refused"), response={200: RefusedPage, **ERRORS})
def list_refused(request, channel: Line | None = None, reason: Line | None = None, ip: Line | None = None,
                 page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(50, ge=1, le=500)):
    """Requests refused at intake (bad or missing signature, unknown channel, wrong quick-order
    link), newest first. Their bodies were not kept: size, SHA-256 and the first 1 KiB (control
    characters escaped). Administrators only."""
    qs = selectors.refused_queryset(channel=channel, reason=reason, ip=ip)
    start = (page - 1) * page_size
    return {"count": qs.count(), "page": page, "page_size": page_size,
            "items": [selectors.refused_dict(r) for r in qs[start:start + page_size]]}


@router.post("/messages/{message_id}/replay", auth=requires("intake.import"), response={200: MessageDetailOut, **ERRORS})
def replay(request, message_id: int):
    """Run a failed or to-review message again through the current mapping."""
    selectors.visible_message(message_id, actor=request.actor)
    services.inbound_replay(message=message_id, actor=request.actor)
    return selectors.message_detail(message_id, actor=request.actor)


@router.post("/replay-failed", auth=requires("intake.import"), response={200: list[MessageOut], **ERRORS})
def replay_failed(request, channel: Line | None = None):
    return [selectors.message_dict(m) for m in services.inbound_replay_failed(actor=request.actor, channel=channel)]


@router.post("/uploads", auth=requires("intake.import"), response={201: JobOut, 202: JobOut, **ERRORS})
def upload(request, file: File[UploadedFile], channel: Form[str], mode: Form[str] = "accept_valid",
           wait: Form[bool] = True):
    """Import a CSV, XLSX or legacy XLS file through its channel's mapping. The answer is the import's
    progress record; its message holds the per-row report. The import starts as from the upload
    page (a large file: in chunks, handed to a process with several workers when the rest is long).

    ``wait=true`` (the default): answered 201 once the import has ended (202 if another process
    still imports part of it, e.g. a resumed import). ``wait=false``: answered 202 at once with
    the job running; poll ``GET /uploads/{id}`` until its status is no longer ``running``."""
    content = file.read()
    job = services.upload_receive(channel=channel, filename=file.name or "", content=content, actor=request.actor,
                                  mode=mode, content_type=file.content_type or "",
                                  source=request.META.get("REMOTE_ADDR") or "")
    if wait:
        job = services.upload_finish(job=job, actor=request.actor)
    else:
        services.upload_start(job=job, actor=request.actor)
        job.refresh_from_db()
    return Status(202 if job.status == job.Status.RUNNING else 201, selectors.job_dict(job))


@router.post("/uploads/{job_id}/resume", auth=requires("intake.import"), response={202: JobOut, **ERRORS})
def resume_upload(request, job_id: int):
    """Start again an import that has stopped making progress (``stalled``): its rows already
    imported come back as duplicates, never twice. 409 once it has ended or while it progresses."""
    selectors.upload_progress(job_id, actor=request.actor)  # 404 for a job this caller may not see
    return Status(202, selectors.job_dict(services.upload_resume(job=job_id, actor=request.actor)))


@router.get("/uploads/{job_id}", auth=requires("intake.view"), response={200: JobOut, **ERRORS})
def upload_progress(request, job_id: int):
    """What a progress bar polls."""
    return selectors.upload_progress(job_id, actor=request.actor)


@router.get("/drafts", auth=requires("intake.view"), response={200: list[DraftOut], **ERRORS})
def list_drafts(request):
    """Drafts read from pictures and PDFs, awaiting a person's confirmation."""
    return [selectors.draft_dict(d) for d in selectors.drafts_open(actor=request.actor)[:500]]


@router.get("/drafts/{draft_id}", auth=requires("intake.view"), response={200: DraftOut, **ERRORS})
def get_draft(request, draft_id: int):
    return selectors.draft_dict(selectors.get_draft(draft_id, actor=request.actor))


@router.post("/drafts/{draft_id}/confirm", auth=requires("intake.import"), response={200: DraftOut, **ERRORS})
def confirm_draft(request, draft_id: int, payload: DraftConfirmIn):
    """Create the order from the draft, with the person's corrections. A line price other than
    the standard price needs `orders.change_price` (403 naming `lines[i].unit_price`)."""
    selectors.get_draft(draft_id, actor=request.actor)
    return selectors.draft_dict(services.draft_confirm(draft=draft_id, actor=request.actor,
                                                       changes=payload.changes))


@router.post("/drafts/{draft_id}/discard", auth=requires("intake.import"), response={200: DraftOut, **ERRORS})
def discard_draft(request, draft_id: int, payload: ReasonIn):
    selectors.get_draft(draft_id, actor=request.actor)
    return selectors.draft_dict(services.draft_discard(draft=draft_id, actor=request.actor,
                                                       reason=payload.reason))


@router.get("/config", auth=requires("intake.view"), response={200: list[ConfigOut], **ERRORS})
def list_config(request):
    return [_config_out(v) for v in ConfigVersion.objects.filter(is_current=True).order_by("kind", "code")]


@router.put("/config", auth=requires("intake.configure"), response={200: ConfigOut, **ERRORS})
def save_config(request, payload: Body[dict[str, Any]]):
    """Save a new version of a mapping, tag rules, triage rules or e-mail routes; refused (422)
    naming the fault when invalid."""
    return _config_out(services.config_save(data=payload, actor=request.actor))


@router.post("/quick-links/{customer}", auth=requires("intake.quick_link"), response={201: QuickLinkOut, **ERRORS})
def issue_quick_link(request, customer: Line):
    """A new quick-order link for a customer (the old one stops working), with its QR code."""
    token = services.quick_link_issue(customer=customer, actor=request.actor)
    url = request.build_absolute_uri(f"/api/intake/quick/{token}")
    return Status(201, {"customer": customer, "token": token, "url": url,
                        "qr_svg": services.quick_qr(url, kind="svg").decode()})


@router.get("/quick/{token}", auth=None, response={200: dict[str, Any], **DOOR_ERRORS})
def quick_who(request, token: str):
    """Whom a quick-order link orders for (what the page greets the customer with)."""
    c = services.quick_customer(token)
    return {"customer": c.code, "name": c.name}


@router.get("/quick/{token}/qr.{kind}", auth=None, response={200: None, **DOOR_ERRORS})
def quick_qr(request, token: str, kind: str):
    services.quick_customer(token)
    if kind not in ("png", "svg"):
        raise NotFound("not_found", _("QR codes come as png or svg."))
    url = request.build_absolute_uri(f"/api/intake/quick/{token}")
    return download_response(services.quick_qr(url, kind=kind), filename=f"quick-order.{kind}",
                             fallback=f"quick-order.{kind}",
                             content_type="image/png" if kind == "png" else "image/svg+xml")


@router.post("/quick/{token}", auth=None, response={201: MessageOut, 200: MessageOut, **DOOR_ERRORS})
def quick_order(request, token: str, payload: QuickOrderIn):
    """A customer's quick order: products with quantities (`lines`), or one product or earlier
    order reference (`item`); due date, remark. 422 names every faulty line. A wrong
    link is 404 and stores nothing (the refusal is logged); 429 (``Retry-After``) when the
    client's address sent too many orders or wrong links."""
    lines = [(ln.item, ln.qty) for ln in payload.lines] if payload.lines is not None else None
    msg = services.quick_order_submit(token=token, item=payload.item, due_date=payload.due_date,
                                      remark=payload.remark, lines=lines, context=getattr(request, "orderhub_context", None),
                                      body=request.body, content_type=request.content_type or "")
    return Status(201 if msg.status == InboundMessage.Status.PARSED else 200,
                  selectors.message_dict(selectors.get_message(msg.pk)))


@router.post("/{channel}", auth=None, response={202: MessageOut, **DOOR_ERRORS})
def webhook(request, channel: str):
    """A channel's signed JSON webhook: headers X-OrderHub-Timestamp (Unix seconds) and
    X-OrderHub-Signature (``sha256=`` HMAC-SHA256 of ``<timestamp>.<body>`` with the channel's
    secret). Stored raw, then processed and answered with the message's status; in queue mode
    (ORDERHUB_INTAKE_WEBHOOK_MODE=queue) answered at once with the inbox id (status
    ``received``, ``queued``) and processed by ``orderhub intake process-pending``.

    Refused: 401 (signature missing or wrong, timestamp unreadable or outside the channel's
    window) or 404 (a channel that takes no webhooks). A refused request stores nothing and its
    answer carries no id; it is logged (``GET /api/intake/refused``). 429 with ``Retry-After``
    when the client's address sent too many requests, or too many refused ones."""
    msg = services.webhook_receive(channel=channel, body=request.body, headers=dict(request.headers),
                                   content_type=request.content_type or "",
                                   context=getattr(request, "orderhub_context", None))
    return Status(202, selectors.message_dict(msg if msg.queued else selectors.get_message(msg.pk)))

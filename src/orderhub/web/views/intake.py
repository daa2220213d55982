"""Intake pages: the inbox (with replay), file uploads with a progress bar and a per-row
report, OCR drafts a person confirms, and the customer's quick-order page (QR code)."""

from __future__ import annotations

import logging
import re
from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.core import permissions
from orderhub.core.actors import RequestContext
from orderhub.core.downloads import download_response
from orderhub.core.errors import DomainError, NotFound, PermissionDenied
from orderhub.intake.models import ConfigVersion, ImportJob, InboundMessage
from orderhub.intake.preview import preview_png
from orderhub.intake.report import summary_counts
from orderhub.intake.selectors import (
    InboxFilter,
    drafts_open,
    get_draft,
    inbox_queryset,
    message_detail,
    message_payload,
    running_imports,
    triage_alerts_for,
    upload_progress,
    visible_message,
)
from orderhub.intake.services import (
    draft_confirm,
    draft_discard,
    inbound_replay,
    quick_customer,
    quick_lines_problems,
    quick_link_issue,
    quick_order_submit,
    quick_qr,
    quick_refused,
    upload_receive,
    upload_resume,
    upload_start,
)
from orderhub.intake.services.config import compiled_config
from orderhub.intake.services.email import EMAIL_CHANNEL
from orderhub.intake.services.upload import email_upload, is_email_file

from .common import actor_for, field_errors, refused, requires

logger = logging.getLogger(__name__)
PAGE_SIZE = 50


def _file_channels() -> list[tuple[str, str]]:
    """Every channel with a mapping (a webhook channel reads a saved .json body too), then
    e-mails saved as .eml (their attachments go where the e-mail routes send them)."""
    out = []
    for v in ConfigVersion.objects.filter(kind=ConfigVersion.Kind.MAPPING, is_current=True).order_by("code"):
        out.append((v.code, compiled_config(v).spec.name))
    out.append((EMAIL_CHANNEL, _("E-mail saved as .eml")))
    return out


@requires("intake.view")
def inbox(request):
    actor = actor_for(request)
    f = InboxFilter(status=request.GET.get("status") or None, channel=request.GET.get("channel") or None,
                    ref=request.GET.get("ref") or None)
    page = Paginator(inbox_queryset(f, actor=actor), PAGE_SIZE).get_page(request.GET.get("page"))
    running = running_imports(m.pk for m in page)
    for m in page:
        m.running_import = running.get(m.pk)
        m.summary = summary_counts((m.report or {}).get("summary"))
    return render(request, "web/intake/inbox.html", {
        "page": page, "statuses": InboundMessage.Status.choices, "f": f,
        "drafts": drafts_open(actor=actor).count(),
        "may_import": permissions.allowed(actor, "intake.import"),
        "alerts": triage_alerts_for(username=request.user.get_username(), roles=actor.roles, actor=actor),
    })


@requires("intake.view")
def message(request, pk: int):
    try:
        m = message_detail(pk, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    return render(request, "web/intake/message.html", {"m": m})


@requires("intake.view")
def message_raw(request, pk: int):
    """The payload as received, only ever as a download (``core.downloads``)."""
    try:
        payload, _content_type, filename = message_payload(pk, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    return download_response(payload, filename=filename, fallback=f"message-{pk}.bin")


@requires("intake.import")
@require_POST
def message_replay(request, pk: int):
    back = reverse("web:intake_message", args=[pk])
    try:
        visible_message(pk, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    try:
        m = inbound_replay(message=pk, actor=actor_for(request), mode=request.POST.get("mode", "accept_valid"))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Replayed: %(status)s.") % {"status": m.get_status_display()})
    return redirect(back)


# --------------------------------------------------------------------------- uploads

@requires("intake.import")
def upload(request):
    errors: dict[str, list[str]] = {}
    channels = _file_channels()
    if request.method == "POST":
        f = request.FILES.get("file")
        if request.POST.get("channel") == EMAIL_CHANNEL or (f and is_email_file(f.name or "", f.content_type or "")):
            try:
                msg = email_upload(filename=f.name if f else "", content=f.read() if f else b"",
                                   actor=actor_for(request), source=request.META.get("REMOTE_ADDR", ""))
            except DomainError as e:
                errors = field_errors(e)
            else:
                return redirect("web:intake_message", pk=msg.pk)
            return render(request, "web/intake/upload.html", {
                "channels": channels, "errors": errors, "modes": ImportJob.Mode.choices}, status=400)
        try:
            job = upload_receive(channel=request.POST.get("channel", ""), filename=f.name if f else "",
                                 content=f.read() if f else b"", actor=actor_for(request),
                                 mode=request.POST.get("mode", ImportJob.Mode.ACCEPT_VALID),
                                 content_type=(f.content_type if f else "") or "",
                                 source=request.META.get("REMOTE_ADDR", ""))
        except DomainError as e:
            errors = field_errors(e)
        else:
            upload_start(job=job, actor=actor_for(request))
            return redirect("web:intake_job", pk=job.pk)
    return render(request, "web/intake/upload.html", {
        "channels": channels, "errors": errors, "modes": ImportJob.Mode.choices,
    }, status=400 if errors else 200)


@requires("intake.view")
def job(request, pk: int):
    actor = actor_for(request)
    try:
        progress = upload_progress(pk, actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    detail = message_detail(progress["message"], actor=actor)
    template = "web/intake/_job.html" if request.headers.get("HX-Request") else "web/intake/job.html"
    return render(request, template, {"job": progress, "m": detail,
                                      "can_resume": permissions.allowed(actor, "intake.import")})


@requires("intake.import")
@require_POST
def job_resume(request, pk: int):
    back = reverse("web:intake_job", args=[pk])
    try:
        upload_progress(pk, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    try:
        upload_resume(job=pk, actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("The import has started again."))
    return redirect(back)


# --------------------------------------------------------------------------- drafts

@requires("intake.import")
def drafts(request):
    return render(request, "web/intake/drafts.html",
                  {"drafts": drafts_open(actor=actor_for(request)).select_related("message")})


def _draft_changes(post, data: dict) -> dict:
    changes = {}
    for name in ("customer", "external_ref", "required_date", "urgency", "remarks"):
        if name in post and post[name].strip() != str(data.get(name) or ""):
            changes[name] = post[name].strip()
    lines = _posted_lines(post)
    if lines:
        old = [{k: str(ln.get(k) or "") for k in LINE_FIELDS} for ln in data.get("lines") or []]
        if lines != old:
            changes["lines"] = lines
    return changes


LINE_FIELDS = ("sku", "qty", "unit", "unit_price")


def _posted_lines(post) -> list[dict]:
    """The draft form's lines as typed (rows without a SKU left out); a blank price is the
    standard price, any other needs a role that may change prices."""
    columns = [post.getlist(f"line_{k}") for k in LINE_FIELDS]
    rows = [dict(zip(LINE_FIELDS, (c[i].strip() if i < len(c) else "" for c in columns), strict=True))
            for i in range(len(columns[0]))]
    return [r for r in rows if r["sku"]]


@requires("intake.import")
def draft(request, pk: int):
    try:
        d = get_draft(pk, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    errors: dict[str, list[str]] = {}
    refused_status = 400
    if request.method == "POST":
        try:
            if request.POST.get("action") == "discard":
                draft_discard(draft=d, actor=actor_for(request), reason=request.POST.get("reason", ""))
                messages.success(request, _("Draft discarded."))
                return redirect("web:intake_drafts")
            confirmed = draft_confirm(draft=d, actor=actor_for(request), changes=_draft_changes(request.POST, d.data))
        except DomainError as e:
            errors = field_errors(e)
            if not e.problems:
                errors["general"] = [e.message]
            if isinstance(e, PermissionDenied):  # e.g. a price only a role with change_price may set
                refused_status = 403
        else:
            messages.success(request, _("Order %(number)s created from the document.") % {"number": confirmed.order.number})
            return redirect("web:order_detail", number=confirmed.order.number)
    conf = d.confidence or {}
    shown = _posted_lines(request.POST) if errors and request.POST.getlist("line_sku") else d.data.get("lines") or []
    lines = [{**ln, "c_sku": conf.get(f"lines[{i}].sku"), "c_qty": conf.get(f"lines[{i}].qty"),
              "c_price": conf.get(f"lines[{i}].unit_price"),
              "errs": {k.split(".", 1)[1]: v for k, v in errors.items() if k.startswith(f"lines[{i}].")}}
             for i, ln in enumerate(shown)]
    line_keys = {f"lines[{i}].{k}" for i in range(len(shown)) for k in LINE_FIELDS}
    return render(request, "web/intake/draft.html", {
        "d": d, "data": d.data, "lines": lines + [{}], "conf": conf, "errors": errors,
        "other_errors": {k: v for k, v in errors.items()
                         if k not in line_keys and k not in ("general", "customer", "required_date")},
        "is_image": (d.message.content_type or "").startswith("image/"),
        "is_pdf": d.message.content_type == "application/pdf",
    }, status=refused_status if errors else 200)


@requires("intake.view")
def message_preview(request, pk: int):
    """What the draft page shows beside the fields: a PNG we draw from the stored picture or
    PDF (its first pages), never the stored bytes, served as a download all the same (an
    ``<img>`` shows it)."""
    try:
        payload, content_type, _filename = message_payload(pk, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    png = preview_png(payload, content_type)
    if png is None:
        raise Http404
    resp = download_response(png, filename=f"message-{pk}-preview.png", fallback=f"message-{pk}-preview.png",
                             content_type="image/png")
    resp["Cache-Control"] = "private, max-age=86400"  # stored payloads never change: draw it once a day
    return resp


# --------------------------------------------------------------------------- quick order

QUICK_MAX_FILES = 5

@requires("intake.quick_link")
def quick_link(request, code: str):
    """Issue a customer's quick-order link and show it with its QR code (printable)."""
    if request.method != "POST":
        return redirect("web:config_customer", code=code)
    try:
        token = quick_link_issue(customer=code, actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, reverse("web:config_customer", args=[code]))
    url = request.build_absolute_uri(reverse("web:quick_order", args=[token]))
    svg = quick_qr(url).decode()
    return render(request, "web/intake/quick_link.html", {"url": url, "svg": svg, "code": code})


@requires("public")
def quick_order(request, token: str):
    """The customer's page: three fields; everything else comes from their profile. An order
    posted with a wrong link is logged as a refused request (nothing stored)."""
    try:
        customer = quick_customer(token)
    except NotFound as e:
        if request.method == "POST":
            quick_refused(token=token, body=request.body, content_type=request.content_type or "",
                          context=getattr(request, "orderhub_context", None))
        return render(request, "web/intake/quick_invalid.html", {"message": e.message}, status=404)
    errors: dict[str, list[str]] = {}
    values = {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in ("due_date", "remark", "item")}
        items, qtys = request.POST.getlist("line_item"), request.POST.getlist("line_qty")
        lines = [(it.strip(), (qtys[i:i + 1] or [""])[0].strip()) for i, it in enumerate(items)
                 if it.strip() or (qtys[i:i + 1] or [""])[0].strip()]
        values["lines"] = lines or [("", "")]
        files = request.FILES.getlist("files")[:QUICK_MAX_FILES]
        try:
            due = date.fromisoformat(values["due_date"])
        except ValueError:
            errors["due_date"] = [_("Enter a date like 2026-10-10.")]
            due = None
        context = getattr(request, "orderhub_context", None) or RequestContext()
        msg = None
        repeat = values["item"] if values["item"] and not lines else ""  # an earlier order, ordered again
        if due is None:  # every fault in one round: the lines are checked without the date too
            for p in quick_lines_problems(lines) if not repeat else ():
                errors.setdefault(p.field or "general", []).append(p.message)
        else:
            try:
                msg = quick_order_submit(token=token, due_date=due, remark=values["remark"],
                                         item=repeat, lines=None if repeat else lines,
                                         files=[(f.name, f.read(), f.content_type or "") for f in files],
                                         context=context)
            except DomainError as e:
                for key, msgs in field_errors(e).items():
                    errors.setdefault(key, []).extend(msgs)
        if not errors and msg is not None:
            numbers = [link.order.number for link in msg.links.select_related("order")]
            return render(request, "web/intake/quick_done.html", {
                "customer": customer, "numbers": numbers, "status": msg.get_status_display(),
                "token": token})
    error_rows: dict[str, set[str]] = {"item": set(), "qty": set()}
    line_messages = []
    for key, msgs in errors.items():
        m = re.match(r"^lines\[(\d+)\]\.(item|qty)$", key)
        if m:
            error_rows[m.group(2)].add(m.group(1))
            line_messages.extend(_("Line %(n)s: %(message)s") % {"n": int(m.group(1)) + 1, "message": msg}
                                 for msg in msgs)
    return render(request, "web/intake/quick_order.html", {
        "customer": customer, "errors": errors, "values": values, "token": token,
        "empty_line": [("", "")], "error_rows": error_rows, "line_messages": line_messages,
    }, status=400 if errors else 200)


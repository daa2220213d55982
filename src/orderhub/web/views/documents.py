"""Printed documents: the order's confirmation and quotation, a shipment's delivery note and
packing list (PDF downloads through ``core.downloads``); the settings page of the letterhead and
the document templates an admin edits."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from orderhub.core.downloads import download_response
from orderhub.core.errors import DomainError, NotFound
from orderhub.orders.selectors import get_order
from orderhub.shipping import documents, selectors, services
from orderhub.shipping.doc_templates import DEFAULTS
from orderhub.shipping.models import DocumentTemplate, Letterhead

from .common import actor_for, field_errors, refused, requires

PDF = "application/pdf"


@requires("documents.print")
def order_document(request, number: str, kind: str):
    if kind not in documents.ORDER_KINDS:
        raise Http404(kind)
    try:
        order = get_order(number, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    try:
        pdf = documents.order_pdf(order, kind)
    except DomainError as e:
        return refused(request, e, reverse("web:order_detail", args=[number]))
    return download_response(pdf, filename=documents.filename(kind, order.number), fallback="document.pdf",
                             content_type=PDF)


@requires("documents.print")
def shipment_document(request, number: str, kind: str):
    if kind not in documents.SHIPMENT_KINDS:
        raise Http404(kind)
    try:
        sh = selectors.get_shipment(number, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    try:
        pdf = documents.shipment_pdf(sh, kind)
    except DomainError as e:
        return refused(request, e, reverse("web:shipment_detail", args=[number]))
    return download_response(pdf, filename=documents.filename(kind, sh.number), fallback="document.pdf",
                             content_type=PDF)


@requires("documents.manage")
def documents_settings(request):
    lh = Letterhead.objects.first()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        upload = request.FILES.get("logo")
        try:
            services.letterhead_save(
                actor=actor_for(request), name=request.POST.get("name", ""),
                address=request.POST.get("address", ""), phone=request.POST.get("phone", ""),
                logo=upload.read(1024 * 1024 + 1) if upload else None,
                remove_logo=request.POST.get("remove_logo") == "1")
        except DomainError as e:
            errors = field_errors(e)
        else:
            messages.success(request, _("Company letterhead saved."))
            return redirect(reverse("web:documents_settings"))
    custom = set(DocumentTemplate.objects.values_list("kind", flat=True))
    return render(request, "web/shipping/documents.html", {
        "lh": lh, "errors": errors, "values": request.POST if request.method == "POST" else None,
        "kinds": [{"code": k, "label": label, "custom": k in custom} for k, label in documents.KINDS.items()]})


@requires("documents.manage")
def document_template(request, kind: str):
    if kind not in documents.KINDS:
        raise Http404(kind)
    errors: dict[str, list[str]] = {}
    body = documents.template_body(kind)
    if request.method == "POST":
        reset = request.POST.get("reset") == "1"
        body = DEFAULTS[kind] if reset else request.POST.get("body", "")
        try:
            services.document_template_save(kind=kind, body=None if reset else body, actor=actor_for(request))
        except DomainError as e:
            errors = field_errors(e)
        else:
            messages.success(request, _("Default template restored.") if reset else _("Template saved."))
            return redirect(reverse("web:document_template", args=[kind]))
    return render(request, "web/shipping/template.html", {
        "kind": kind, "label": documents.KINDS[kind], "body": body, "errors": errors,
        "custom": DocumentTemplate.objects.filter(kind=kind).exists()})

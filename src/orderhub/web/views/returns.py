"""Return pages: raise a return from the order page (shipped quantities only), the list, one
return (QC result and report for QC, receipt for the warehouse, the credit note that follows)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.core import permissions
from orderhub.core.downloads import download_response
from orderhub.core.errors import DomainError, NotFound
from orderhub.finance import selectors, services
from orderhub.finance.models import ReturnOrder
from orderhub.finance.services.returns import MAX_QC_BYTES

from .common import actor_for, refused, requires, visible_or_404


@requires("returns.create")
@require_POST
def return_create(request, number: str):
    visible_or_404(request, number)
    back = reverse("web:order_detail", args=[number])
    quantities: dict[int, Decimal] = {}
    for key, raw in request.POST.items():
        if key.startswith("ret-") and raw.strip():
            try:
                qty = Decimal(raw.strip())
            except InvalidOperation:
                qty = Decimal("NaN")
            if not key[4:].isdecimal() or not qty.is_finite():
                messages.error(request, _("Return quantities must be numbers."))
                return redirect(back)
            quantities[int(key[4:][:7])] = qty
    try:
        r = services.return_create(order=number, actor=actor_for(request), data=services.ReturnInput(
            quantities, request.POST.get("reason", "")[:500]))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Return %(n)s recorded, awaiting inspection.") % {"n": r.number})
    return redirect(reverse("web:return_detail", args=[r.number]))


@requires("returns.view")
def return_list(request):
    status = request.GET.get("status", "")
    if status not in ReturnOrder.Status.values:
        status = ""
    qs = selectors.returns(actor_for(request), status=status or None)
    return render(request, "web/finance/returns.html", {
        "page": Paginator(qs, 50).get_page(request.GET.get("page")), "status": status,
        "statuses": ReturnOrder.Status.choices})


@requires("returns.view")
def return_detail(request, number: str):
    actor = actor_for(request)
    try:
        r = selectors.get_return(number, actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    return render(request, "web/finance/return.html", {
        "ret": r, "lines": r.lines.select_related("order_line__product", "warehouse").order_by("order_line__line_no"),
        "qc": getattr(r, "qc", None), "note": getattr(r, "credit_note", None),
        "may_qc": r.status == ReturnOrder.Status.REQUESTED and permissions.allowed(actor, "returns.qc"),
        "may_receive": r.status == ReturnOrder.Status.CHECKED and permissions.allowed(actor, "returns.receive")})


@requires("returns.qc")
@require_POST
def return_qc(request, number: str):
    back = reverse("web:return_detail", args=[number])
    actor = actor_for(request)
    upload = request.FILES.get("file")
    try:
        selectors.get_return(number, actor=actor)
        services.return_qc(ret=number, passed=request.POST.get("passed") == "1",
                           remark=request.POST.get("remark", "")[:500], actor=actor,
                           file_name=upload.name if upload else "",
                           content=upload.read(MAX_QC_BYTES + 1) if upload else None)
    except NotFound as e:
        raise Http404(e.message) from e
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Inspection result recorded."))
    return redirect(back)


@requires("returns.view")
def return_qc_file(request, number: str):
    try:
        r = selectors.get_return(number, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    qc = getattr(r, "qc", None)
    if qc is None or not qc.file:
        raise Http404(number)
    return download_response(qc.file.open("rb"), filename=qc.file_name, fallback="qc.bin")


@requires("returns.receive")
@require_POST
def return_receive(request, number: str):
    back = reverse("web:return_detail", args=[number])
    actor = actor_for(request)
    try:
        selectors.get_return(number, actor=actor)
        note = services.return_receive(ret=number, actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Received into stock; credit note %(n)s for %(a)s yuan has offset the customer's receivables.") % {
        "n": note.number, "a": f"{note.amount:,.2f}"})
    return redirect(back)

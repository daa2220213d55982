"""Shipping pages: plan a shipment from the order page, the shipment list (/shipping/), one
shipment (mark it shipped, print its delivery note and packing list)."""

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
from orderhub.shipping import selectors, services
from orderhub.shipping.models import Shipment

from .common import actor_for, refused, requires, visible_or_404


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _form_input(post) -> tuple[services.ShipmentInput | None, str]:
    quantities: dict[int, Decimal] = {}
    for key, raw in post.items():
        if not key.startswith("qty-") or not raw.strip():
            continue
        line_no = key[4:]
        qty = _decimal(raw)
        if not line_no.isdecimal() or qty is None:
            return None, _("Quantities must be numbers.")
        quantities[int(line_no)] = qty
    packages = post.get("packages", "1").strip() or "1"
    weight = post.get("weight_kg", "").strip()
    weight_kg = _decimal(weight) if weight else None
    if not packages.isdecimal() or (weight and weight_kg is None):
        return None, _("Packages and weight must be numbers.")
    return services.ShipmentInput(
        quantities=quantities, carrier=post.get("carrier", "")[:100], waybill=post.get("waybill", "")[:64],
        packages=int(packages[:7]), weight_kg=weight_kg, remarks=post.get("remarks", "")[:500]), ""


@requires("shipping.ship")
@require_POST
def order_shipment_create(request, number: str):
    visible_or_404(request, number)
    back = reverse("web:order_detail", args=[number])
    data, problem = _form_input(request.POST)
    if data is None:
        messages.error(request, problem)
        return redirect(back)
    try:
        sh = services.shipment_create(order=number, data=data, actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Shipment %(n)s created.") % {"n": sh.number}
                     + (_("Shipping notice sent to the customer.") if sh.notice_at else ""))
    return redirect(reverse("web:shipment_detail", args=[sh.number]))


@requires("shipping.view")
def shipment_list(request):
    status = request.GET.get("status", "")
    if status not in Shipment.Status.values:
        status = ""
    qs = selectors.shipments(actor_for(request), status=status or None)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "web/shipping/list.html", {
        "page": page, "status": status, "statuses": Shipment.Status.choices})


@requires("shipping.view")
def shipment_detail(request, number: str):
    actor = actor_for(request)
    try:
        sh = selectors.get_shipment(number, actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    return render(request, "web/shipping/detail.html", {
        "shipment": sh, "lines": selectors.shipment_lines(sh),
        "may_ship": sh.status == Shipment.Status.PLANNED and permissions.allowed(actor, "shipping.ship"),
        "may_prove": sh.status == Shipment.Status.SHIPPED and permissions.allowed(actor, "shipping.ship"),
        "invoice_refusal": selectors.invoice_refusal(sh),
        # issue 19 item 4: the shipment's invoice (finance) or the button that issues it
        "invoice": getattr(sh, "invoice", None) if permissions.allowed(actor, "finance.view") else None,
        "may_invoice": permissions.allowed(actor, "finance.manage"),
        "may_print": permissions.allowed(actor, "documents.print")})


@requires("shipping.ship")
@require_POST
def shipment_ship(request, number: str):
    back = reverse("web:shipment_detail", args=[number])
    actor = actor_for(request)
    try:
        selectors.get_shipment(number, actor=actor)
        services.shipment_ship(shipment=number, actor=actor,
                               carrier=request.POST.get("carrier", "").strip()[:100] or None,
                               waybill=request.POST.get("waybill", "").strip()[:64] or None)
    except NotFound as e:
        raise Http404(e.message) from e
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Shipped; stock deducted."))
    return redirect(back)


@requires("shipping.ship")
@require_POST
def shipment_pod(request, number: str):
    back = reverse("web:shipment_detail", args=[number])
    actor = actor_for(request)
    upload = request.FILES.get("file")
    try:
        selectors.get_shipment(number, actor=actor)
        if upload is None:
            messages.error(request, _("Choose the proof of delivery file."))
            return redirect(back)
        services.shipment_pod(shipment=number, name=upload.name, actor=actor,
                              content=upload.read(services.MAX_POD_BYTES + 1))
    except NotFound as e:
        raise Http404(e.message) from e
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Proof of delivery saved."))
    return redirect(back)


@requires("shipping.view")
def shipment_pod_file(request, number: str):
    try:
        sh = selectors.get_shipment(number, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    if not sh.pod_file:
        raise Http404(number)
    return download_response(sh.pod_file.open("rb"), filename=sh.pod_name, fallback="pod.bin")


@requires("shipping.ship")
@require_POST
def shipment_accept(request, number: str):
    back = reverse("web:shipment_detail", args=[number])
    actor = actor_for(request)
    try:
        selectors.get_shipment(number, actor=actor)
        services.shipment_accept(shipment=number, accepted_by=request.POST.get("accepted_by", "")[:100],
                                 note=request.POST.get("note", "")[:500], actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Customer acceptance recorded."))
    return redirect(back)

"""Purchasing pages under /purchasing/: purchase orders and requests (list), a PO (detail,
receive), a new PO, raising and approving requests, suppliers, ERP imports. Reads through
``purchasing.selectors``, writes through ``purchasing.services`` (the same as the API)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.catalog.models import Product
from orderhub.core import permissions
from orderhub.core.errors import DomainError, ValidationFailed
from orderhub.inventory.models import Warehouse
from orderhub.orders.safety import safety_overview
from orderhub.orders.shortages import raise_for_shortage, shortage_overview
from orderhub.purchasing import selectors, services
from orderhub.purchasing.imports import erp_import
from orderhub.purchasing.links import order_ids
from orderhub.purchasing.models import PurchaseOrder, PurchaseRequest, ReplenishmentRule, Supplier
from orderhub.purchasing.replenishment import rule_get, rule_save

from .common import actor_for, refused, requires

PAGE_SIZE = 50
NEW_LINES = 5


def _decimal(raw: str, field: str) -> Decimal:
    try:
        value = Decimal(raw.strip().replace(",", ""))
    except InvalidOperation:
        raise ValidationFailed("invalid_quantity", _("“%(v)s” is not a number.") % {"v": raw}) from None
    if not value.is_finite():
        raise ValidationFailed("invalid_quantity", _("“%(v)s” is not a number.") % {"v": raw})
    return value


def _date(raw: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed("invalid_date", _("“%(v)s” is not a date.") % {"v": raw}) from None


def _product(sku: str) -> int:
    pk = Product.objects.filter(sku=sku.strip()).values_list("pk", flat=True).first()
    if pk is None:
        raise ValidationFailed("unknown_product", _("Product “%(sku)s” does not exist.") % {"sku": sku})
    return pk


def _order(number: str) -> int | None:
    if not number.strip():
        return None
    found = order_ids([number])
    if number.strip() not in found:
        raise ValidationFailed("unknown_order", _("Order “%(n)s” does not exist or is closed.") % {"n": number})
    return found[number.strip()]


@requires("purchasing.view")
def purchasing_home(request):
    """Purchase orders (open first) and purchase requests (pending first)."""
    actor = actor_for(request)
    status = request.GET.get("status", "open")
    pos = selectors.purchase_orders(status=status if status in PurchaseOrder.Status.values else "")
    page = Paginator(pos, PAGE_SIZE).get_page(request.GET.get("page"))
    pending = list(selectors.purchase_requests(status=PurchaseRequest.Status.PENDING)[:200])
    approved = list(selectors.purchase_requests(status=PurchaseRequest.Status.APPROVED)[:200])
    recent = list(selectors.purchase_requests().exclude(status=PurchaseRequest.Status.PENDING)[:20])
    return render(request, "web/purchasing/home.html", {
        "page": page, "pos": page.object_list, "status": status, "statuses": PurchaseOrder.Status.choices,
        "pending": pending, "approved": approved, "recent": recent,
        "may_request": permissions.allowed(actor, "purchasing.request"),
        "may_approve": permissions.allowed(actor, "purchasing.approve"),
        "may_order": permissions.allowed(actor, "purchasing.order"),
        "may_receive": permissions.allowed(actor, "purchasing.receive"),
        "approver_roles": services.approver_roles()})


@requires("purchasing.view")
def purchase_order_detail(request, number: str):
    po = selectors.purchase_order(number)
    if po is None:
        raise Http404
    lines = selectors.po_lines(po)
    return render(request, "web/purchasing/detail.html", {
        "po": po, "lines": lines, "open": po.status == PurchaseOrder.Status.OPEN,
        "may_receive": permissions.allowed(actor_for(request), "purchasing.receive")})


@requires("purchasing.receive")
@require_POST
def purchase_order_receive(request, number: str):
    back = reverse("web:purchase_order", args=[number])
    receipts = []
    try:
        for key, raw in request.POST.items():
            if key.startswith("qty-") and raw.strip():
                receipts.append(services.ReceiptIn(int(key[4:]), _decimal(raw, key)))
        made = services.po_receive(actor=actor_for(request), number=number, receipts=receipts,
                                   note=request.POST.get("note", ""))
    except (DomainError, ValueError) as e:
        if isinstance(e, ValueError):
            e = ValidationFailed("invalid", _("Invalid line number."))
        return refused(request, e, back)
    messages.success(request, _("Received %(n)s lines; stock increased.") % {"n": len(made)})
    return redirect(back)


def _new_po_lines(post: Any) -> list[services.LineIn]:
    lines = []
    for i in range(NEW_LINES):
        sku, qty = post.get(f"sku-{i}", "").strip(), post.get(f"qty-{i}", "").strip()
        if not sku and not qty:
            continue
        order = _order(post.get(f"order-{i}", ""))
        amount = _decimal(qty, f"qty-{i}")
        lines.append(services.LineIn(_product(sku), amount, _date(post.get(f"date-{i}", "")),
                                     orders={order: amount} if order else {}))
    return lines


@requires("purchasing.order")
def purchase_order_new(request):
    approved = list(selectors.purchase_requests(status=PurchaseRequest.Status.APPROVED)[:200])
    context = {"suppliers": Supplier.objects.filter(is_active=True), "warehouses": Warehouse.objects.all(),
               "approved": approved, "rows": range(NEW_LINES), "post": request.POST,
               "chosen": request.POST.getlist("requests") or request.GET.getlist("request")}
    if request.method == "POST":
        try:
            po = services.po_place(
                actor=actor_for(request), supplier_id=int(request.POST.get("supplier") or 0),
                warehouse_id=int(request.POST.get("warehouse") or 0) or None,
                lines=_new_po_lines(request.POST), requests=request.POST.getlist("requests"),
                note=request.POST.get("note", ""))
        except DomainError as e:
            messages.error(request, e.message)
            for p in e.problems:
                if str(p.message) != e.message:
                    messages.error(request, str(p.message))
            return render(request, "web/purchasing/new.html", context, status=422)
        messages.success(request, _("Purchase order %(n)s placed.") % {"n": po.number})
        return redirect("web:purchase_order", number=po.number)
    return render(request, "web/purchasing/new.html", context)


@requires("purchasing.request")
@require_POST
def purchase_request_raise(request):
    back = reverse("web:purchasing")
    try:
        pr = services.request_raise(
            actor=actor_for(request), product_id=_product(request.POST.get("sku", "")),
            qty=_decimal(request.POST.get("qty", ""), "qty"), needed_by=_date(request.POST.get("needed_by", "")),
            order_id=_order(request.POST.get("order", "")), reason=request.POST.get("reason", ""))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Purchase request %(n)s submitted, awaiting approval.") % {"n": pr.number})
    return redirect(back)


@requires("purchasing.approve")
@require_POST
def purchase_request_approve(request, number: str):
    back = reverse("web:purchasing")
    approve = request.POST.get("decision", "approve") != "reject"
    try:
        services.request_decide(actor=actor_for(request), number=number, approve=approve,
                                note=request.POST.get("note", ""))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Purchase request %(n)s approved.") % {"n": number} if approve
                     else _("Purchase request %(n)s rejected.") % {"n": number})
    return redirect(back)


@requires("purchasing.view")
def suppliers(request):
    return render(request, "web/purchasing/suppliers.html", {
        "suppliers": selectors.suppliers(),
        "may_order": permissions.allowed(actor_for(request), "purchasing.order")})


@requires("purchasing.order")
@require_POST
def supplier_save(request):
    back = reverse("web:purchasing_suppliers")
    p = request.POST
    try:
        prices = []
        if p.get("sku", "").strip():
            prices.append(services.SupplierPrice(
                _product(p["sku"]), _decimal(p.get("unit_price") or "0", "unit_price"),
                int(p.get("lead_time_days") or 0), _decimal(p.get("moq") or "0", "moq")))
        services.supplier_save(actor=actor_for(request), code=p.get("code", ""), name=p.get("name", ""),
                               contact=p.get("contact", ""), prices=prices)
    except ValueError:
        return refused(request, ValidationFailed("invalid", _("Lead time days must be a whole number.")), back)
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Supplier saved."))
    return redirect(back)


def _import(request, kind: str):
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a file."))
        return redirect("web:purchasing")
    try:
        report = erp_import(actor=actor_for(request), kind=kind, content=upload.read(), filename=upload.name or "")
    except DomainError as e:
        return refused(request, e, reverse("web:purchasing"))
    return render(request, "web/purchasing/import_report.html", {"report": report, "filename": upload.name})


@requires("purchasing.order")
@require_POST
def import_orders(request):
    return _import(request, "orders")


@requires("purchasing.receive")
@require_POST
def import_receipts(request):
    return _import(request, "receipts")


@requires("purchasing.view")
def shortages(request):
    """Every material short for the open orders that hold no stock yet."""
    return render(request, "web/purchasing/shortages.html", {"rows": shortage_overview(),
                                                             "safety": safety_overview()})


@requires("purchasing.request")
@require_POST
def order_purchase_request(request, number: str):
    """A purchase request for what order ``number`` is missing of a material (source: shortage)."""
    back = reverse("web:order_detail", args=[number])
    try:
        pr = raise_for_shortage(actor=actor_for(request), number=number, sku=request.POST.get("sku", ""))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Purchase request %(n)s submitted, awaiting approval.") % {"n": pr.number})
    return redirect(back)


@requires("purchasing.view")
def purchase_request_detail(request, number: str):
    """One purchase request; the replenishment rule's evidence when the rule raised it."""
    pr = (PurchaseRequest.objects.select_related("product", "supplier", "order", "purchase_order")
          .filter(number=number).first())
    if pr is None:
        raise Http404
    actor = actor_for(request)
    return render(request, "web/purchasing/request.html", {
        "pr": pr, "evidence": pr.evidence or None,
        "may_approve": pr.status == PurchaseRequest.Status.PENDING and permissions.allowed(actor, "purchasing.approve")})


@requires("purchasing.order")
@require_POST
def replenishment_rule_save(request):
    back = reverse("web:purchasing_replenishment")
    p = request.POST
    try:
        rule_save(actor=actor_for(request), multiple=_decimal(p.get("multiple", ""), "multiple"),
                  days=int(p.get("days") or 0), peers=p.get("peers", ""), enabled=p.get("enabled") == "on")
    except ValueError:
        return refused(request, ValidationFailed("invalid", _("Consecutive days must be a whole number.")), back)
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Replenishment rule saved."))
    return redirect(back)


@requires("purchasing.view")
def replenishment_rule(request):
    """The replenishment rule's numbers; purchasers and admins change them here."""
    actor = actor_for(request)
    return render(request, "web/purchasing/replenishment.html", {
        "rule": rule_get(), "peer_choices": ReplenishmentRule.Peers.choices,
        "may_edit": permissions.allowed(actor, "purchasing.order"),
        "raised": PurchaseRequest.objects.filter(source=PurchaseRequest.Source.REPLENISHMENT)
        .select_related("product")[:20]})

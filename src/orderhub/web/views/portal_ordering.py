"""The portal's ordering pages: a new order with drawings (and a reorder: an earlier order's
lines copied into the form), and a change request of one of my orders. Placing goes through
intake's quick-order path (raw first), changes through the staff's approval flow; both audited
(``portal.ordering``); every order looked up within the contact's customer."""

from __future__ import annotations

from datetime import date

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from orderhub.core.errors import DomainError, NotFound
from orderhub.intake.models import InboundOrder
from orderhub.intake.services import portal_order_submit
from orderhub.orders.models import OrderLine
from orderhub.portal import ordering, selectors

from .common import field_errors
from .portal import _ctx, customer_required

EMPTY_ROWS = 3


def _known_products(contact) -> list[dict[str, str]]:
    """Products the customer ordered before (for the form's suggestions; nothing else)."""
    rows = (OrderLine.objects.filter(order__customer_id=contact.customer_id)
            .values_list("product__sku", "product__name").distinct().order_by("product__sku")[:200])
    return [{"sku": s, "name": n} for s, n in rows]


def _posted_lines(request) -> list[tuple[str, str]]:
    pairs = zip(request.POST.getlist("sku"), request.POST.getlist("qty"), strict=False)
    return [(s.strip()[:128], q.strip()[:32]) for s, q in pairs if s.strip() or q.strip()][:ordering.MAX_LINES]


def _due(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _place(request, contact, lines, due, reorder_of):
    files = [(f.name[:200], f.read(), f.content_type or "") for f in request.FILES.getlist("files")[:ordering.MAX_FILES + 1]]
    ordering.check_files(files)
    msg = portal_order_submit(customer=contact.customer.code, contact_id=contact.pk, contact_label=f"{contact.name} ({contact.customer.code})",
                              due_date=due, lines=lines, remark=request.POST.get("remark", "")[:1000], files=files,
                              reorder_of=reorder_of, context=_ctx(request))
    number = InboundOrder.objects.filter(message=msg).values_list("order__number", flat=True).first()
    ordering.order_placed_record(contact=contact, message_id=msg.pk, order=number, reorder_of=reorder_of,
                                 files=len(files), context=_ctx(request))
    return number


@customer_required
def portal_new_order(request):
    """Place an order (products, quantities, due date, remark, drawings); ``?from=<number>``
    copies one of my earlier orders' lines (reorder)."""
    contact = request.portal_contact
    source = (request.POST.get("from") or request.GET.get("from") or "").strip()[:64]
    errors: dict[str, list[str]] = {}
    rows: list[dict[str, str]] = []
    if source:
        try:
            rows = ordering.reorder_lines(contact, source)
        except NotFound as e:
            raise Http404(e.message) from e
    due_raw = ""
    if request.method == "POST":
        lines = _posted_lines(request)
        rows = [{"sku": s, "qty": q} for s, q in lines]
        due_raw = request.POST.get("due_date", "")
        due = _due(due_raw)
        if due is None:
            errors = {"due_date": [_("Choose the date you need the goods by.")]}
        else:
            try:
                number = _place(request, contact, lines, due, source)
            except DomainError as e:
                errors = field_errors(e) if e.problems else {"general": [e.message]}
            else:
                if number:
                    return redirect(reverse("web:portal_order", args=[number]) + "?placed=1")
                return redirect(reverse("web:portal_orders") + "?placed=1")
    return render(request, "web/portal/new_order.html", {
        "contact": contact, "rows": rows + [{"sku": "", "qty": ""}] * EMPTY_ROWS, "source": source,
        "due_date": due_raw, "remark": request.POST.get("remark", ""), "errors": errors,
        "products": _known_products(contact), "max_files": ordering.MAX_FILES,
    }, status=400 if errors else 200)


@customer_required
def portal_change(request, number: str):
    """Ask for a change of one of my orders (new date, quantities, why); staff approve it."""
    contact = request.portal_contact
    try:
        order = selectors.my_order(contact, number)
    except NotFound as e:
        raise Http404(e.message) from e
    lines = list(order.lines.select_related("product").order_by("line_no"))
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        raw_date = request.POST.get("required_date", "").strip()
        quantities = {ln.line_no: request.POST.get(f"qty_{ln.line_no}", "").strip() or str(ln.qty)
                      for ln in lines}
        try:
            ordering.change_request_raise_for(contact=contact, number=number, reason=request.POST.get("reason", ""),
                                              required_date=_due(raw_date) if raw_date else None,
                                              quantities=quantities, context=_ctx(request))
        except NotFound as e:
            raise Http404(e.message) from e
        except DomainError as e:
            errors = field_errors(e) if e.problems else {"general": [e.message]}
        else:
            return redirect(reverse("web:portal_order", args=[number]) + "?changed=1")
    return render(request, "web/portal/change.html", {
        "contact": contact, "number": number, "order": order, "lines": lines, "errors": errors,
        "post": request.POST, "requests": ordering.my_change_requests(order)}, status=400 if errors else 200)

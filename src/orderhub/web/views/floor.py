"""Shop-floor tickets on a phone (``/tickets/new/``: find the order, pick the problem type, take
photos), their photos (a thumbnail OrderHub drew, the original as a download), the knowledge
base of closed tickets and the problem-type list in the settings. Writes go through
``floor.services``."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from orderhub.catalog.models import Product
from orderhub.core import permissions
from orderhub.core.downloads import download_response
from orderhub.core.errors import DomainError
from orderhub.core.roles import ROLES
from orderhub.floor import selectors, services
from orderhub.floor.images import MAX_PHOTO_BYTES, MAX_PHOTOS
from orderhub.floor.models import FloorPhoto, FloorTicket, ProblemType, Severity
from orderhub.orders.models import Order, Ticket
from orderhub.orders.selectors import visible

from .common import actor_for, field_errors, requires

ORDER_MATCHES = 10


def _find_orders(request, q: str) -> list[Order]:
    qs = visible(Order.objects.select_related("customer"), actor_for(request)).order_by("-created_at")
    return list(qs.filter(number__icontains=q)[:ORDER_MATCHES]) if q else []


def _order_products(order: Order) -> list[Product]:
    return list(Product.objects.filter(pk__in=order.lines.values("product_id")).order_by("sku"))


@requires("tickets.open")
@require_http_methods(["GET", "POST"])
def floor_new(request):
    """Step 1 finds the order by number (or comes with ``?order=`` from the order page); step 2
    is the form. Photos are shrunk in the browser (``floor.js``) and checked again here."""
    number = selectors.plain(request.POST.get("order") or request.GET.get("order") or "", 40)
    order = visible(Order.objects.select_related("customer"), actor_for(request)).filter(number=number).first()
    if order is None:
        q = selectors.plain(request.GET.get("q") or number, 40)
        return render(request, "web/floor/find.html", {"q": q, "orders": _find_orders(request, q)})
    values = {"problem_type": "", "severity": Severity.NORMAL, "owner_role": "", "product": "", "title": "",
              "body": ""}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        photos = request.FILES.getlist("photos")
        try:
            floor = services.floor_ticket_open(
                order=order.number, problem_type=values["problem_type"], severity=values["severity"],
                title=values["title"], body=values["body"], product=values["product"] or None,
                owner_role=values["owner_role"] or None,
                photos=[(f.name or "photo", f.read(MAX_PHOTO_BYTES + 1)) for f in photos], actor=actor_for(request))
        except DomainError as e:
            errors = field_errors(e) or {"general": [e.message]}
        else:
            messages.success(request, _("Ticket opened."))
            return redirect("web:ticket", pk=floor.pk)
    products = _order_products(order)
    if not values["product"] and len(products) == 1:
        values["product"] = products[0].sku
    return render(request, "web/floor/new.html", {
        "order": order, "values": values, "errors": errors, "products": products,
        "types": ProblemType.objects.filter(active=True), "severities": Severity.choices,
        "roles": list(ROLES.items()), "max_photos": MAX_PHOTOS}, status=422 if errors else 200)


def floor_context(ticket: Ticket, actor) -> dict:
    """What the ticket page adds for a shop-floor ticket: details, photos, past resolutions."""
    floor = FloorTicket.objects.select_related("problem_type", "product").filter(pk=ticket.pk).first()
    if floor is None:
        return {}
    similar = []
    if ticket.status == Ticket.Status.OPEN:
        similar = selectors.similar_resolutions(
            actor=actor, problem_type=floor.problem_type.code, product=floor.product.sku if floor.product else "",
            text=floor.search_text, exclude=floor.pk)
    return {"floor": floor, "photos": list(floor.photos.select_related("attachment")), "similar": similar}


@requires("tickets.knowledge")
def knowledge(request):
    q = selectors.KbQuery(*(request.GET.get(k, "").strip()[:100]
                            for k in ("q", "problem_type", "product", "customer")))
    searched = any((q.text, q.problem_type, q.product, q.customer))
    found = selectors.kb_search(q, actor=actor_for(request), limit=selectors.KB_LIMIT if searched else 20)
    return render(request, "web/floor/knowledge.html", {
        "q": q, "found": found, "searched": searched, "types": ProblemType.objects.all()})


def _photo(request, pk: int, photo: int) -> FloorPhoto:
    ticket = visible(Ticket.objects.all(), actor_for(request), via="order__").filter(pk=pk).first()
    p = FloorPhoto.objects.select_related("attachment").filter(pk=photo, ticket_id=pk).first()
    if ticket is None or p is None:
        raise Http404(_("No such photo."))
    return p


@requires("tickets.view")
def photo_file(request, pk: int, photo: int):
    p = _photo(request, pk, photo)
    return download_response(p.attachment.file.open("rb"), filename=p.attachment.name, fallback="photo.jpg")


@requires("tickets.view")
def photo_thumbnail(request, pk: int, photo: int):
    p = _photo(request, pk, photo)
    resp = download_response(bytes(p.thumbnail), filename=f"photo-{p.pk}.png", fallback="photo.png",
                             content_type="image/png")
    resp["Cache-Control"] = "private, max-age=3600"
    return resp


def is_floor(pk: int) -> bool:
    return FloorTicket.objects.filter(pk=pk).exists()


def resolve_floor(request, pk: int) -> str | None:
    """The ticket page's resolve form for a shop-floor ticket (cause and fix); the error shown,
    or None when it was resolved."""
    try:
        services.floor_ticket_resolve(ticket=pk, cause=request.POST.get("cause", ""),
                                      fix=request.POST.get("fix", ""), actor=actor_for(request))
    except DomainError as e:
        return " ".join(m for ms in field_errors(e).values() for m in ms) or str(e.message)
    return None


@requires("settings.problem_types")
@require_http_methods(["GET", "POST"])
def problem_types(request):
    errors: list[str] = []
    rows = services.problem_types_data()
    if request.method == "POST":
        active = set(request.POST.getlist("active"))
        known = {r["code"] for r in rows}   # a new code (no checkbox yet) starts active
        rows = [{"code": c.strip(), "name": n.strip(), "default_role": r,
                 "active": c.strip() in active or c.strip() not in known}
                for c, n, r in zip(request.POST.getlist("code"), request.POST.getlist("name"),
                                   request.POST.getlist("default_role"), strict=False) if c.strip() or n.strip()]
        try:
            services.problem_types_save(types=rows, actor=actor_for(request))
        except DomainError as e:
            errors = [m for ms in field_errors(e).values() for m in ms] or [str(e.message)]
        else:
            messages.success(request, _("Problem types saved."))
            return redirect(reverse("web:config_problem_types"))
    return render(request, "web/config/problem_types.html", {
        "rows": rows, "blank": range(3), "roles": list(ROLES.items()), "errors": errors,
        "may_edit": permissions.allowed(actor_for(request), "settings.problem_types")},
        status=422 if errors else 200)

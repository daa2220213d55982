"""Configuration pages for administrators: workflows, master data, stock, users, calendar.

Every save goes through a service that checks the permission, validates (naming the fault)
and records the change in the audit log.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer, Product
from orderhub.catalog.services import customer_save, product_save, sales_owner_by_username
from orderhub.core import clock
from orderhub.core.calendar_config import estimated_years, get_business_calendar, year_is_estimated
from orderhub.core.errors import DomainError
from orderhub.core.models import CalendarOverride, OfficialHolidayYear
from orderhub.core.permissions import OrderScope, roles_overview
from orderhub.core.roles import ROLES
from orderhub.core.services import (
    calendar_official_import,
    calendar_override_set,
    role_setting_save,
    user_save,
)
from orderhub.core.text import text_fault
from orderhub.inventory.models import StockLevel, Warehouse
from orderhub.inventory.services import stock_adjust
from orderhub.orders.services import order_deadlines_recompute
from orderhub.workflow.models import WorkflowDefinition

from .common import actor_for, field_errors, requires

PAGE_SIZE = 50
_WHOLE = re.compile(r"[0-9]{1,9}")


def _decimal(value: str, field: str, errors: dict, *, default: Decimal | None = None) -> Decimal | None:
    value = (value or "").strip()
    if not value:
        return default
    try:
        d = Decimal(value)
        if not d.is_finite():
            raise InvalidOperation
        return d
    except InvalidOperation:
        errors.setdefault(field, []).append(_("Enter a number."))
        return None


@requires("settings.view")
def config_home(request):
    return render(request, "web/config/home.html", {
        "workflows": WorkflowDefinition.objects.filter(is_current=True).order_by("code"),
        "customers": Customer.objects.count(), "products": Product.objects.count(),
        "users": get_user_model().objects.filter(is_active=True).count(),
    })


# --------------------------------------------------------------------------- calendar

@requires("settings.calendar")
def calendar(request):
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            day = date.fromisoformat(request.POST.get("date", ""))
        except ValueError:
            errors["date"] = [_("Enter a date like 2026-10-10.")]
        else:
            try:
                calendar_override_set(day=day, is_workday=request.POST.get("is_workday") == "1",
                                      note=request.POST.get("note", "")[:200], actor=actor_for(request))
            except DomainError as e:
                errors = field_errors(e)
            else:
                messages.success(request, _("Calendar changed for %(day)s.") % {"day": day.isoformat()})
                return redirect("web:config_calendar")
    return _calendar_page(request, errors)


def _calendar_page(request, errors, import_errors=None, text="", source=""):
    cal = get_business_calendar()
    today = clock.now().date()
    special = []
    for i in range(0, 366):
        d = today + timedelta(days=i)
        kind = cal.day_kind(d)
        if kind not in ("workday", "weekend"):
            special.append({"date": d, "kind": kind, "name": cal.holiday_name(d) or "",
                            "estimated": year_is_estimated(d.year)})
    return render(request, "web/config/calendar.html", {
        "special": special, "overrides": CalendarOverride.objects.order_by("-date")[:100],
        "errors": errors, "periods": cal.periods,
        "estimated": estimated_years(today, date(today.year + 1, 12, 31)),
        "official": OfficialHolidayYear.objects.order_by("-year")[:20],
        "import_errors": import_errors or {}, "text": text, "source": source,
    }, status=400 if errors or import_errors else 200)


MAX_SCHEDULE_BYTES = 256 * 1024


def _schedule_text(request) -> str:
    upload = request.FILES.get("file")
    if upload is None:
        return request.POST.get("text", "")
    if upload.size > MAX_SCHEDULE_BYTES:
        raise ValueError(_("The file is larger than %(n)s KB.") % {"n": MAX_SCHEDULE_BYTES // 1024})
    raw = upload.read(MAX_SCHEDULE_BYTES + 1)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError(_("The file is not text (UTF-8 or GB18030)."))


@requires("settings.calendar")
def calendar_import(request):
    """Import a year's official holiday schedule, then recompute the open deadlines it moves."""
    if request.method != "POST":
        return redirect("web:config_calendar")
    source = request.POST.get("source", "").strip()[:200]
    try:
        text = _schedule_text(request)
    except ValueError as e:
        return _calendar_page(request, {}, {"text": [str(e)]}, "", source)
    actor = actor_for(request)
    try:
        year = calendar_official_import(text=text, source=source, actor=actor)
    except DomainError as e:
        return _calendar_page(request, {}, field_errors(e) or {"general": [e.message]}, text, source)
    moved = order_deadlines_recompute(actor=actor, since=date(year.year, 1, 1),
                                      reason=_("official holiday schedule %(year)s imported") % {"year": year.year})
    messages.success(request, _("Official schedule for %(year)s imported: %(off)s days off, %(on)s make-up "
                                "workdays; %(n)s open deadlines recomputed.")
                     % {"year": year.year, "off": len(year.days_off), "on": len(year.workdays), "n": len(moved)})
    return redirect("web:config_calendar")


# --------------------------------------------------------------------------- customers

@requires("settings.customers")
def customers(request):
    q = request.GET.get("q", "").strip()
    qs = Customer.objects.select_related("sales_owner").order_by("code")
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/config/customers.html", {"page": page, "q": q})


# the VAT invoice details finance copies onto each invoice
BILLING = ("tax_no", "bank_name", "bank_account", "billing_address", "billing_phone")


@requires("settings.customers")
def customer_edit(request, code: str):
    customer = Customer.objects.filter(code=code).first() if code != "_new" else None
    if code != "_new" and customer is None:
        raise Http404(code)
    errors: dict[str, list[str]] = {}
    values = {}
    if request.method == "POST":
        p = request.POST
        values = {k: p.get(k, "").strip() for k in ("code", "name", "tier", "credit_limit", "unpaid_external",
                                                    "sales_owner", "mobile", "email", *BILLING)}
        data = {"name": values["name"], "tier": values["tier"] or Customer.Tier.B,
                "credit_limit": _decimal(values["credit_limit"], "credit_limit", errors, default=Decimal("0")),
                "unpaid_external": _decimal(values["unpaid_external"], "unpaid_external", errors,
                                            default=Decimal("0")),
                "mobile": values["mobile"], "email": values["email"], "is_active": p.get("is_active") == "1",
                **{k: values[k] for k in BILLING if k in p}}
        if data["tier"] not in Customer.Tier.values:
            errors.setdefault("tier", []).append(_("Choose a tier."))
        if not errors:
            try:
                data["sales_owner"] = sales_owner_by_username(values["sales_owner"] or None)
                saved = customer_save(code=customer.code if customer else values["code"], data=data,
                                      actor=actor_for(request))
            except DomainError as e:
                errors = field_errors(e)
            else:
                messages.success(request, _("Customer %(code)s saved.") % {"code": saved.code})
                return redirect("web:config_customer", code=saved.code)
    return render(request, "web/config/customer.html", {
        "customer": customer, "values": values, "errors": errors, "tiers": Customer.Tier.choices,
        "users": get_user_model().objects.filter(is_active=True).order_by("username"),
    }, status=400 if errors else 200)


# --------------------------------------------------------------------------- products

@requires("settings.products")
def products(request):
    q = request.GET.get("q", "").strip()
    qs = Product.objects.order_by("sku")
    if q:
        qs = qs.filter(Q(sku__icontains=q) | Q(name__icontains=q))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/config/products.html", {"page": page, "q": q})


def _pairs(post, a: str, b: str, field: str, errors: dict) -> list[tuple[str, Decimal]]:
    out = []
    for i, (key, raw) in enumerate(zip(post.getlist(a), post.getlist(b), strict=False)):
        key = key.strip()
        if not key and not raw.strip():
            continue
        out.append((key, _decimal(raw, f"{field}[{i}]", errors)))
    return out


@requires("settings.products")
def product_edit(request, sku: str):
    product = Product.objects.filter(sku=sku).first() if sku != "_new" else None
    if sku != "_new" and product is None:
        raise Http404(sku)
    errors: dict[str, list[str]] = {}
    values: dict = {}
    bom = [(b.component.sku, b.qty_per_unit) for b in product.bom_items.select_related("component")] if product else []
    conversions = [(c.unit, c.factor) for c in product.conversions.all()] if product else []
    if request.method == "POST":
        p = request.POST
        values = {k: p.get(k, "").strip() for k in ("sku", "name", "unit", "unit_decimals", "kg_per_unit",
                                                    "list_price", "safety_stock", "moq", "lead_time_days")}
        data = {"name": values["name"], "unit": values["unit"],
                "kg_per_unit": _decimal(values["kg_per_unit"], "kg_per_unit", errors),
                "list_price": _decimal(values["list_price"], "list_price", errors, default=Decimal("0")),
                "safety_stock": _decimal(values["safety_stock"], "safety_stock", errors, default=Decimal("0")),
                "moq": _decimal(values["moq"], "moq", errors, default=Decimal("0")),
                "is_active": p.get("is_active") == "1"}
        for name in ("unit_decimals", "lead_time_days"):
            raw = values[name] or "0"
            if not _WHOLE.fullmatch(raw):  # str.isdigit() also takes "²", which int() refuses
                errors.setdefault(name, []).append(_("Enter a whole number."))
            else:
                data[name] = int(raw)
        bom = _pairs(p, "bom_component", "bom_qty", "bom", errors)
        conversions = _pairs(p, "conv_unit", "conv_factor", "conversions", errors)
        if not errors:
            try:
                saved = product_save(sku=product.sku if product else values["sku"], data=data,
                                     actor=actor_for(request), bom=bom, conversions=conversions)
            except DomainError as e:
                errors = field_errors(e)
            else:
                messages.success(request, _("Product %(sku)s saved.") % {"sku": saved.sku})
                return redirect("web:config_product", sku=saved.sku)
    return render(request, "web/config/product.html", {
        "product": product, "values": values, "errors": errors, "bom": bom + [("", "")],
        "conversions": conversions + [("", "")],
    }, status=400 if errors else 200)


# --------------------------------------------------------------------------- stock

@requires("settings.stock")
def stock(request):
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        p = request.POST
        sku, code = p.get("sku", "").strip(), p.get("warehouse", "")
        product = None if text_fault(sku) else Product.objects.filter(sku=sku).first()
        warehouse = None if text_fault(code) else Warehouse.objects.filter(code=code).first()
        if product is None:
            errors["sku"] = [_("Unknown SKU '%(sku)s'.") % {"sku": p.get("sku", "")}]
        if warehouse is None:
            errors["warehouse"] = [_("Choose a warehouse.")]
        qty = _decimal(p.get("qty", ""), "qty", errors)
        if qty is None and "qty" not in errors:
            errors["qty"] = [_("Enter a number.")]
        if not errors:
            try:
                stock_adjust(product_id=product.pk, warehouse_id=warehouse.pk, qty=qty,
                             actor=actor_for(request), note=p.get("note", ""))
            except DomainError as e:
                errors = field_errors(e)
            else:
                messages.success(request, _("Stock of %(sku)s changed by %(qty)s.") % {"sku": product.sku, "qty": qty})
                return redirect(reverse("web:config_stock") + f"?q={product.sku}")
    q = request.GET.get("q", "").strip()
    qs = StockLevel.objects.select_related("product", "warehouse").order_by("product__sku", "warehouse__priority")
    if q:
        qs = qs.filter(Q(product__sku__icontains=q) | Q(product__name__icontains=q))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/config/stock.html", {
        "page": page, "q": q, "errors": errors, "warehouses": Warehouse.objects.order_by("priority"),
        "values": request.POST if errors else {},
    }, status=400 if errors else 200)


# --------------------------------------------------------------------------- users

def _role_save(request):
    """One role's settings from the roles table: orders visible and prices."""
    p = request.POST
    role = p.get("role", "")
    try:
        role_setting_save(role=role, actor=actor_for(request), order_scope=p.get("order_scope") or None,
                          change_price=p.get("change_price") == "1")
    except DomainError as e:
        return {f"role:{role}": [str(m) for ms in field_errors(e).values() for m in ms]}
    messages.success(request, _("Role %(role)s saved.") % {"role": ROLES.get(role, role)})
    return None


@requires("users.manage")
def users(request):
    """People and their roles; each role's settings (orders visible, prices) and what it may do."""
    errors: dict[str, list[str]] = {}
    values: dict = {}
    if request.method == "POST" and request.POST.get("form") == "role":
        errors = _role_save(request) or {}
        if not errors:
            return redirect(reverse("web:config_users") + "#roles")
    elif request.method == "POST":
        p = request.POST
        values = {"username": p.get("username", "").strip(), "full_name": p.get("full_name", "").strip(),
                  "email": p.get("email", "").strip(), "roles": p.getlist("roles"),
                  "is_active": p.get("is_active") == "1"}
        try:
            saved = user_save(username=values["username"], roles=values["roles"], actor=actor_for(request),
                              full_name=values["full_name"], email=values["email"],
                              is_active=values["is_active"], password=p.get("password") or None)
        except DomainError as e:
            errors = field_errors(e)
        else:
            messages.success(request, _("User %(u)s saved.") % {"u": saved.get_username()})
            return redirect("web:config_users")
    people = get_user_model().objects.prefetch_related("groups").order_by("username")
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/config/users.html", {
        "page": page, "roles": list(ROLES.items()), "errors": errors, "values": values,
        "role_settings": roles_overview(), "scopes": OrderScope.choices,
    }, status=400 if errors else 200)

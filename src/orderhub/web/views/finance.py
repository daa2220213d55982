"""Finance pages: the workspace (/finance/: open invoices, overdue promises, unmatched money,
bank import with the result of each row, record a payment, export vouchers), one invoice (its
settlements and promises), a customer's finance tab, issuing a shipment's invoice, and the
order page's finance card (loaded on its own so the order page costs no more)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.db.models import F
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.core import permissions
from orderhub.core.downloads import download_response
from orderhub.core.errors import DomainError, NotFound
from orderhub.finance import selectors, services, vouchers
from orderhub.finance.models import BankImport, Invoice, Payment
from orderhub.finance.services.common import today
from orderhub.finance.statement import MAX_BYTES
from orderhub.orders.selectors import get_order
from orderhub.shipping.selectors import get_shipment

from .common import actor_for, refused, requires

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal((raw or "").strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


def _workspace(request, *, bank_result: BankImport | None = None, bank_errors: list[str] | None = None,
               status: int = 200):
    actor = actor_for(request)
    open_inv = selectors.invoices(actor, status="open").order_by("due_on", "pk")
    return render(request, "web/finance/home.html", {
        "open_invoices": open_inv[:50], "open_count": open_inv.count(),
        "overdue_count": open_inv.filter(due_on__lt=today()).count(),
        "promises": selectors.promises(actor, overdue=True)[:50],
        "unmatched": selectors.payments(actor, unmatched=True)[:50],
        "imports": selectors.bank_imports(10), "bank_result": bank_result, "bank_errors": bank_errors or [],
        "may_manage": permissions.allowed(actor, "finance.manage"), "today": today(),
        "month_start": today().replace(day=1), "kinds": Payment.Kind.choices,
    }, status=status)


@requires("finance.view")
def finance_home(request):
    shown = request.GET.get("import", "")
    result = BankImport.objects.filter(pk=int(shown)).first() if shown.isdecimal() and len(shown) < 10 else None
    return _workspace(request, bank_result=result)


@requires("finance.manage")
@require_POST
def bank_import(request):
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a bank statement file (CSV or Excel)."))
        return redirect("web:finance_home")
    try:
        imp = services.bank_import(name=upload.name or "statement", content=upload.read(MAX_BYTES + 1),
                                   actor=actor_for(request))
    except services.BankRowError as e:
        return _workspace(request, bank_errors=[str(p.message) for p in e.problems], status=422)
    except DomainError as e:
        return refused(request, e, reverse("web:finance_home"))
    messages.success(request, _("Imported %(n)s rows: %(m)s matched, %(u)s awaiting manual settlement.") % {
        "n": imp.rows, "m": imp.matched, "u": imp.unmatched})
    return redirect(reverse("web:finance_home") + f"?import={imp.pk}")


@requires("finance.manage")
@require_POST
def payment_record(request):
    p = request.POST
    back = p.get("back", "") if p.get("back", "").startswith("/finance/") else reverse("web:finance_home")
    amount, on = _decimal(p.get("amount", "")), _date(p.get("received_on", ""))
    if amount is None or on is None:
        messages.error(request, _("Enter a valid amount and date received."))
        return redirect(back)
    try:
        pay = services.payment_record(customer=p.get("customer", "")[:32], amount=amount, received_on=on,
                                      kind=p.get("kind", "payment"), order=p.get("order", "").strip()[:40] or None,
                                      memo=p.get("memo", "")[:300], invoice=p.get("invoice", "").strip()[:40] or None,
                                      actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Payment %(n)s recorded.") % {"n": pay.number})
    return redirect(back)


@requires("finance.manage")
@require_POST
def payment_apply(request, number: str):
    back = reverse("web:finance_home")
    amount = _decimal(request.POST.get("amount", "")) if request.POST.get("amount", "").strip() else None
    try:
        alloc = services.payment_apply(payment=number, invoice=request.POST.get("invoice", "").strip()[:40],
                                       amount=amount, actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Settled %(a)s yuan against invoice %(i)s.") % {"a": f"{alloc.amount:,.2f}", "i": alloc.invoice.number})
    return redirect(back)


@requires("finance.view")
def invoice_detail(request, number: str):
    actor = actor_for(request)
    try:
        inv = selectors.get_invoice(number, actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    return render(request, "web/finance/invoice.html", {
        "invoice": inv, "allocations": inv.allocations.select_related("payment", "credit_note").order_by("at", "pk"),
        "promises": inv.promises.order_by("promised_on", "pk"), "today": today(),
        "may_manage": permissions.allowed(actor, "finance.manage"),
        "candidates": Payment.objects.filter(customer=inv.customer, applied__lt=F("amount")).order_by("received_on")[:20],
    })


@requires("finance.manage")
@require_POST
def invoice_promise(request, number: str):
    back = reverse("web:finance_invoice", args=[number])
    on = _date(request.POST.get("promised_on", ""))
    raw = request.POST.get("amount", "").strip()
    amount = _decimal(raw) if raw else None
    if on is None or (raw and amount is None):
        messages.error(request, _("Enter a valid promised date and amount."))
        return redirect(back)
    try:
        selectors.get_invoice(number, actor=actor_for(request))
        services.promise_create(invoice=number, promised_on=on, amount=amount,
                                note=request.POST.get("note", "")[:300], actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Payment promise recorded."))
    return redirect(back)


@requires("finance.manage")
@require_POST
def invoice_issue(request, number: str):
    back = reverse("web:shipment_detail", args=[number])
    actor = actor_for(request)
    try:
        get_shipment(number, actor=actor)
        inv = services.invoice_issue(shipment=number, kind=request.POST.get("kind", "normal"), actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Invoice %(n)s issued for %(a)s yuan.") % {"n": inv.number, "a": f"{inv.amount:,.2f}"})
    return redirect(reverse("web:finance_invoice", args=[inv.number]))


@requires("finance.manage")
def voucher_export(request):
    system = request.GET.get("system", "")
    start, end = _date(request.GET.get("start", "")), _date(request.GET.get("end", ""))
    if system not in vouchers.SYSTEMS or start is None or end is None or end < start or (end - start).days > 366:
        messages.error(request, _("Choose the accounting software and a date range within one year."))
        return redirect("web:finance_home")
    content = vouchers.export(system, start, end, maker=actor_for(request).label)
    return download_response(content, filename=vouchers.filename(system, start, end), fallback="vouchers.xlsx",
                             content_type=XLSX)


@requires("finance.view")
def customer_finance(request, code: str):
    actor = actor_for(request)
    try:
        c = selectors.get_customer(code, actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    return render(request, "web/finance/customer.html", {
        "customer": c, "summary": selectors.customer_summary(c),
        "invoices": Invoice.objects.filter(customer=c).select_related("order").order_by("-issued_at")[:100],
        "payments": Payment.objects.filter(customer=c).order_by("-received_on", "-pk")[:100],
        "promises": c.payment_promises.select_related("invoice").order_by("-promised_on")[:50],
        "credit_notes": c.credit_notes.select_related("return_order").order_by("-issued_at")[:50],
        "today": today(), "may_manage": permissions.allowed(actor, "finance.manage"),
    })


@requires("orders.view")
def order_card(request, number: str):
    """The order page's finance card (fetched by htmx): invoices per shipment, returns."""
    actor = actor_for(request)
    may_fin, may_ret = permissions.allowed(actor, "finance.view"), permissions.allowed(actor, "returns.view")
    if not (may_fin or may_ret):
        raise Http404(number)
    try:
        order = get_order(number, actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    return render(request, "web/finance/_order_card.html", {
        "order": order, **selectors.order_finance(order), "may_fin": may_fin,
        "may_manage": permissions.allowed(actor, "finance.manage"),
        "may_return": permissions.allowed(actor, "returns.create")})

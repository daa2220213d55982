"""Order pages: the list (with export), one order (with its moves), the new-order form."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.catalog.selectors import customer_addresses
from orderhub.core import clock, permissions
from orderhub.core.calendar_config import estimated_years, get_business_calendar
from orderhub.core.downloads import download_response
from orderhub.core.errors import DomainError, NotFound, PermissionDenied
from orderhub.core.models import AuditEvent
from orderhub.orders import services
from orderhub.orders.boards import label_stages
from orderhub.orders.breakers.selectors import order_trips
from orderhub.orders.editing import edit_refusal, pending_change_request
from orderhub.orders.inputs import LineInput, OrderInput
from orderhub.orders.models import (
    Attachment,
    ChangeRequest,
    Order,
    OrderLine,
    Snapshot,
    StageInstance,
)
from orderhub.orders.safety import order_alerts as safety_alerts
from orderhub.orders.selectors import (
    DeferredJoinList,
    get_order,
    order_queryset,
    owned_stage_filter,
    snapshot_diff,
    visible,
)
from orderhub.orders.shortages import order_shortages
from orderhub.rules.selectors import order_alerts
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled

from ..forms import SORTS, OrderEditForm, OrderFilterForm, OrderHeaderForm, ReasonForm
from ..kpi_panels import Names
from ..labels import channel_label
from .common import actor_for, field_errors, refused, requires, visible_or_404

PAGE_SIZE = 50


def _filtered(request):
    actor = actor_for(request)
    form = OrderFilterForm(request.GET or None)
    f = form.order_filter(actor.roles)
    qs = order_queryset(f, actor=actor)
    if form.is_valid() and form.cleaned_data.get("mine"):
        owned = owned_stage_filter(actor.roles)
        qs = qs.filter(status=Order.Status.OPEN)
        if owned is not None:
            qs = qs.filter(owned)
    return form, f, qs.order_by(*form.ordering())


@requires("orders.view")
def order_list(request):
    form, _f, qs = _filtered(request)
    rows = DeferredJoinList(qs)
    paginator = Paginator(rows, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = label_stages(page.object_list)
    return render(request, "web/order_list.html", {
        "form": form, "page": page, "orders": page.object_list, "sorts": SORTS, "capped": rows.capped,
        "drill": _drill(form),
        "workflows": WorkflowDefinition.objects.filter(is_current=True).order_by("code"),
    })


def _drill(form) -> list[tuple[str, str, str, str]]:
    """The filters only the KPI dashboards' drill-downs set (channel, product, ticket type):
    kept as hidden fields and shown in words."""
    if not form.is_valid():
        return []
    out = []
    for name in ("channel", "product", "ticket"):
        value = form.cleaned_data.get(name)
        if value:
            text = (channel_label(value) if name == "channel"
                    else Names().kind(value) if name == "ticket" else value)
            out.append((name, str(form.fields[name].label), value, text))
    return out


@requires("orders.export")
def order_export(request):
    form, f, qs = _filtered(request)
    title = _("Orders")
    filters = {k: v for k, v in (form.cleaned_data.items() if form.is_valid() else []) if v}
    try:
        export = services.orders_export(queryset=qs, actor=actor_for(request), title=title,
                                        filters=filters)
    except DomainError as e:
        return refused(request, e, reverse("web:order_list") + "?" + request.GET.urlencode())
    return download_response(export.content, filename=export.name, fallback="orders.xlsx",
                             content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _deadline_estimated(order) -> list[int]:
    """The years without an official holiday schedule that the open stage's deadline counts
    through (its working hours there are estimated)."""
    if order.status != "open" or order.stage_due_at is None or order.stage_entered_at is None:
        return []
    return estimated_years(timezone.localtime(order.stage_entered_at).date(),
                           timezone.localtime(order.stage_due_at).date())


def _detail_context(request, order: Order) -> dict:
    actor = actor_for(request)
    wf = compiled(order.workflow_id)
    current = wf.stage(order.stage)
    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("line_no"))
    visits = {}
    for inst in StageInstance.objects.filter(order=order).order_by("entered_at", "pk"):
        visits[inst.stage] = inst
    stages = []
    for code, st in wf.stages.items():
        inst = visits.get(code)
        stages.append({"code": code, "name": st.spec.name, "owner_role": st.spec.owner_role,
                       "inst": inst, "current": code == order.stage,
                       "done": inst is not None and inst.exited_at is not None})
    events = list(AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("-seq"))
    snapshots = list(Snapshot.objects.filter(order=order).order_by("version")
                     .only("version", "stage", "taken_at", "sha256"))
    attachments = list(Attachment.objects.filter(order=order).order_by("uploaded_at"))
    is_open = order.status == Order.Status.OPEN
    may_move = is_open and actor.may_act_for_role(current.spec.owner_role)
    next_stages = [{"code": n, "name": wf.stage(n).spec.name} for n in current.spec.next] if is_open else []
    diff = None
    a, b = request.GET.get("a"), request.GET.get("b")
    if a and b and a.isdecimal() and b.isdecimal():  # isdigit() takes "²", which int() refuses
        try:
            diff = {"a": int(a), "b": int(b), "rows": snapshot_diff(order, int(a), int(b))}
        except NotFound as e:
            messages.error(request, e.message)
    sees_purchasing = is_open and permissions.allowed(actor, "purchasing.view")
    return {
        "shortages": order_shortages(order, [*lines]) if sees_purchasing else [],
        "safety_alerts": safety_alerts(order, [*lines]) if is_open else [],
        "breaker_trips": [t for t in order_trips(order.pk) if t.reset_at is None],
        "may_request_purchase": sees_purchasing and permissions.allowed(actor, "purchasing.request"),
        "order": order, "lines": lines, "stages": stages, "events": events, "snapshots": snapshots,
        "attachments": attachments, "current": current.spec, "next_stages": next_stages,
        "may_move": may_move, "may_override": is_open and actor.has_perm("orders.override_guard"),
        "may_hold": is_open and actor.has_perm("orders.hold_order"),
        "may_cancel": is_open and actor.has_perm("orders.cancel_order"),
        "may_attach": permissions.allowed(actor, "orders.attach"), "diff": diff,
        "may_see_forensics": permissions.may_see_forensics(actor),
        "stage_names": {code: st.spec.name for code, st in wf.stages.items()},
        "deadline_estimated": _deadline_estimated(order),
        "alerts": order_alerts(order),
        "may_edit": permissions.allowed(actor, "orders.update"),
        "may_edit_lines": permissions.allowed(actor, "orders.edit_lines"), "edit_refusal": edit_refusal(order, wf),
        "may_request_change": permissions.allowed(actor, "orders.change_request"),
        "change_requests": list(ChangeRequest.objects.filter(order=order)[:5]),
        "pending_change": pending_change_request(order),
    }


@requires("orders.view")
def order_detail(request, number: str):
    try:
        order = get_order(number, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    return render(request, "web/order_detail.html", _detail_context(request, order))


def _back(number: str) -> str:
    return reverse("web:order_detail", args=[number])


@requires("orders.move")
@require_POST
def order_move(request, number: str):
    visible_or_404(request, number)
    to = request.POST.get("to", "")
    try:
        result = services.order_transition(order=number, to=to, actor=actor_for(request),
                                           reason=request.POST.get("reason", ""))
    except DomainError as e:
        return refused(request, e, _back(number))
    if result.ok:
        messages.success(request, _("Moved to %(stage)s.") % {
            "stage": compiled(result.order.workflow_id).stage(result.order.stage).spec.name})
    else:
        messages.error(request, _("Cannot move: %(reasons)s") % {
            "reasons": "；".join(str(r.message) for r in result.reasons)})
    return redirect(_back(number))


def _act(request, number: str, call, done: str, *, reason_needed: str | None = None):
    """An action on one order from its page: the reason from the form (refused with
    ``reason_needed`` when that is set and none is given), the service ``call(reason)``, a
    message, and back to the order."""
    visible_or_404(request, number)
    if reason_needed is None:
        reason = request.POST.get("reason", "")
    else:
        form = ReasonForm(request.POST)
        if not form.is_valid():
            messages.error(request, reason_needed)
            return redirect(_back(number))
        reason = form.cleaned_data["reason"]
    try:
        call(reason)
    except DomainError as e:
        return refused(request, e, _back(number))
    messages.success(request, done)
    return redirect(_back(number))


@requires("orders.override")
@require_POST
def order_override(request, number: str):
    def call(reason):
        services.order_override(order=number, to=request.POST.get("to", ""), actor=actor_for(request),
                                reason=reason)
    return _act(request, number, call, _("Forced past the guards; the move is flagged in the history."),
                reason_needed=_("A forced move needs a reason."))


@requires("orders.hold")
@require_POST
def order_hold(request, number: str):
    return _act(request, number,
                lambda reason: services.order_hold(order=number, actor=actor_for(request), reason=reason),
                _("The order is on hold."), reason_needed=_("Please give a reason."))


@requires("orders.hold")
@require_POST
def order_resume(request, number: str):
    return _act(request, number,
                lambda reason: services.order_resume(order=number, actor=actor_for(request), reason=reason),
                _("The order is running again."))


@requires("orders.cancel")
@require_POST
def order_cancel(request, number: str):
    return _act(request, number,
                lambda reason: services.order_cancel(order=number, actor=actor_for(request), reason=reason),
                _("The order is cancelled; its stock is released."), reason_needed=_("Please give a reason."))


@requires("orders.update")
def order_edit(request, number: str):
    """The order's header and ship-to, editable while its stage allows it (``edit_refusal``
    says why not); saved through ``order_update``, which keeps a snapshot."""
    actor = actor_for(request)
    try:
        order = get_order(number, actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    refusal = edit_refusal(order)
    initial = {"required_date": order.required_date, "promised_date": order.promised_date,
               "urgency": order.urgency, "remarks": order.remarks, "tags": " ".join(f"#{t}" for t in order.tags),
               "ship_to_contact": order.ship_to_contact, "ship_to_phone": order.ship_to_phone,
               "ship_to_address": order.ship_to_address}
    form = OrderEditForm(request.POST or None, initial=initial)
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and refusal is None:
        if form.is_valid():
            current = {**initial, "tags": sorted(set(order.tags))}
            changes = {k: v for k, v in form.changes().items() if v != current[k]}
            book = request.POST.get("ship_to_address_id", "")
            if book.isdecimal():   # one of the customer's addresses, instead of the typed fields
                changes = {k: v for k, v in changes.items() if not k.startswith("ship_to_")}
                changes["ship_to_address_id"] = int(book)
            if not changes:
                messages.info(request, _("Nothing was changed."))
                return redirect(_back(number))
            try:
                services.order_update(order=number, changes=changes, actor=actor,
                                      reason=form.cleaned_data["reason"])
            except DomainError as e:
                errors = field_errors(e)
                errors.setdefault("general", [e.message])
            else:
                messages.success(request, _("The order is changed; a snapshot of it is kept."))
                return redirect(_back(number))
        else:
            errors = {k: list(v) for k, v in form.errors.items()}
    return render(request, "web/order_edit.html", {
        "order": order, "form": form, "errors": errors, "refusal": refusal,
        "urgencies": form.fields["urgency"].choices, "addresses": customer_addresses(order.customer_id),
    }, status=400 if errors else (409 if refusal and request.method == "POST" else 200))


def _attach_files(order_number: str, files, actor) -> None:
    for f in files:
        services.order_attach(order=order_number, name=f.name, content=f.read(),
                              content_type=f.content_type or "application/octet-stream", actor=actor)


@requires("orders.attach")
@require_POST
def order_attach(request, number: str):
    visible_or_404(request, number)
    files = request.FILES.getlist("files")
    if not files:
        messages.error(request, _("Choose at least one file."))
        return redirect(_back(number))
    try:
        with transaction.atomic():
            _attach_files(number, files, actor_for(request))
    except DomainError as e:
        return refused(request, e, _back(number))
    messages.success(request, _("%(n)d file(s) attached.") % {"n": len(files)})
    return redirect(_back(number))


@requires("orders.view")
def attachment_file(request, number: str, pk: int):
    """An attachment, only ever as a download (``core.downloads``); the order page shows
    pictures through ``<img>``, which draws them without the browser ever running them."""
    att = visible(Attachment.objects.filter(pk=pk, order__number=number), actor_for(request),
                  via="order__").first()
    if att is None:
        raise Http404
    return download_response(att.file.open("rb"), filename=att.name, fallback=f"attachment-{att.pk}.bin")


# --------------------------------------------------------------------------- new order

def _lines_from_post(post) -> tuple[list[dict], list[LineInput], dict[str, list[str]], list[int]]:
    """The line rows as typed (to show them again) and as inputs, with per-field problems, and
    for each input the index of its row."""
    rows, inputs, errors, row_of = [], [], {}, []
    skus = post.getlist("line_sku")
    for i, sku in enumerate(skus):
        row = {"sku": sku.strip(), "qty": post.getlist("line_qty")[i:i + 1] or [""],
               "unit": post.getlist("line_unit")[i:i + 1] or [""],
               "unit_price": post.getlist("line_price")[i:i + 1] or [""],
               "remarks": post.getlist("line_remarks")[i:i + 1] or [""]}
        row = {k: (v[0] if isinstance(v, list) else v).strip() for k, v in row.items()}
        if not any(row.values()):
            continue  # an empty row left by the form
        idx = len(rows)
        rows.append(row)
        if not row["sku"]:
            errors.setdefault(f"lines[{idx}].sku", []).append(_("Enter a SKU."))
        try:
            qty = Decimal(row["qty"])
        except InvalidOperation:
            errors.setdefault(f"lines[{idx}].qty", []).append(_("Enter a number."))
            qty = None
        price = None
        if row["unit_price"]:
            try:
                price = Decimal(row["unit_price"])
            except InvalidOperation:
                errors.setdefault(f"lines[{idx}].unit_price", []).append(_("Enter a number."))
        if qty is not None and row["sku"]:
            row_of.append(idx)
            inputs.append(LineInput(sku=row["sku"], qty=qty, unit=row["unit"] or None, unit_price=price,
                                    remarks=row["remarks"]))
    if not rows:
        errors.setdefault("lines", []).append(_("An order needs at least one line."))
    return rows, inputs, errors, row_of


def _order_from_post(request, actor) -> tuple[OrderHeaderForm, list[dict], dict[str, list[str]],
                                              services.Preview | None]:
    """The new-order form as posted: the header form, the line rows as typed, every error in
    one round (the form's, the lines', and the service's own checks on whatever parses) and the
    preview (amounts, total, warnings) when the customer and date are known."""
    form = OrderHeaderForm(request.POST)
    rows, lines, errors, row_of = _lines_from_post(request.POST)
    valid = form.is_valid()
    for name, errs in form.errors.items() if not valid else []:
        errors.setdefault(name, []).extend(errs)
    d = form.cleaned_data
    preview = None
    if lines or d.get("customer"):
        # the service's checks run on whatever parsed, so every fault shows in one round; a
        # date not given yet is checked as today (and then warns of nothing)
        today = clock.now().astimezone(get_business_calendar().tz).date()
        data = OrderInput(customer=(d.get("customer") or "").strip().upper(), lines=lines,
                          required_date=d.get("required_date") or today,
                          promised_date=d.get("promised_date"), urgency=d.get("urgency") or "green",
                          remarks=d.get("remarks") or "", tags=form.tag_list() if valid else [], channel="web",
                          workflow=d.get("workflow") or None, **(form.ship_to() if valid else {}))
        preview = services.order_preview(data=data, actor=actor)
        for problem in preview.errors:
            key = _form_field(problem.field or "general", row_of)
            if key == "lines" and not lines:
                continue
            if not errors.get(key):  # the form's own message for a field comes first, once
                errors.setdefault(key, []).append(problem.message)
        if not (d.get("customer") and d.get("required_date") and lines):
            preview.warnings = []
    return form, rows, errors, preview


def _form_field(field: str, row_of: list[int]) -> str:
    """A service problem's field (``lines[2].sku`` counts the lines built) as the form's key
    (which counts the rows shown: a row whose quantity did not parse built no line)."""
    if field.startswith("ship_to."):   # a typed address: ship_to.phone → ship_to_phone
        return field.replace(".", "_", 1)
    m = re.match(r"^lines\[(\d+)\](.*)$", field)
    if m and int(m.group(1)) < len(row_of):
        return f"lines[{row_of[int(m.group(1))]}]{m.group(2)}"
    return field


@requires("orders.create")
@require_POST
def order_new_preview(request):
    """The live summary of the new-order form (htmx): line amounts, total, every error found so
    far and the warnings to confirm. Writes nothing."""
    form, rows, errors, preview = _order_from_post(request, actor_for(request))
    return render(request, "web/_order_preview.html", {"preview": preview, "errors": errors, "rows": rows})


@requires("orders.create")
def order_new(request):
    actor = actor_for(request)
    errors: dict[str, list[str]] = {}
    refused_status = 400
    rows: list[dict] = [{}]
    form = OrderHeaderForm(request.POST or None)
    preview = None
    confirm_needed = False
    if request.method == "POST":
        form, rows, errors, preview = _order_from_post(request, actor)
        if preview is not None and any(p.code == "price_not_allowed" for p in preview.errors):
            refused_status = 403  # a price only a role with change_price may set: refused, not invalid
        if not errors and preview is not None and preview.warnings and not request.POST.get("confirm_warnings"):
            confirm_needed = True
        elif not errors:
            data = OrderInput(customer=form.cleaned_data["customer"].strip().upper(),
                              lines=_lines_from_post(request.POST)[1],
                              required_date=form.cleaned_data["required_date"],
                              promised_date=form.cleaned_data.get("promised_date"),
                              urgency=form.cleaned_data["urgency"], remarks=form.cleaned_data["remarks"],
                              tags=form.tag_list(), channel="web",
                              workflow=form.cleaned_data.get("workflow") or None, **form.ship_to())
            try:
                with transaction.atomic():
                    result = services.order_create(data=data, actor=actor)
                    _attach_files(result.order.number, request.FILES.getlist("files"), actor)
            except DomainError as e:
                errors = field_errors(e)
                if "general" in errors or not e.problems:
                    errors.setdefault("general", [e.message])
                if isinstance(e, PermissionDenied):  # e.g. a price only a role with change_price may set
                    refused_status = 403
            else:
                messages.success(request, _("Order %(number)s created.") % {"number": result.order.number})
                return redirect(_back(result.order.number))
        rows = rows or [{}]
    line_errors = [{k.split(".", 1)[1]: v for k, v in errors.items() if k.startswith(f"lines[{i}].")}
                   for i in range(len(rows))]
    return render(request, "web/order_new.html", {
        "form": form, "errors": errors, "rows": list(zip(rows, line_errors, strict=True)),
        "preview": preview, "confirm_needed": confirm_needed,
        "workflows": WorkflowDefinition.objects.filter(is_current=True).order_by("code"),
        "may_change_price": permissions.allowed(actor, "orders.change_price"),
    }, status=refused_status if errors else 200)

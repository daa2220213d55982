"""The edit-lines page of an order (change quantities and prices, remove lines, add lines;
saved through ``order_lines_change``) and the restore page (an earlier snapshot as the next
version, through ``order_restore``): each one transaction, a snapshot, a new version."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from orderhub.core import permissions
from orderhub.core.errors import DomainError, NotFound
from orderhub.orders import services
from orderhub.orders.editing import edit_refusal
from orderhub.orders.locks import order_lines
from orderhub.orders.models import Snapshot
from orderhub.orders.selectors import get_order, snapshot_diff
from orderhub.workflow.services import compiled

from .common import actor_for, requires

NEW_ROWS = 3


def _number(raw: str, errs: list[str], *, price: bool = False) -> Decimal | None:
    raw = raw.strip().replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or (value < 0 if price else value <= 0):
        errs.append(_("Unit price cannot be negative.") if price else _("Quantity must be greater than zero."))
        return None
    return value


def _rows(post, lines, may_price: bool) -> tuple[list[dict], list[dict], list[services.LineChange], list[str]]:
    """The form's rows (values and errors), the changes they ask for, and for each change the
    row field its problems belong to (``qty-3``, ``new-1-sku``)."""
    rows, new_rows, changes, where = [], [], [], []
    for ln in lines:
        n = ln.line_no
        row = {"line": ln, "qty": post.get(f"qty-{n}", format(ln.qty.normalize(), "f")),
               "price": post.get(f"price-{n}", format(ln.unit_price.normalize(), "f")),
               "remove": bool(post.get(f"remove-{n}")), "errs": {"qty": [], "price": [], "line": []}}
        rows.append(row)
        if row["remove"]:
            changes.append(services.LineChange("remove", line_no=n))
            where.append(f"{n}:line")
            continue
        qty = _number(row["qty"], row["errs"]["qty"])
        price = _number(row["price"], row["errs"]["price"], price=True) if may_price else None
        qty = None if qty == ln.qty else qty
        price = None if price == ln.unit_price else price
        if qty is not None or price is not None:
            changes.append(services.LineChange("update", line_no=n, qty=qty, unit_price=price))
            where.append(f"{n}:qty")
    for k in range(NEW_ROWS):
        row = {"k": k, "sku": post.get(f"new-{k}-sku", "").strip(), "qty": post.get(f"new-{k}-qty", ""),
               "price": post.get(f"new-{k}-price", ""), "errs": {"sku": [], "qty": [], "price": []}}
        new_rows.append(row)
        if not row["sku"]:
            continue
        qty = _number(row["qty"], row["errs"]["qty"])
        if qty is None and not row["errs"]["qty"]:
            row["errs"]["qty"].append(_("Quantity must be greater than zero."))
        price = _number(row["price"], row["errs"]["price"], price=True) if may_price else None
        changes.append(services.LineChange("add", sku=row["sku"], qty=qty or Decimal(1), unit_price=price))
        where.append(f"new-{k}")
    return rows, new_rows, changes, where


def _place(error: DomainError, rows: list[dict], new_rows: list[dict], where: list[str]) -> list[str]:
    """Put each problem next to its row's field; what belongs to no field is returned."""
    general = []
    by_no = {r["line"].line_no: r for r in rows}
    for p in error.problems or []:
        field = p.field or ""
        if field.startswith("changes[") and "]" in field:
            i = int(field[8:field.index("]")])
            attr = field[field.index("]") + 2:] if "." in field else ""
            target = where[i] if i < len(where) else ""
            if target.startswith("new-"):
                row = new_rows[int(target[4:])]
                row["errs"]["price" if attr == "unit_price" else "qty" if attr == "qty" else "sku"].append(str(p.message))
                continue
            if ":" in target:
                row = by_no[int(target.split(":")[0])]
                row["errs"]["price" if attr == "unit_price" else "qty" if attr in ("qty", "unit") else "line"].append(
                    str(p.message))
                continue
        general.append(str(p.message))
    return general or ([] if error.problems else [error.message])


@requires("orders.edit_lines")
def order_lines_edit(request, number: str):
    actor = actor_for(request)
    try:
        order = get_order(number, actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    refusal = edit_refusal(order)
    may_price = permissions.allowed(actor, "orders.change_price")
    lines = order_lines(order)
    post = request.POST if request.method == "POST" else {}
    rows, new_rows, changes, where = _rows(post, lines, may_price)
    general: list[str] = []
    invalid = any(e for r in [*rows, *new_rows] for e in r["errs"].values())
    if request.method == "POST" and refusal is None and not invalid:
        if not changes:
            messages.info(request, _("Nothing was changed."))
            return redirect(reverse("web:order_detail", args=[number]))
        try:
            services.order_lines_change(order=number, changes=changes, actor=actor,
                                        reason=request.POST.get("reason", "").strip()[:1000])
        except DomainError as e:
            general = _place(e, rows, new_rows, where)
            invalid = True
        else:
            messages.success(request, _("The lines are changed; a snapshot of the order is kept."))
            return redirect(reverse("web:order_detail", args=[number]))
    status = 400 if invalid else (409 if refusal and request.method == "POST" else 200)
    return render(request, "web/order_lines.html", {
        "order": order, "rows": rows, "new_rows": new_rows, "may_price": may_price, "refusal": refusal,
        "general": general, "reason": post.get("reason", ""),
    }, status=status)


@requires("orders.edit_lines")
def order_restore(request, number: str):
    """Pick an earlier snapshot, see how it differs from the latest one, and restore it as the
    next version (``order_restore``)."""
    actor = actor_for(request)
    try:
        order = get_order(number, actor=actor)
    except NotFound as e:
        raise Http404(e.message) from e
    raw = request.POST.get("version") or request.GET.get("version") or ""
    version = int(raw) if raw.isdecimal() else None
    snapshots = list(Snapshot.objects.filter(order=order).order_by("version").only("version", "stage", "taken_at"))
    latest = snapshots[-1].version if snapshots else None
    diff, errors = None, []
    if version is not None and latest is not None:
        try:
            diff = snapshot_diff(order, latest, version)
        except NotFound as e:
            errors.append(e.message)
    if request.method == "POST" and version is not None and not errors:
        try:
            services.order_restore(order=number, version=version, actor=actor,
                                   reason=request.POST.get("reason", "").strip()[:1000])
        except DomainError as e:
            errors = [e.message] + [str(p.message) for p in e.problems if str(p.message) != e.message]
        else:
            messages.success(request, _("Version %(v)s is restored as the order's new version.") % {"v": version})
            return redirect(reverse("web:order_detail", args=[number]))
    wf = compiled(order.workflow_id)
    return render(request, "web/order_restore.html", {
        "order": order, "snapshots": [s for s in snapshots if s.version < order.version], "version": version,
        "latest": latest, "diff": diff, "errors": errors, "refusal": edit_refusal(order, wf),
        "may_restore": permissions.allowed(actor, "orders.update"),
        "stage_names": {code: st.spec.name for code, st in wf.stages.items()},
    }, status=409 if errors and request.method == "POST" else 200)

"""Purchase orders and goods receipts from the ERP, by file (CSV in UTF-8 with or without BOM, or
XLSX, first sheet, a header row). All or nothing: every row is checked first and reported in
Chinese (``{"row", "ok", "message"}``); if any row is bad nothing is applied, otherwise the whole
file is applied in one transaction through ``po_place`` / ``po_receive`` (audited like any other).

采购单 (kind ``orders``): 采购单号 (the ERP's number; one PO per number, refused if already
imported), 供应商编码, 物料编码, 数量, 预计到货 (YYYY-MM-DD), optional 单价, 订单号 (the order the
line serves, open orders only).

收货 (kind ``receipts``): 采购单号 (ours, PO-0007, or the ERP's), 行号, 数量, optional 备注.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from orderhub.catalog.models import Product
from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError, ValidationFailed
from orderhub.core.permissions import check

from .links import order_ids
from .models import PurchaseOrder, Supplier
from .services import LineIn, ReceiptIn, fmt_qty, po_place, po_receive

MAX_ROWS = 5000
Applier = Callable[[Actor], None]
KINDS = ("orders", "receipts")
PO_COLUMNS = ("采购单号", "供应商编码", "物料编码", "数量", "预计到货")
RECEIPT_COLUMNS = ("采购单号", "行号", "数量")


@dataclass
class Report:
    kind: str
    applied: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for r in self.rows if not r["ok"])

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "applied": self.applied, "errors": self.errors, "rows": self.rows}


def read_table(content: bytes, filename: str) -> list[dict[str, str]]:
    """The rows of a CSV or XLSX file as {header: text}."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:
            raise ValidationFailed("unreadable", _("This Excel file cannot be read.")) from exc
        rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 1)]
        if not rows:
            return []
        head = [h.strip() for h in rows[0]]
        return [dict(zip(head, r, strict=False)) for r in rows[1:] if any(c.strip() for c in r)]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("unreadable", _("The file is not a UTF-8 CSV.")) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return [{(k or "").strip(): (v or "") for k, v in r.items()} for r in list(reader)[:MAX_ROWS]]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _qty(raw: str, label: str) -> Decimal:
    try:
        value = Decimal(raw.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(_("%(label)s “%(v)s” is not a number") % {"label": label, "v": raw}) from None
    if not value.is_finite() or value <= 0:
        raise ValueError(_("%(label)s must be greater than zero") % {"label": label})
    return value


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise ValueError(_("Expected arrival “%(v)s” is not a date (YYYY-MM-DD)") % {"v": raw}) from None


def _field(faults: list[str], parse: Callable[[str, str], Any], raw: str, label: str) -> Any:
    """``parse(raw, label)``, or None with the fault added to ``faults``."""
    try:
        return parse(raw, label)
    except ValueError as exc:
        faults.append(str(exc))
        return None


def erp_import(*, actor: Actor, kind: str, content: bytes, filename: str) -> Report:
    """Check every row, then apply the whole file or nothing (see the module's doc)."""
    check(actor, "purchasing.order" if kind == "orders" else "purchasing.receive")
    if kind not in KINDS:
        raise ValidationFailed("unknown_kind", _("Unknown import type."))
    rows = read_table(content, filename)
    report = Report(kind)
    needed = PO_COLUMNS if kind == "orders" else RECEIPT_COLUMNS
    missing = [c for c in needed if rows and c not in rows[0]]
    if not rows or missing:
        raise ValidationFailed("bad_header", _("The file lacks the columns: %(cols)s") % {"cols": "、".join(missing or needed)})
    plan = _plan_orders(rows, report) if kind == "orders" else _plan_receipts(rows, report)
    if report.errors:
        return report
    try:
        with transaction.atomic():
            for apply in plan:
                apply(actor)
    except DomainError as exc:      # e.g. a receipt raced past what is open: nothing applied
        report.rows.append({"row": 0, "ok": False, "message": exc.message})
        return report
    report.applied = True
    return report


def _plan_orders(rows: list[dict[str, str]], report: Report) -> list[Applier]:
    g = lambda r, k: (r.get(k) or "").strip()  # noqa: E731
    suppliers = dict(Supplier.objects.filter(code__in={g(r, "供应商编码") for r in rows}, is_active=True)
                     .values_list("code", "pk"))
    products = dict(Product.objects.filter(sku__in={g(r, "物料编码") for r in rows}).values_list("sku", "pk"))
    orders = order_ids(g(r, "订单号") for r in rows)
    known = set(PurchaseOrder.objects.filter(erp_ref__in={g(r, "采购单号") for r in rows})
                .values_list("erp_ref", flat=True))
    groups: dict[str, list[LineIn]] = defaultdict(list)
    supplier_of: dict[str, int] = {}
    for n, r in enumerate(rows, start=2):
        ref, faults = g(r, "采购单号"), list[str]()
        qty = _field(faults, _qty, g(r, "数量"), "数量")
        due = _field(faults, lambda v, _label: _date(v), g(r, "预计到货"), "预计到货")
        price = _field(faults, _qty, g(r, "单价"), "单价") if g(r, "单价") else None
        if not ref:
            faults.append(_("The purchase order number is empty"))
        elif ref in known:
            faults.append(_("Purchase order %(ref)s has already been imported") % {"ref": ref})
        if g(r, "供应商编码") not in suppliers:
            faults.append(_("Supplier “%(v)s” does not exist") % {"v": g(r, "供应商编码")})
        elif supplier_of.setdefault(ref, suppliers[g(r, "供应商编码")]) != suppliers[g(r, "供应商编码")]:
            faults.append(_("The rows of one purchase order name different suppliers"))
        if g(r, "物料编码") not in products:
            faults.append(_("Product “%(v)s” does not exist") % {"v": g(r, "物料编码")})
        if g(r, "订单号") and g(r, "订单号") not in orders:
            faults.append(_("Order “%(v)s” does not exist or is closed") % {"v": g(r, "订单号")})
        if faults:
            report.rows.append({"row": n, "ok": False, "message": "；".join(faults)})
            continue
        served = {orders[g(r, "订单号")]: qty} if g(r, "订单号") else {}
        groups[ref].append(LineIn(products[g(r, "物料编码")], qty, due, price, served))
        report.rows.append({"row": n, "ok": True, "message": _("Purchase order %(ref)s: %(sku)s × %(qty)s") % {
            "ref": ref, "sku": g(r, "物料编码"), "qty": g(r, "数量")}})
    return [_po_applier(ref, supplier_of[ref], lines) for ref, lines in groups.items()]


def _po_applier(ref: str, supplier_id: int, lines: list[LineIn]) -> Applier:
    def apply(actor: Actor) -> None:
        po_place(actor=actor, supplier_id=supplier_id, lines=lines, erp_ref=ref, source="erp")
    return apply


def _plan_receipts(rows: list[dict[str, str]], report: Report) -> list[Applier]:
    g = lambda r, k: (r.get(k) or "").strip()  # noqa: E731
    refs = {g(r, "采购单号") for r in rows}
    pos = {p.number: p for p in PurchaseOrder.objects.filter(Q(number__in=refs) | Q(erp_ref__in=refs))
           .prefetch_related("lines")}
    pos.update({p.erp_ref: p for p in list(pos.values()) if p.erp_ref})
    wanted: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    todo: dict[str, list[ReceiptIn]] = defaultdict(list)
    for n, r in enumerate(rows, start=2):
        faults: list[str] = []
        po = pos.get(g(r, "采购单号"))
        qty = _field(faults, _qty, g(r, "数量"), "数量") or Decimal(0)
        line_no = int(g(r, "行号")) if g(r, "行号").isdigit() else 0
        line = next((ln for ln in po.lines.all() if ln.line_no == line_no), None) if po else None
        if po is None:
            faults.append(_("Purchase order “%(v)s” does not exist") % {"v": g(r, "采购单号")})
        elif po.status != PurchaseOrder.Status.OPEN:
            faults.append(_("Purchase order %(v)s is closed") % {"v": po.number})
        elif line is None:
            faults.append(_("Purchase order %(v)s has no line “%(n)s”") % {"v": po.number, "n": g(r, "行号")})
        elif qty:
            wanted[(po.number, line_no)] += qty
            if wanted[(po.number, line_no)] > line.open_qty:
                faults.append(_("Line %(n)s can receive at most %(open)s more") % {"n": line_no, "open": fmt_qty(line.open_qty)})
        if faults:
            report.rows.append({"row": n, "ok": False, "message": "；".join(faults)})
            continue
        assert po is not None
        todo[po.number].append(ReceiptIn(line_no, qty))
        report.rows.append({"row": n, "ok": True, "message": _("Purchase order %(po)s line %(n)s: received %(qty)s") % {
            "po": po.number, "n": line_no, "qty": g(r, "数量")}})
    return [_receipt_applier(number, receipts) for number, receipts in todo.items()]


def _receipt_applier(number: str, receipts: list[ReceiptIn]) -> Applier:
    def apply(actor: Actor) -> None:
        po_receive(actor=actor, number=number, receipts=receipts, note=_("ERP import"))
    return apply

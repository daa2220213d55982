"""The import report as a person reads it: each row's result in words, each problem once,
the notes that say what was read how (Chinese numerals, a unit converted and rounded), and the
counts named for what they count (rows are rows, orders are orders).

``conversion_notes`` states every unit conversion and rounding of an order's lines before the
order is written; ``report_view`` shapes a stored report (and the message's errors) for a page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orderhub.catalog.selectors import MasterData, to_base_qty
from orderhub.orders.inputs import OrderInput

#: places shown of a factor and an exact quantity (1 吨 = 56,818.18 件); the exact values are used
SHOWN_PLACES = Decimal("0.01")

RESULTS = {
    "created": (gettext_lazy("order created"), "table-success"),
    "duplicate": (gettext_lazy("already imported (no second order)"), ""),
    "refused": (gettext_lazy("refused"), "table-danger"),
    "review": (gettext_lazy("waits for a person"), "table-warning"),
    "conflict": (gettext_lazy("differs from the order already imported: waits for a person"), "table-warning"),
    "not_written": (gettext_lazy("not written (all or nothing)"), ""),
}
SUMMARY = (
    ("rows", gettext_lazy("rows read")),
    ("orders_created", gettext_lazy("orders created")),
    ("duplicates", gettext_lazy("orders already imported")),
    ("refused", gettext_lazy("orders refused")),
    ("review", gettext_lazy("orders waiting for a person")),
    ("rows_failed", gettext_lazy("rows with problems")),
    ("drafts", gettext_lazy("drafts to confirm")),
    ("attachments", gettext_lazy("attachments")),
)


def number(value: Decimal) -> str:
    """85227.2700 → 85,227.27; 200000 → 200,000 (no trailing zeros, thousands separated)."""
    value = value.normalize()
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    return f"{value:,f}"


def conversion_notes(data: OrderInput, master: MasterData, *, rows: list[int] | None = None) -> list[str]:
    """One note per line ordered in another unit than the product's own, stating the
    conversion and any rounding: ``M8X30-HEX-88: 1.5 吨 × 56,818.18 件/吨 = 85,227.27 件, rounded
    to 85,227 件``. Lines whose product or unit is unknown are left to the order's own checks."""
    notes = []
    for i, ln in enumerate(data.lines):
        product = master.products.get(ln.sku)
        if product is None or not ln.unit or ln.unit == product.unit:
            continue
        base, problem = to_base_qty(product, ln.qty, ln.unit, master.factors)
        factor = master.factors.get((product.pk, ln.unit)) or _kg_factor(product, ln.unit)
        if problem is not None or factor is None:
            continue
        exact = ln.qty * factor
        where = _("row %(n)d") % {"n": rows[i]} if rows and i < len(rows) else _("line %(n)d") % {"n": i + 1}
        values = {"where": where, "sku": ln.sku, "qty": number(ln.qty), "unit": ln.unit, "base": product.unit,
                  "factor": number(factor.quantize(SHOWN_PLACES)), "exact": number(exact.quantize(SHOWN_PLACES)),
                  "rounded": number(base)}
        if exact == base:
            notes.append(_("%(where)s %(sku)s: %(qty)s %(unit)s × %(factor)s %(base)s/%(unit)s = %(rounded)s "
                           "%(base)s") % values)
        else:
            notes.append(_("%(where)s %(sku)s: %(qty)s %(unit)s × %(factor)s %(base)s/%(unit)s = %(exact)s "
                           "%(base)s, rounded half up to %(rounded)s %(base)s") % values)
    return notes


def price_note(where: str, amount: Decimal, qty: Decimal, price: Decimal) -> str:
    """A unit price worked out from a line's amount and rounded: said, with the exact quotient."""
    return _("%(where)s: unit price %(amount)s ÷ %(qty)s = %(exact)s…, rounded half up to %(price)s") % {
        "where": where, "amount": amount, "qty": qty, "exact": (amount / qty).quantize(Decimal("1e-7")),
        "price": price}


def _kg_factor(product, unit: str) -> Decimal | None:
    if not product.kg_per_unit:
        return None
    per_kg = Decimal(1) / product.kg_per_unit
    return {"kg": per_kg, "公斤": per_kg, "千克": per_kg, "t": per_kg * 1000, "吨": per_kg * 1000}.get(unit)


def _rows_text(rows: list[int]) -> str:
    if not rows:
        return ""
    if len(rows) > 1 and rows == list(range(rows[0], rows[-1] + 1)):
        return f"{rows[0]}–{rows[-1]}"
    return ", ".join(str(r) for r in rows)


def _key(p: dict[str, Any]) -> tuple:
    return (p.get("row"), p.get("field") or "", p.get("message") or "")


def summary_counts(summary: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """A stored report's ``summary`` counts as ``[(label, n)]``, each named for what it counts,
    in :data:`SUMMARY`'s order (a key it does not name is left out: no code on a page)."""
    summary = summary or {}
    return [(str(label), summary[k]) for k, label in SUMMARY if k in summary]


def report_view(report: dict[str, Any] | None, errors: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``{"summary": [(label, n)], "general": [message], "rows": [...]}``: every problem once,
    in the row it belongs to; the message's errors that belong to no row are ``general``."""
    report = report or {}
    out_rows: list[dict[str, Any]] = []
    listed: set[tuple] = set()
    for it in report.get("items") or ():
        label, css = RESULTS.get(it.get("result"), (it.get("result", ""), ""))
        seen: set[tuple] = set()
        problems = []
        for p in it.get("problems") or ():
            key = _key(p)
            if key in seen:
                continue
            seen.add(key)
            listed.add(key)
            listed.add((None,) + key[1:])
            field, message = p.get("field") or "", p.get("message", "")
            for sep in (": ", "："):  # the field is its own column: not said twice
                if field and message.startswith(field + sep):
                    message = message[len(field) + len(sep):]
            problems.append({"row": p.get("row"), "field": field, "message": message})
        out_rows.append({"rows": _rows_text(it.get("rows") or []), "ref": it.get("ref") or "",
                         "result": str(label), "css": css, "order": it.get("order"), "problems": problems,
                         "notes": list(dict.fromkeys(it.get("notes") or ())),
                         "differences": it.get("differences") or []})
    general = []
    for e in errors or ():
        if not isinstance(e, dict):
            general.append(str(e))
            continue
        key = _key(e)
        if key in listed or (None,) + key[1:] in listed:
            continue
        listed.add(key)
        general.append(e.get("message", ""))
    pages = [_("page %(n)d: read from its text layer") % {"n": i} if how == "text"
             else _("page %(n)d: a picture, read by OCR") % {"n": i}
             for i, how in enumerate(report.get("pages") or (), start=1)]
    return {"summary": summary_counts(report.get("summary")), "general": list(dict.fromkeys(general)), "rows": out_rows,
            "draft": report.get("draft"), "pages": pages}

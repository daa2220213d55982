"""Printed documents as PDF (WeasyPrint): order confirmation and quotation of an order, delivery
note and packing list of a shipment. Each page carries the company letterhead (``Letterhead``,
a settings page) and a QR code linking to the order; the body is a Django template an admin may
edit (``DocumentTemplate``; the shipped ones are in ``doc_templates``).

The sandbox: a body is rendered by an engine of its own with no template loaders and no tag
libraries beyond the built-in ones (``{% load %}``, ``{% include %}`` and ``{% extends %}`` find
nothing, ``{% debug %}`` is refused), over plain data only (strings, numbers as text, lists and
dicts of them: no model object, no callable), with HTML escaping on. The PDF renderer fetches
nothing but the project's own font and inline ``data:`` images, so a template cannot make the
server call out. A body that does not parse or render is a ``DocumentError`` whose message says,
in Chinese, what and where (the line), never a 500.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.template.defaulttags import DebugNode
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _

from orderhub.core import pdf
from orderhub.core.errors import DomainError
from orderhub.notify import attachments
from orderhub.orders.models import Order, OrderLine

from .doc_templates import DEFAULTS

__all__ = ["DEFAULTS", "KINDS", "DocumentError", "attachment_ref", "make_attachment", "order_pdf", "render_pdf",
           "shipment_pdf", "template_check"]
from .models import DocumentTemplate, Letterhead, Shipment

KINDS = {"confirmation": "订单确认书", "quotation": "报价单", "delivery-note": "送货单", "packing-list": "装箱单"}
ORDER_KINDS = ("confirmation", "quotation")
SHIPMENT_KINDS = ("delivery-note", "packing-list")
MAX_TEMPLATE = 50_000
LOGO_TYPES = ("image/png", "image/jpeg")
ATTACHMENT = "shipping.document"   # the kind of notify attachment references documents make


class DocumentError(DomainError):
    """A document that cannot be made (a broken template, the font missing): 409 with a reason."""

    status = 409


def _engine(debug: bool) -> Engine:
    return Engine(debug=debug, loaders=[], libraries={}, autoescape=True, string_if_invalid="")


_RENDER = _engine(False)
_CHECK = _engine(True)   # only to say on which line a body is broken


def _fault(body: str, e: Exception) -> DocumentError:
    line = None
    try:
        _CHECK.from_string(body)
    except TemplateSyntaxError as err:
        line = (getattr(err, "template_debug", None) or {}).get("line")
    except Exception:  # noqa: BLE001 - only looking for a line number
        pass
    where = _("（第 %(n)s 行）") % {"n": line} if line else ""
    return DocumentError("template_error", _("单据模板有错误%(where)s：%(detail)s") % {
        "where": where, "detail": str(e)[:300] or e.__class__.__name__})


@lru_cache(maxsize=64)
def _compiled(body: str) -> Any:
    tpl = _RENDER.from_string(body)
    if tpl.nodelist.get_nodes_by_type(DebugNode):
        raise TemplateSyntaxError(_("不允许使用 debug 标签。"))
    return tpl


def template_check(body: str) -> None:
    """Refuse a body that is too long, does not parse, uses ``{% debug %}`` or fails to render
    against sample data (a ``DocumentError`` naming the fault)."""
    if len(body) > MAX_TEMPLATE:
        raise DocumentError("template_too_long", _("模板最长 %(n)s 个字符。") % {"n": MAX_TEMPLATE})
    try:
        _compiled(body).render(Context(_sample(), autoescape=True))
    except Exception as e:  # noqa: BLE001 - any fault of the text is the admin's to fix
        raise _fault(body, e) from e


def _sample() -> dict[str, Any]:
    line = {"no": 1, "sku": "HSG-100", "name": "传感器壳体", "qty": "10", "unit": "件",
            "unit_price": "120.00", "amount": "1200.00", "remarks": ""}
    return {"company": {"name": "示例公司", "address": "", "phone": ""},
            "doc": {"title": "送货单", "kind": "delivery-note", "date": "2026-12-01", "url": ""},
            "order": {"number": "SO-1", "customer": "示例客户", "customer_code": "C001",
                      "currency": "CNY", "remarks": "", "ship_to_contact": "", "ship_to_phone": "",
                      "ship_to_address": "", "required_date": "2026-12-20", "promised_date": "",
                      "created_date": "2026-12-01", "total": "1200.00"},
            "shipment": {"number": "SO-1-F1", "carrier": "", "waybill": "", "packages": 1,
                         "weight_kg": "", "ship_to_contact": "", "ship_to_phone": "",
                         "ship_to_address": "", "shipped_at": "", "created_at": ""},
            "lines": [line], "totals": {"qty": "10", "amount": "1200.00", "lines": 1}}


# --------------------------------------------------------------------------- data


def _num(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _date(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "hour"):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return value.strftime("%Y-%m-%d")


def _order_data(order: Order) -> dict[str, Any]:
    return {"number": order.number, "customer": order.customer.name, "customer_code": order.customer.code,
            "currency": order.currency, "remarks": order.remarks, "total": _money(order.total_amount),
            "ship_to_contact": order.ship_to_contact, "ship_to_phone": order.ship_to_phone,
            "ship_to_address": order.ship_to_address, "required_date": _date(order.required_date),
            "promised_date": _date(order.promised_date), "created_date": _date(order.created_at)[:10]}


def _letterhead() -> dict[str, Any]:
    lh = Letterhead.objects.first()
    if lh is None:
        return {"name": "", "address": "", "phone": "", "logo": ""}
    logo = ""
    if lh.logo and lh.logo_type in LOGO_TYPES:
        logo = f"data:{lh.logo_type};base64,{base64.b64encode(bytes(lh.logo)).decode()}"
    return {"name": lh.name, "address": lh.address, "phone": lh.phone, "logo": logo}


def order_context(order: Order, kind: str) -> dict[str, Any]:
    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("line_no"))
    rows = [{"no": ln.line_no, "sku": ln.product.sku, "name": ln.product.name, "qty": _num(ln.qty),
             "unit": ln.unit, "unit_price": _money(ln.unit_price), "amount": _money(ln.amount),
             "remarks": ln.remarks} for ln in lines]
    total = sum((ln.amount for ln in lines), Decimal("0"))
    return {"order": _order_data(order), "lines": rows,
            "totals": {"qty": _num(sum((ln.qty for ln in lines), Decimal("0"))), "amount": _money(total),
                       "lines": len(rows)}}


def shipment_context(sh: Shipment, kind: str) -> dict[str, Any]:
    rows = list(sh.lines.select_related("order_line__product").order_by("order_line__line_no"))
    lines = [{"no": i, "line_no": r.order_line.line_no, "sku": r.order_line.product.sku,
              "name": r.order_line.product.name, "qty": _num(r.qty), "unit": r.order_line.unit,
              "unit_price": _money(r.order_line.unit_price),
              "amount": _money((r.qty * r.order_line.unit_price).quantize(Decimal("0.01"))),
              "remarks": r.order_line.remarks} for i, r in enumerate(rows, 1)]
    return {"order": _order_data(sh.order), "lines": lines,
            "shipment": {"number": sh.number, "carrier": sh.carrier, "waybill": sh.waybill,
                         "packages": sh.packages, "weight_kg": _num(sh.weight_kg),
                         "ship_to_contact": sh.ship_to_contact, "ship_to_phone": sh.ship_to_phone,
                         "ship_to_address": sh.ship_to_address, "shipped_at": _date(sh.shipped_at),
                         "created_at": _date(sh.created_at)},
            "totals": {"qty": _num(sum((r.qty for r in rows), Decimal("0"))), "lines": len(rows),
                       "amount": ""}}


# --------------------------------------------------------------------------- the PDF


def template_body(kind: str) -> str:
    row = DocumentTemplate.objects.filter(kind=kind).values_list("body", flat=True).first()
    return row if row is not None else DEFAULTS[kind]


def render_body(kind: str, data: dict[str, Any], body: str | None = None) -> str:
    text = template_body(kind) if body is None else body
    try:
        return str(_compiled(text).render(Context(data, autoescape=True)))
    except Exception as e:  # noqa: BLE001 - a broken template is reported, never a 500
        raise _fault(text, e) from e


@lru_cache(maxsize=256)
def _qr(url: str) -> str:
    import segno

    return str(segno.make(url, error="m").png_data_uri(scale=3, border=1))


CSS = """@font-face { font-family: "OH CJK"; src: url("%(normal)s"); }
@font-face { font-family: "OH CJK"; font-weight: bold; src: url("%(bold)s"); }
@page { size: A4; margin: 14mm 12mm 16mm 12mm;
  @bottom-center { content: "第 " counter(page) " 页 / 共 " counter(pages) " 页"; font-family: "OH CJK"; font-size: 8pt; } }
body { font-family: "OH CJK"; font-size: 9pt; color: #111; }
.lh { display: flex; align-items: center; border-bottom: 1.5pt solid #333; padding-bottom: 4pt; margin-bottom: 6pt; }
.lh img.logo { height: 14mm; margin-right: 4mm; }
.lh .co { flex: 1; } .lh .name { font-size: 14pt; font-weight: bold; } .lh img.qr { width: 20mm; height: 20mm; }
h1 { font-size: 15pt; text-align: center; margin: 2pt 0 6pt; }
table { width: 100%%; border-collapse: collapse; }
table.info td { padding: 1pt 2pt; width: 50%%; }
table.lines { table-layout: fixed; margin-top: 6pt; }
table.lines th, table.lines td { border: 0.5pt solid #777; padding: 1.5pt 3pt; }
table.lines thead th { background: #eee; }
.c-no { width: 10mm; } .c-qty { width: 28mm; } .c-money { width: 26mm; } .c-note { width: 40mm; } .c-sku { width: 40mm; }
.r { text-align: right; }
table.sign { margin-top: 14pt; } table.sign td { padding-top: 10pt; }
"""


def render_pdf(kind: str, data: dict[str, Any], *, url: str, company: dict[str, Any] | None = None,
               body: str | None = None, cache_result: bool = True) -> bytes:
    """The document as PDF bytes: letterhead (``company``, else the stored one), QR code to
    ``url``, the body (``body``, else the kind's template) over ``data``. The same document
    asked for again is served from the cache (``core.pdf``; ``cache_result=False``: made anew)."""
    company = _letterhead() if company is None else company
    data = {**data, "company": {k: v for k, v in company.items() if k != "logo"},
            "doc": {"title": KINDS[kind], "kind": kind, "date": _date(timezone.localdate()), "url": url}}
    text = render_body(kind, data, body)
    fonts = pdf.font_urls()
    logo = f'<img class="logo" src="{company["logo"]}" alt="">' if company["logo"] else ""
    html = (f'<html lang="zh-CN"><head><meta charset="utf-8"></head><body>'
            f'<div class="lh">{logo}<div class="co"><div class="name">{escape(company["name"])}</div>'
            f'<div>{escape(company["address"])}{"　电话：" + escape(company["phone"]) if company["phone"] else ""}</div></div>'
            f'<img class="qr" src="{_qr(url)}" alt=""></div>{text}</body></html>')
    return pdf.write_pdf(html, css=CSS % fonts, fonts=fonts, cache_result=cache_result)


def order_pdf(order: Order, kind: str) -> bytes:
    return render_pdf(kind, order_context(order, kind), url=order_url(order.number))


def shipment_pdf(sh: Shipment, kind: str) -> bytes:
    return render_pdf(kind, shipment_context(sh, kind), url=order_url(sh.order.number))


def order_url(number: str) -> str:
    from urllib.parse import quote

    return f"{settings.ORDERHUB_BASE_URL.rstrip('/')}/orders/{quote(number)}/"


def filename(kind: str, number: str) -> str:
    return f"{KINDS[kind]}-{number}.pdf"


# --------------------------------------------------------------------------- as e-mail attachments


def attachment_ref(kind: str, number: str) -> dict[str, Any]:
    """The reference a message keeps to attach document ``kind`` of order or shipment
    ``number``: the PDF is made when the e-mail is sent (``notify.attachments``)."""
    if kind not in KINDS:
        raise ValueError(kind)
    return attachments.ref(ATTACHMENT, doc=kind, number=number)


def make_attachment(args: dict[str, Any]) -> attachments.Attachment:
    """The maker registered for ``shipping.document`` references (``ShippingConfig.ready``)."""
    kind, number = str(args.get("doc") or ""), str(args.get("number") or "")
    if kind in ORDER_KINDS:
        order = Order.objects.select_related("customer").filter(number=number).first()
        if order is not None:
            return attachments.Attachment(filename(kind, number), "application/pdf", order_pdf(order, kind))
    elif kind in SHIPMENT_KINDS:
        sh = Shipment.objects.select_related("order__customer").filter(number=number).first()
        if sh is not None:
            return attachments.Attachment(filename(kind, number), "application/pdf", shipment_pdf(sh, kind))
    raise DocumentError("document_gone", _("单据 %(kind)s %(n)s 已不存在。") % {
        "kind": KINDS.get(kind, kind), "n": number})

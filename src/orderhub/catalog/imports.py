"""Master data from CSV files (``customers.csv``, ``products.csv``, UTF-8 with or without BOM,
a header row): each row created or changed through ``customer_save`` / ``product_save``, so
every change is validated and audited; a bad row is reported with its number and field, the
others are kept.

customers.csv: code, name, tier, credit_limit, mobile, wechat_openid (email and unpaid_external —
what the customer owes outside OrderHub — optional)
products.csv: code (the SKU), name, unit, kg_per_unit, list_price, safety_stock, moq, lead_time_days
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError, PermissionDenied

from .services import customer_save, product_save

MAX_ROWS = 20_000
CUSTOMER_COLUMNS = {"name": "name", "tier": "tier", "credit_limit": "credit_limit",
                    "unpaid_external": "unpaid_external", "mobile": "mobile",
                    "wechat_openid": "wechat_openid", "email": "email"}
PRODUCT_COLUMNS = {"name": "name", "unit": "unit", "kg_per_unit": "kg_per_unit", "list_price": "list_price",
                   "safety_stock": "safety_stock", "moq": "moq", "lead_time_days": "lead_time_days"}
DECIMALS = {"credit_limit", "unpaid_external", "kg_per_unit", "list_price", "safety_stock", "moq"}


def _rows(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))[:MAX_ROWS]


def _value(column: str, raw: str) -> Any:
    raw = (raw or "").strip()
    if column in DECIMALS:
        if not raw:
            return None
        try:
            return Decimal(raw.replace(",", ""))
        except InvalidOperation:
            raise ValueError(_("'%(value)s' is not a number.") % {"value": raw}) from None
    if column == "lead_time_days":
        if not raw:
            return None
        if not raw.isdigit():
            raise ValueError(_("'%(value)s' is not a whole number.") % {"value": raw})
        return int(raw)
    return raw


def master_import(*, actor: Actor, customers: bytes | None = None, products: bytes | None = None) -> dict[str, Any]:
    """Create or update customers and products from CSV bytes. Returns counts and the rows
    refused (``{"file", "row", "field", "message"}``); each row is its own transaction."""
    if (customers and not actor.has_perm("catalog.change_customer")) or (
            products and not actor.has_perm("catalog.change_product")):
        raise PermissionDenied("permission_denied", _("You may not change customers and products."))
    out: dict[str, Any] = {"customers": 0, "products": 0, "errors": []}
    for kind, content, columns in (("customers", customers, CUSTOMER_COLUMNS), ("products", products, PRODUCT_COLUMNS)):
        if not content:
            continue
        try:
            rows = _rows(content)
        except (UnicodeDecodeError, csv.Error) as exc:
            out["errors"].append({"file": kind, "row": None, "field": "", "message": str(exc)[:300]})
            continue
        for n, row in enumerate(rows, start=2):
            key = (row.get("code") or "").strip()
            data: dict[str, Any] = {}
            try:
                for column, field in columns.items():
                    if column in row and row[column] is not None:
                        value = _value(column, row[column])
                        if value is not None and value != "":
                            data[field] = value
                        elif column in ("mobile", "wechat_openid", "email", "kg_per_unit"):
                            data[field] = value if column == "kg_per_unit" else ""
            except ValueError as exc:
                out["errors"].append({"file": kind, "row": n, "field": column, "message": str(exc)})
                continue
            try:
                with transaction.atomic():
                    if kind == "customers":
                        customer_save(code=key, data=data, actor=actor)
                    else:
                        product_save(sku=key, data=data, actor=actor)
            except DomainError as exc:
                problem = exc.problems[0] if exc.problems else None
                out["errors"].append({"file": kind, "row": n, "field": problem.field if problem else "",
                                      "message": problem.message if problem else exc.message})
                continue
            out[kind] += 1
    return out

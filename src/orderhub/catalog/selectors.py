"""Reads of master data."""

from decimal import Decimal

from orderhub.core.errors import Problem

from .models import Product, UnitConversion


def products_by_sku(skus) -> dict[str, Product]:
    return {p.sku: p for p in Product.objects.filter(sku__in=set(skus), is_active=True)}


def conversion_factors(product_ids) -> dict[tuple[int, str], Decimal]:
    return {
        (pid, unit): factor
        for pid, unit, factor in UnitConversion.objects.filter(product_id__in=set(product_ids))
        .values_list("product_id", "unit", "factor")
    }


def to_base_qty(product: Product, qty: Decimal, unit: str | None,
                factors: dict[tuple[int, str], Decimal]) -> tuple[Decimal, Problem | None]:
    """Quantity in the product's base unit. kg/吨 convert through kg_per_unit when no explicit
    conversion exists. Countable units are rounded half up to whole units."""
    if not unit or unit == product.unit:
        return qty, None
    factor = factors.get((product.pk, unit))
    if factor is None and product.kg_per_unit:
        per_kg = Decimal(1) / product.kg_per_unit
        factor = {"kg": per_kg, "公斤": per_kg, "千克": per_kg, "t": per_kg * 1000,
                  "吨": per_kg * 1000}.get(unit)
    if factor is None:
        return qty, Problem("unknown_unit", unit)
    return product.round_base(qty * factor), None


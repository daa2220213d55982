from decimal import ROUND_HALF_UP, Decimal
from typing import TypedDict

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DecimalSize(TypedDict):
    max_digits: int
    decimal_places: int


MONEY: DecimalSize = {"max_digits": 16, "decimal_places": 2}
QTY: DecimalSize = {"max_digits": 18, "decimal_places": 4}


class Customer(models.Model):
    class Tier(models.TextChoices):
        VIP = "VIP", "VIP"
        A = "A", "A"
        B = "B", "B"
        C = "C", "C"

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    tier = models.CharField(_("tier"), max_length=8, choices=Tier.choices, default=Tier.B)
    credit_limit = models.DecimalField(_("credit limit"), default=Decimal("0"), **MONEY)
    # what the customer owes, as available credit counts it: ``unpaid_external`` (typed here or
    # sent by the ERP: invoices issued outside OrderHub, opening balances) plus the open balances
    # of the invoices OrderHub issued (``finance.services.credit``); kept by catalog.services
    unpaid_amount = models.DecimalField(_("unpaid invoices"), default=Decimal("0"), **MONEY)
    unpaid_external = models.DecimalField(_("unpaid outside OrderHub"), default=Decimal("0"), **MONEY)
    sales_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="customers", verbose_name=_("sales owner"),
    )
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    wechat_openid = models.CharField(_("WeChat openid"), max_length=64, blank=True, db_index=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # what the customer's VAT invoices carry (finance copies them onto each invoice it issues)
    tax_no = models.CharField(_("Taxpayer ID"), max_length=32, blank=True)
    bank_name = models.CharField(_("Bank"), max_length=100, blank=True)
    bank_account = models.CharField(_("Bank account"), max_length=64, blank=True)
    billing_address = models.CharField(_("Invoice address"), max_length=200, blank=True)
    billing_phone = models.CharField(_("Invoice phone"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CustomerContact(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=100)
    title = models.CharField(_("title"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.name


class CustomerAddress(models.Model):
    """A ship-to address of a customer; at most one is the default (new orders take it unless
    another is chosen). Written only through ``catalog.services.customer_address_save`` /
    ``customer_address_delete``; an order keeps a copy of the address it ships to."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    label = models.CharField(_("label"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=300)
    receiver = models.CharField(_("receiver"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=Q(is_default=True),
                                    name="customer_address_one_default"),
        ]

    def __str__(self) -> str:
        return self.address


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    unit = models.CharField(_("unit"), max_length=16, help_text=_("Base unit stock is kept in."))
    unit_decimals = models.PositiveSmallIntegerField(
        _("decimals of the base unit"), default=0,
        help_text=_("0 for countable units (pieces): converted quantities are rounded half up."),
    )
    kg_per_unit = models.DecimalField(_("kg per unit"), max_digits=14, decimal_places=6,
                                      null=True, blank=True)
    list_price = models.DecimalField(_("list price"), max_digits=16, decimal_places=4,
                                     default=Decimal("0"))
    safety_stock = models.DecimalField(_("safety stock"), default=Decimal("0"), **QTY)
    moq = models.DecimalField(_("minimum order quantity"), default=Decimal("0"), **QTY)
    lead_time_days = models.PositiveIntegerField(_("lead time (days)"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    substitutes = models.ManyToManyField(
        "self", through="Substitute", symmetrical=False, related_name="substitute_for",
        blank=True,
    )

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

    def round_base(self, qty: Decimal) -> Decimal:
        step = Decimal(1).scaleb(-self.unit_decimals)
        return qty.quantize(step, rounding=ROUND_HALF_UP)


class UnitConversion(models.Model):
    """1 ``unit`` = ``factor`` base units, e.g. 1 吨 of M8 bolts = 56,818.18 件."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="conversions")
    unit = models.CharField(_("unit"), max_length=16)
    factor = models.DecimalField(_("base units per unit"), max_digits=20, decimal_places=8)

    class Meta:
        verbose_name = _("unit conversion")
        verbose_name_plural = _("unit conversions")
        constraints = [
            models.UniqueConstraint(fields=["product", "unit"], name="unit_conversion_unique"),
            models.CheckConstraint(condition=models.Q(factor__gt=0), name="unit_conversion_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.unit} = {self.factor} {self.product.unit}"


class BomItem(models.Model):
    parent = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="bom_items")
    component = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="used_in")
    qty_per_unit = models.DecimalField(_("quantity per unit"), max_digits=18, decimal_places=6)

    class Meta:
        verbose_name = _("BOM item")
        verbose_name_plural = _("BOM items")
        constraints = [
            models.UniqueConstraint(fields=["parent", "component"], name="bom_item_unique"),
            models.CheckConstraint(condition=models.Q(qty_per_unit__gt=0), name="bom_qty_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.parent_id} ← {self.qty_per_unit} × {self.component_id}"


class Substitute(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="substitute_links")
    substitute = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    ratio = models.DecimalField(_("units per unit replaced"), max_digits=12, decimal_places=6,
                                default=Decimal("1"))
    priority = models.PositiveSmallIntegerField(_("priority"), default=1)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("substitute")
        verbose_name_plural = _("substitutes")
        ordering = ["priority"]
        constraints = [
            models.UniqueConstraint(fields=["product", "substitute"], name="substitute_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.substitute_id} for {self.product_id}"


class CustomerPrice(models.Model):
    """A customer's price for a product from ``min_qty`` (base units) up, valid from/to the given
    dates (inclusive; empty: open). The row with the largest ``min_qty`` not above the line's
    quantity among those valid on the day wins; none: the list price (``catalog.prices``).
    Written only through ``catalog.prices.customer_prices_save``."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="prices")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    min_qty = models.DecimalField(_("from quantity"), default=Decimal("0"), **QTY)
    unit_price = models.DecimalField(_("unit price"), max_digits=16, decimal_places=4)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer price")
        verbose_name_plural = _("customer prices")
        ordering = ["product__sku", "min_qty", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_price__gte=0) & Q(min_qty__gte=0),
                                   name="customer_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} ≥{self.min_qty}: {self.unit_price}"

"""Applying a channel mapping: records → standard order inputs, or problems naming the source.

The result of a mapping is the same order the API accepts (``OrderInput``); what the order has
no field for (paid at, the source's own total, the seller memo) is kept as ``meta`` on the
message's link to the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer, Product
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.errors import Problem
from orderhub.core.text import unstorable
from orderhub.orders.inputs import LineInput, OrderInput

from .models import Alias, CustomerProfile
from .readers import Record, SourceLine
from .spec import CompiledField, CompiledMapping, CompiledTagRule, CompiledTriageRule
from .values import (
    Refused,
    excel_text,
    is_blank,
    nfkc,
    parse_date,
    parse_datetime,
    to_decimal,
    unmask,
)

DEFAULT_LEAD_DAYS = 7
PRICE_STEP = Decimal("0.0001")
CENT = Decimal("0.01")
MAX_TEXT = {"external_ref": 128, "customer": 32, "remarks": 5000, "workflow": 32, "owner": 150}


@dataclass
class Item:
    """One order's worth of a payload after mapping."""

    index: int
    rows: list[int]
    where: str
    data: OrderInput | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # where each order/line field came from, to name the source in core's problems
    sources: dict[str, str] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    base_time: datetime | None = None

    @property
    def external_ref(self) -> str | None:
        return self.data.external_ref if self.data else self.meta.get("_ref")

    def source_field(self, target: str) -> str:
        """``lines[1].qty`` → ``items[1].num`` (or ``row 3: 数量``)."""
        return self.sources.get(target, target)


class Lookups:
    """Customer and product lookups for one run, each distinct value queried once."""

    def __init__(self, channel: str):
        self.channel = channel
        self._customers: dict[tuple[str, str], Customer | None] = {}
        self._products: dict[tuple[str, str], Product | None] = {}
        self._profiles: dict[int, CustomerProfile | None] = {}
        self.products_by_sku: dict[str, Product] = {}
        self.customers_by_code: dict[str, Customer] = {}

    def _alias(self, kind: str, value: str) -> str | None:
        rows = dict(Alias.objects.filter(kind=kind, value=value, channel__in=[self.channel, ""])
                    .values_list("channel", "code"))
        return rows.get(self.channel) or rows.get("")

    def customer(self, value: str, by: tuple[str, ...]) -> Customer | None:
        key = (value, ",".join(by))
        if key not in self._customers:
            found = None
            active = Customer.objects.filter(is_active=True)
            for how in by:
                if how == "alias":
                    code = self._alias("customer", value)
                    found = active.filter(code=code).first() if code else None
                elif how == "code":
                    found = active.filter(code=value).first()
                elif how == "name":
                    found = active.filter(name=value).first()
                elif how == "openid":
                    found = active.filter(wechat_openid=value).first()
                elif how == "mobile":
                    found = active.filter(mobile=value).first()
                if found:
                    break
            self._customers[key] = found
            if found:
                self.customers_by_code[found.code] = found
        return self._customers[key]

    def customer_code(self, code: str) -> Customer | None:
        if code not in self.customers_by_code:
            c = Customer.objects.filter(code=code, is_active=True).first()
            if c is None:
                return None
            self.customers_by_code[code] = c
        return self.customers_by_code[code]

    def product(self, value: str, by: tuple[str, ...]) -> Product | None:
        key = (value, ",".join(by))
        if key not in self._products:
            found = None
            for how in by:
                if how == "sku":
                    found = Product.objects.filter(sku=value, is_active=True).first()
                elif how == "alias":
                    sku = self._alias("product", value)
                    found = Product.objects.filter(sku=sku, is_active=True).first() if sku else None
                if found:
                    break
            self._products[key] = found
            if found:
                self.products_by_sku[found.sku] = found
        return self._products[key]

    def product_sku(self, sku: str) -> Product | None:
        if sku not in self.products_by_sku:
            p = Product.objects.filter(sku=sku, is_active=True).first()
            if p is None:
                return None
            self.products_by_sku[sku] = p
        return self.products_by_sku[sku]

    def profile(self, customer: Customer) -> CustomerProfile | None:
        if customer.pk not in self._profiles:
            self._profiles[customer.pk] = CustomerProfile.objects.filter(customer=customer).first()
        return self._profiles[customer.pk]


class _Ctx:
    def __init__(self, mapping: CompiledMapping, lookups: Lookups):
        self.mapping = mapping
        self.lookups = lookups
        self.tz = get_business_calendar().tz
        self.workdays: dict[tuple[date, int], date] = {}  # a file's rows share a few order dates

    def add_workdays(self, start: date, days: int) -> date:
        key = (start, days)
        if key not in self.workdays:
            self.workdays[key] = _add_workdays(start, days)
        return self.workdays[key]


def _raw(values: dict[str, Any], rule: CompiledField) -> Any:
    if not rule.sources:
        return None
    if len(rule.sources) == 1:
        return values.get(rule.sources[0])
    parts = [str(values.get(s)).strip() for s in rule.sources if not is_blank(values.get(s))]
    return rule.join.join(parts) if parts else None


def _apply(rule: CompiledField, values: dict[str, Any], ctx: _Ctx, notes: list[str], label: str):
    """The value of one target field; raises Refused."""
    value = rule.const if rule.const is not None else _raw(values, rule)
    if isinstance(value, str):
        value = value.strip()
    for step in rule.steps:
        if is_blank(value) and step.name not in ("const",):
            break
        n, arg = step.name, step.arg
        if n == "strip":
            value = str(value).strip()
        elif n == "upper":
            value = str(value).upper()
        elif n == "lower":
            value = str(value).lower()
        elif n == "excel_text":
            value = excel_text(value)
        elif n == "unmask":
            value = unmask(value)
        elif n in ("number", "integer", "fen_to_yuan"):
            number, note = to_decimal(value)
            if note:
                notes.append(f"{label}: {note}")
            if n == "integer" and number != number.to_integral_value():
                raise Refused(_("'%(value)s' is not a whole number.") % {"value": value})
            if n == "fen_to_yuan":
                if number != number.to_integral_value():
                    raise Refused(_("'%(value)s' is not a whole number of fen.") % {"value": value})
                number = (number / 100).quantize(CENT)
            value = number
        elif n == "multiply":
            value = to_decimal(value)[0] * arg
        elif n == "positive":
            if not isinstance(value, Decimal):
                value = to_decimal(value)[0]
            if value <= 0:
                raise Refused(_("must be greater than zero (got %(value)s).") % {"value": value})
        elif n == "non_negative":
            if not isinstance(value, Decimal):
                value = to_decimal(value)[0]
            if value < 0:
                raise Refused(_("cannot be negative (got %(value)s).") % {"value": value})
        elif n == "date":
            value = parse_date(value, list(arg), ctx.tz)
        elif n == "datetime":
            value = parse_datetime(value, list(arg), ctx.tz)
        elif n == "map":
            value = dict(arg).get(str(value), value)
        elif n == "const":
            value = arg
        elif n == "truncate":
            value = str(value)[:arg]
        elif n == "lookup":
            kind, by = arg
            text = nfkc(str(value)).strip()
            if kind == "customer":
                found = ctx.lookups.customer(text, by)
                if found is None:
                    raise _UnknownCustomer(_("Unknown customer '%(value)s'.") % {"value": value})
                value = found.code
            else:
                product = ctx.lookups.product(text, by)
                if product is None:
                    raise _UnknownSku(_("Unknown SKU '%(value)s'.") % {"value": value})
                value = product.sku
    if is_blank(value) and rule.default is not None:
        value = rule.default
    if is_blank(value):
        if rule.required:
            raise _Missing(_("is required but empty."))
        return None
    if isinstance(value, str) and unstorable(value):
        raise Refused(_("Text may not contain NUL or invalid characters."))
    return value


class _UnknownCustomer(Refused):
    code = "unknown_customer"


class _UnknownSku(Refused):
    code = "unknown_sku"


class _Missing(Refused):
    code = "required"


def _label(where: str, source: tuple[str, ...], target: str, tabular: bool) -> str:
    """How a problem names its source: ``items[1].num`` (JSON) or the column ``数量`` (files,
    whose report gives the row separately)."""
    src = "+".join(source) if source else target
    if tabular or not where:
        return src
    return f"{where}.{src}"


def map_records(mapping: CompiledMapping, records: list[Record], lookups: Lookups, *,
                channel: str, received_at: datetime, tag_rules: list[CompiledTagRule],
                triage_rules: list[CompiledTriageRule]) -> list[Item]:
    ctx = _Ctx(mapping, lookups)
    return [_map_one(i, rec, ctx, channel, received_at, tag_rules, triage_rules)
            for i, rec in enumerate(records)]


def _field_problem(exc: Refused, label: str, row: int | None, target: str) -> Problem:
    code = getattr(exc, "code", "invalid_value")
    msg = str(exc)
    if code == "invalid_value" or code == "required":
        msg = f"{label}: {msg}"
    data = {"target": target}
    if row is not None:
        data["row"] = row
    return Problem(code, msg, field=label, data=data)


def _map_one(index: int, rec: Record, ctx: _Ctx, channel: str, received_at: datetime,
             tag_rules, triage_rules) -> Item:
    spec = ctx.mapping.spec
    tabular = spec.format != "json"
    item = Item(index=index, rows=list(rec.rows), where=rec.where)
    first_row = rec.rows[0] if rec.rows else None
    order: dict[str, Any] = {}
    for rule in ctx.mapping.order:
        label = _label(rec.where, rule.sources, rule.target, tabular)
        item.sources[rule.target] = label
        try:
            order[rule.target] = _apply(rule, rec.values, ctx, item.notes, label)
        except Refused as exc:
            item.problems.append(_field_problem(exc, label, first_row, rule.target))
    if order.get("external_ref") is not None:
        order["external_ref"] = str(order["external_ref"])
        item.meta["_ref"] = order["external_ref"]
    lines: list[dict[str, Any]] = []
    if not rec.lines:
        item.problems.append(Problem("required", _("The order has no lines."),
                                     field=_label(rec.where, (spec.lines_from or "lines",), "lines", tabular)))
    for i, src in enumerate(rec.lines):
        ln: dict[str, Any] = {}
        for rule in ctx.mapping.line:
            label = _label(src.where, rule.sources, rule.target, tabular)
            item.sources[f"lines[{i}].{rule.target}"] = label
            try:
                ln[rule.target] = _apply(rule, src.values, ctx, item.notes, label)
            except Refused as exc:
                item.problems.append(_field_problem(exc, label, src.row, f"lines[{i}].{rule.target}"))
                ln["_bad"] = True
        lines.append(ln)
    _line_prices(item, lines, rec.lines)
    if item.problems:
        return item
    _finish(item, order, lines, ctx, channel, received_at, tag_rules, triage_rules)
    return item


def _line_prices(item: Item, lines: list[dict[str, Any]], sources: list[SourceLine]) -> None:
    """A line that gives its amount but not its unit price: price = amount / quantity."""
    for i, ln in enumerate(lines):
        if ln.get("_bad") or ln.get("unit_price") is not None or ln.get("amount") is None:
            continue
        qty, amount = ln.get("qty"), ln.get("amount")
        if not isinstance(qty, Decimal) or qty <= 0:
            continue
        if not isinstance(amount, Decimal):
            amount = to_decimal(amount)[0]
        ln["unit_price"] = (amount / qty).quantize(PRICE_STEP, rounding=ROUND_HALF_UP)
        item.sources[f"lines[{i}].unit_price"] = item.sources.get(f"lines[{i}].amount", "amount")


def _add_workdays(start: date, days: int) -> date:
    cal = get_business_calendar()
    d, left = start, days
    while left > 0:
        d += timedelta(days=1)
        try:
            if cal.is_workday(d):
                left -= 1
        except ValueError:  # beyond the calendar's years: count every day
            left -= 1
    return d


def _finish(item: Item, order: dict[str, Any], lines: list[dict[str, Any]], ctx: _Ctx, channel: str,
            received_at: datetime, tag_rules, triage_rules) -> None:
    spec = ctx.mapping.spec
    lk = ctx.lookups
    meta = {k: order.pop(k) for k in list(order) if k in ("paid_at", "ordered_at", "total", "seller_memo",
                                                          "receiver", "phone", "address", "buyer")}
    meta = {k: v for k, v in meta.items() if v is not None}
    item.meta.update(meta)
    code = order.get("customer") or spec.defaults.customer
    customer = lk.customer_code(code) if code else None
    if customer is None:
        label = item.sources.get("customer", "customer")
        item.problems.append(Problem(
            "unknown_customer",
            _("No customer: %(label)s does not identify one and the mapping gives no default.")
            % {"label": label} if not code else _("Unknown customer '%(code)s'.") % {"code": code},
            field=label))
        return
    if "customer" not in order or order["customer"] is None:
        item.notes.append(_("customer %(code)s from the channel's defaults") % {"code": customer.code})
    profile = lk.profile(customer)
    base = meta.get("ordered_at") or meta.get("paid_at") or received_at
    if isinstance(base, date) and not isinstance(base, datetime):
        base = datetime.combine(base, datetime.min.time(), tzinfo=ctx.tz)
    item.base_time = base
    required = order.get("required_date")
    if isinstance(required, datetime):
        required = required.date()
    if required is None:
        lead = (profile.lead_days if profile and profile.lead_days is not None else None)
        if lead is None:
            lead = spec.defaults.lead_days if spec.defaults.lead_days is not None else DEFAULT_LEAD_DAYS
        required = ctx.add_workdays(base.astimezone(ctx.tz).date(), lead)
        item.notes.append(_("required date %(d)s = order date + %(n)d working days")
                          % {"d": required, "n": lead})
    promised = order.get("promised_date")
    if isinstance(promised, datetime):
        promised = promised.date()
    urgency = order.get("urgency") or (profile.urgency if profile and profile.urgency else None) \
        or spec.defaults.urgency or "green"
    workflow = order.get("workflow") or (profile.workflow if profile and profile.workflow else None) \
        or spec.defaults.workflow
    remarks = str(order.get("remarks") or "")
    tags = order.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.replace("，", ",").split(",") if t.strip()]
    line_inputs = []
    for ln in lines:
        line_inputs.append(LineInput(sku=str(ln["sku"]), qty=ln["qty"], unit=ln.get("unit") or None,
                                     unit_price=ln.get("unit_price"),
                                     remarks=str(ln.get("remarks") or "")[:500]))
    tags, remarks, urgency = apply_tag_rules(tag_rules, remarks, meta.get("seller_memo", ""), tags, urgency)
    data = OrderInput(customer=customer.code, lines=line_inputs, required_date=required,
                      channel=channel, external_ref=order.get("external_ref"),
                      promised_date=promised, urgency=urgency, remarks=remarks[:5000],
                      tags=tags, workflow=workflow, owner=order.get("owner"))
    total = order_input_total(data, lk)
    if spec.check_total and "total" in meta and total is not None:
        declared = to_decimal(meta["total"])[0] if not isinstance(meta["total"], Decimal) else meta["total"]
        if declared.quantize(CENT) != total:
            item.problems.append(Problem(
                "total_mismatch",
                _("%(label)s: the source total %(declared)s differs from the lines' sum %(sum)s.")
                % {"label": item.sources.get("total", "total"), "declared": declared, "sum": total},
                field=item.sources.get("total", "total")))
            return
    if triage_rules:
        data = apply_triage(item, data, customer, total, triage_rules)
    item.data = data


def order_input_total(data: OrderInput, lk: Lookups) -> Decimal | None:
    total = Decimal(0)
    for ln in data.lines:
        price = ln.unit_price
        if price is None:
            product = lk.product_sku(ln.sku)
            if product is None:
                return None
            price = product.list_price
        total += (ln.qty * price).quantize(CENT, rounding=ROUND_HALF_UP)
    return total


def apply_tag_rules(rules: list[CompiledTagRule], remarks: str, memo: str, tags: list[str],
                    urgency: str) -> tuple[list[str], str, str]:
    """Tags, remarks and urgency after the admin's remark patterns. A check item becomes the
    tag ``check:<item>`` and a line ``[出货前检查] <item>`` appended to the remarks."""
    text = "\n".join(t for t in (remarks, memo) if t)
    out = list(tags)
    checks: list[str] = []
    rank = {"green": 0, "yellow": 1, "red": 2}
    for rule in rules:
        if not rule.regex.search(text):
            continue
        spec = rule.spec
        if spec.tag and spec.tag not in out:
            out.append(spec.tag)
        if spec.check:
            tag = f"check:{spec.check}"
            if tag not in out:
                out.append(tag)
                checks.append(spec.check)
        if spec.urgency and rank[spec.urgency] > rank.get(urgency, 0):
            urgency = spec.urgency
    if checks:
        remarks = (remarks + "\n" if remarks else "") + "\n".join(
            _("[check before shipping] %(item)s") % {"item": c} for c in checks)
    return out, remarks, urgency


TRIAGE_TAG = "triage:"


def apply_triage(item: Item, data: OrderInput, customer: Customer, total: Decimal | None,
                 rules: list[CompiledTriageRule]) -> OrderInput:
    """Triage of a mapped item: the alerts are kept on the item (recorded once the order exists)."""
    data, alerts = triage_order_input(data, customer=customer, total=total, base_time=item.base_time,
                                      rules=rules)
    item.alerts.extend(alerts)
    return data


def triage_order_input(data: OrderInput, *, customer: Customer, total: Decimal | None,
                       base_time: datetime | None, rules: list[CompiledTriageRule]
                       ) -> tuple[OrderInput, list[dict[str, Any]]]:
    """Every matching rule sets its urgency and tag, flags the order with the tag
    ``triage:<rule>`` (it stays on the order through every stage) and, when it names roles,
    yields an alert to record once the order exists. ``hours_to_due``: from ``base_time`` (the
    order's own time) to the start of the required date, in the business time zone."""
    from dataclasses import replace

    tz = get_business_calendar().tz
    due = datetime.combine(data.required_date, datetime.min.time(), tzinfo=tz)
    hours = Decimal(str(round((due - base_time).total_seconds() / 3600, 2))) if base_time else Decimal(0)
    workflow = data.workflow or settings.ORDERHUB_DEFAULT_WORKFLOW
    values = {
        "total": total if total is not None else Decimal(0),
        "hours_to_due": hours,
        "line_count": Decimal(len(data.lines)),
        "qty": sum((ln.qty for ln in data.lines), Decimal(0)),
        "urgency": data.urgency,
        "channel": data.channel,
        "customer": customer.code,
        "customer_tier": customer.tier,
        "workflow": workflow,
        "tags": list(data.tags),
    }
    alerts: list[dict[str, Any]] = []
    for rule in rules:
        spec = rule.spec
        if spec.workflows and workflow not in spec.workflows:
            continue
        if spec.channels and data.channel not in spec.channels:
            continue
        if not rule.expression.evaluate(values):
            continue
        tags = list(data.tags)
        for tag in (spec.tag, TRIAGE_TAG + spec.code):
            if tag and tag not in tags:
                tags.append(tag)
        changes: dict[str, Any] = {"tags": tags} if tags != list(data.tags) else {}
        if spec.urgency and data.urgency != spec.urgency:
            changes["urgency"] = spec.urgency
        if changes:
            data = replace(data, **changes)
        if spec.alert_roles:
            alerts.append({"rule": spec.code, "roles": list(spec.alert_roles),
                           "total": str(values["total"]), "hours_to_due": str(hours),
                           "required_date": data.required_date.isoformat()})
    return data, alerts

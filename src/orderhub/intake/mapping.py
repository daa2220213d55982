"""Applying a channel mapping: records → standard order inputs, or problems naming the source.

The result of a mapping is the same order the API accepts (``OrderInput``); what the order has
no field for (paid at, the source's own total, the seller memo) is kept as ``meta`` on the
message's link to the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer, Product
from orderhub.catalog.selectors import MasterData, active_customers, master_data
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.errors import Problem
from orderhub.core.text import text_fault
from orderhub.orders.inputs import LineInput, OrderInput

from .models import Alias, CustomerProfile
from .readers import Record, SourceLine
from .report import price_note
from .spec import CompiledField, CompiledMapping, CompiledTagRule, CompiledTriageRule
from .values import (
    Refused,
    excel_text,
    getter,
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
# fields whose text may span lines (tab, line feed, carriage return); every other field is one line
MULTILINE_TARGETS = frozenset({"remarks", "seller_memo", "address"})


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
    """Customer and product lookups for one run, each distinct value queried once.

    What is found is gathered in ``master`` (``catalog.selectors.MasterData``), the master data
    order creation takes from intake (``order_create_batch(master=)``), so a chunk's customers
    and products are looked up once for mapping and writing. Which customers and products may be
    found (active ones) is catalog's rule (``active_customers``, ``master_data``)."""

    # customer lookups answered by the ORM one value at a time (the others go through master_data)
    _BY_FIELD = {"name": "name", "openid": "wechat_openid", "mobile": "mobile"}

    def __init__(self, channel: str):
        self.channel = channel
        self.master = MasterData()
        self._customers: dict[tuple[str, str], Customer | None] = {}
        self._products: dict[tuple[str, str], Product | None] = {}
        self._profiles: dict[int, CustomerProfile | None] = {}

    def _alias(self, kind: str, value: str) -> str | None:
        rows = dict(Alias.objects.filter(kind=kind, value=value, channel__in=[self.channel, ""])
                    .values_list("channel", "code"))
        return rows.get(self.channel) or rows.get("")

    def customer(self, value: str, by: tuple[str, ...]) -> Customer | None:
        key = (value, ",".join(by))
        if key not in self._customers:
            found = None
            for how in by:
                if how == "alias":
                    code = self._alias("customer", value)
                    found = self.customer_code(code) if code else None
                elif how == "code":
                    found = self.customer_code(value)
                elif how in self._BY_FIELD:
                    hits = list(active_customers().select_related("sales_owner")
                                .filter(**{self._BY_FIELD[how]: value}).order_by("code")[:5])
                    if len(hits) > 1:  # two customers of one name: a person chooses, never us
                        found = AmbiguousCustomer(value, [c.code for c in hits])
                        break
                    found = hits[0] if hits else None
                    if found:
                        self.master.add_customer(found)
                if found:
                    break
            self._customers[key] = found
        if isinstance(self._customers[key], AmbiguousCustomer):
            raise self._customers[key]
        return self._customers[key]

    def customer_code(self, code: str) -> Customer | None:
        return master_data(customers=[code], into=self.master).customers.get(code)

    def product(self, value: str, by: tuple[str, ...]) -> Product | None:
        key = (value, ",".join(by))
        if key not in self._products:
            found = None
            for how in by:
                if how == "sku":
                    found = self.product_sku(value)
                elif how == "alias":
                    sku = self._alias("product", value)
                    found = self.product_sku(sku) if sku else None
                if found:
                    break
            self._products[key] = found
        return self._products[key]

    def product_sku(self, sku: str) -> Product | None:
        return master_data(skus=[sku], into=self.master).products.get(sku)

    def profile(self, customer: Customer) -> CustomerProfile | None:
        if customer.pk not in self._profiles:
            self._profiles[customer.pk] = CustomerProfile.objects.filter(customer=customer).first()
        return self._profiles[customer.pk]

    # Many values at once (a chunk of a file), with the answers ``customer``/``product``/
    # ``profile`` would give one by one. Only the ways that find at most one row per value
    # (alias, code, SKU) are fetched ahead; the others stay one query per distinct value.

    def _aliases(self, kind: str, values: list[str]) -> dict[str, str]:
        per: dict[str, dict[str, str]] = {}
        for value, channel, code in (Alias.objects.filter(kind=kind, value__in=values,
                                                          channel__in=[self.channel, ""])
                                     .values_list("value", "channel", "code")):
            per.setdefault(value, {})[channel] = code
        return {v: d.get(self.channel) or d.get("") for v, d in per.items()}

    def prefetch(self, wanted: list[tuple[str, tuple[str, ...], set[str]]]) -> None:
        """Answer each ``(kind, by, values)`` (kind: customer or product) as :meth:`customer` /
        :meth:`product` would, with one query per kind for the aliases and one ``master_data``
        call for every code and SKU, then the intake profiles of the customers found."""
        todo = []
        for kind, by, values in wanted:
            key, cache = ("code", self._customers) if kind == "customer" else ("sku", self._products)
            key_by = ",".join(by)
            left = [v for v in values if (v, key_by) not in cache]
            if left and set(by) <= {"alias", key}:
                todo.append((kind, by, key, cache, key_by, left))
        aliases: dict[str, dict[str, str]] = {}
        for kind in {t[0] for t in todo if "alias" in t[1]}:
            aliases[kind] = self._aliases(kind, sorted({v for t in todo if t[0] == kind and "alias" in t[1]
                                                        for v in t[5]}))
        keys: dict[str, set[str]] = {"customer": set(), "product": set()}
        for kind, by, key, _cache, _key_by, left in todo:
            keys[kind].update(left if key in by else ())
            keys[kind].update(k for v in left if (k := aliases.get(kind, {}).get(v)))
        master_data(customers=keys["customer"], skus=keys["product"], into=self.master)
        for kind, by, _key, cache, key_by, left in todo:
            found = self.master.customers if kind == "customer" else self.master.products
            for v in left:
                hit = None
                for how in by:
                    k = aliases.get(kind, {}).get(v) if how == "alias" else v
                    hit = found.get(k) if k else None
                    if hit:
                        break
                cache[(v, key_by)] = hit
        self.prefetch_profiles()

    def prefetch_profiles(self) -> None:
        """The intake profiles of every customer found so far."""
        todo = {c.pk for c in self.master.customers.values() if c.pk not in self._profiles}
        if not todo:
            return
        found = {p.customer_id: p for p in CustomerProfile.objects.filter(customer_id__in=todo)}
        for pk in todo:
            self._profiles[pk] = found.get(pk)


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


def _raw(values: dict[str, Any], rule: CompiledField, getters=None) -> Any:
    if not rule.sources:
        return None
    if getters is None:
        getters = [getter(s, nested=False) for s in rule.sources]
    if len(getters) == 1:
        return getters[0](values)
    got = [g(values) for g in getters]
    parts = [str(v).strip() for v in got if not is_blank(v)]
    return rule.join.join(parts) if parts else None


# date/time texts parsed per run: exports repeat them (orders of the same minute), and parsing
# tries each format in turn; bounded so a huge file does not keep every distinct text
_MEMO_MAX = 50_000


class _FieldPlan:
    """One field rule of a mapping, its transforms turned into functions once per run."""

    __slots__ = ("rule", "target", "label", "sources", "single", "getters", "const", "default", "required",
                 "steps", "lookup", "lookup_at")

    def __init__(self, rule: CompiledField, ctx: _Ctx, memo: dict, *, tabular: bool):
        self.rule = rule
        self.target = rule.target
        self.label = "+".join(rule.sources) if rule.sources else rule.target  # tabular: the column
        self.sources = rule.sources
        # JSON sources may be paths into nested objects and lists (``buyer.open_id``, ``items[0].sku``)
        self.getters = [getter(src, nested=not tabular) for src in rule.sources]
        self.single = self.getters[0] if len(self.getters) == 1 else None
        self.const = rule.const
        self.default = rule.default
        self.required = rule.required
        self.steps = tuple((_step_fn(step, ctx, memo), step.name == "const") for step in rule.steps)
        at = [i for i, step in enumerate(rule.steps) if step.name == "lookup"]
        self.lookup_at = at[0] if at else None
        self.lookup = rule.steps[at[0]].arg if at else None  # (kind, by)

    def _start(self, values: dict[str, Any]):
        if self.const is not None:
            value = self.const
        elif self.single is not None:
            value = self.single(values)
        else:
            value = _raw(values, self.rule, self.getters)
        if isinstance(value, str):
            value = value.strip()
            fault = text_fault(value, multiline=self.target in MULTILINE_TARGETS)
            if fault:  # a control character in a cell: this row's problem, before any lookup
                raise Refused(fault)
        return value

    def lookup_input(self, values: dict[str, Any]) -> str | None:
        """The text this field's (first) lookup step looks up, or None if it never gets there."""
        try:
            value = self._start(values)
            for fn, is_const in self.steps[:self.lookup_at]:
                if not is_const and is_blank(value):
                    return None
                value = fn(value, [], self.label)
        except Refused:
            return None
        if is_blank(value):
            return None
        return nfkc(str(value)).strip()

    def value(self, values: dict[str, Any], notes: list[str], label: str):
        """The value of the field, or Refused."""
        value = checked = self._start(values)  # a text _start returns is stripped and checked
        for fn, is_const in self.steps:   # is_blank written out: every field of every imported row
            if not is_const and (value is None or (isinstance(value, str) and not value.strip())):
                break
            value = fn(value, notes, label)
        if value is None or (isinstance(value, str) and not value.strip()):
            value = self.default if self.default is not None else value
            if is_blank(value):
                if self.required:
                    raise _Missing(_("is required but empty."))
                return None
        if isinstance(value, str) and value is not checked and (fault := text_fault(
                value, multiline=self.target in MULTILINE_TARGETS)):
            raise Refused(fault)  # e.g. a constant of the mapping
        return value


def _step_fn(step, ctx: _Ctx, memo: dict):  # noqa: C901 - one branch per transform
    """The function ``(value, notes, label) -> value`` of one transform step."""
    n, arg = step.name, step.arg
    if n == "strip":
        return lambda v, notes, label: str(v).strip()
    if n == "upper":
        return lambda v, notes, label: str(v).upper()
    if n == "lower":
        return lambda v, notes, label: str(v).lower()
    if n == "excel_text":
        return lambda v, notes, label: excel_text(v)
    if n == "unmask":
        return lambda v, notes, label: unmask(v)
    if n in ("number", "integer", "fen_to_yuan"):
        def number(value, notes, label):
            num, note = to_decimal(value)
            if note:
                notes.append(f"{label}: {note}")
            if n == "integer" and num != num.to_integral_value():
                raise Refused(_("'%(value)s' is not a whole number.") % {"value": value})
            if n == "fen_to_yuan":
                if num != num.to_integral_value():
                    raise Refused(_("'%(value)s' is not a whole number of fen.") % {"value": value})
                num = (num / 100).quantize(CENT)
            return num
        return number
    if n == "multiply":
        return lambda v, notes, label: to_decimal(v)[0] * arg
    if n == "positive":
        def positive(value, notes, label):
            if not isinstance(value, Decimal):
                value = to_decimal(value)[0]
            if value <= 0:
                raise Refused(_("must be greater than zero (got %(value)s).") % {"value": value})
            return value
        return positive
    if n == "non_negative":
        def non_negative(value, notes, label):
            if not isinstance(value, Decimal):
                value = to_decimal(value)[0]
            if value < 0:
                raise Refused(_("cannot be negative (got %(value)s).") % {"value": value})
            return value
        return non_negative
    if n in ("date", "datetime"):
        parse = parse_date if n == "date" else parse_datetime
        formats, tz = list(arg), ctx.tz
        seen = memo.setdefault((n, arg), {})

        def when(value, notes, label):
            if value.__class__ is not str:
                return parse(value, formats, tz)
            got = seen.get(value)
            if got is None:
                got = parse(value, formats, tz)
                if len(seen) >= _MEMO_MAX:
                    seen.clear()
                seen[value] = got
            return got
        return when
    if n == "map":
        table = dict(arg)
        return lambda v, notes, label: table.get(str(v), v)
    if n == "const":
        return lambda v, notes, label: arg
    if n == "truncate":
        return lambda v, notes, label: str(v)[:arg]
    if n == "lookup":
        kind, by = arg
        lookups = ctx.lookups
        if kind == "customer":
            def customer(value, notes, label):
                found = lookups.customer(nfkc(str(value)).strip(), by)
                if found is None:
                    raise _UnknownCustomer(_("Unknown customer '%(value)s'.") % {"value": value})
                return found.code
            return customer

        def product(value, notes, label):
            found = lookups.product(nfkc(str(value)).strip(), by)
            if found is None:
                raise _UnknownSku(_("Unknown SKU '%(value)s'.") % {"value": value})
            return found.sku
        return product
    raise ValueError(f"unknown transform {n!r}")  # the compiler refuses it before


class _UnknownCustomer(Refused):
    code = "unknown_customer"


class AmbiguousCustomer(Refused):
    """A name (or mobile, openid) that more than one active customer carries: the order goes
    to a person, who picks the customer, instead of to one of them chosen by us."""

    code = "ambiguous_customer"

    def __init__(self, value: str, codes: list[str]):
        self.value, self.codes = value, codes
        super().__init__(_("'%(value)s' fits more than one customer (%(codes)s): choose one.")
                         % {"value": value, "codes": ", ".join(codes)})


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


class Mapper:
    """Maps the records of one run (a file, a payload, the messages of one batch).

    What does not depend on the record is worked out once: each field's transforms as
    functions, the labels of a file's columns, the translated note texts; date/time texts
    parsed once per run. The result is the same as mapping each record on its own.
    """

    def __init__(self, mapping: CompiledMapping, lookups: Lookups, *, channel: str, received_at: datetime,
                 tag_rules: list[CompiledTagRule], triage_rules: list[CompiledTriageRule]):
        self.ctx = ctx = _Ctx(mapping, lookups)
        self.spec = spec = mapping.spec
        self.tabular = spec.format != "json"
        self.channel, self.received_at = channel, received_at
        self.tag_rules, self.triage_rules = tag_rules, triage_rules
        memo: dict = {}
        self.order = [_FieldPlan(r, ctx, memo, tabular=self.tabular) for r in mapping.order]
        self.line = [_FieldPlan(r, ctx, memo, tabular=self.tabular) for r in mapping.line]
        # a file's order fields are named by their columns whatever the row
        self.order_sources = {p.target: p.label for p in self.order}
        self.lookups = [(p, False) for p in self.order if p.lookup] + [(p, True) for p in self.line if p.lookup]
        self._line_keys: list[tuple[str, ...]] = []
        self.text_required = _("required date %(d)s = order date + %(n)d working days")
        self.text_default_customer = _("customer %(code)s from the channel's defaults")
        self.triage_workflow = settings.ORDERHUB_DEFAULT_WORKFLOW

    def line_keys(self, i: int) -> tuple[str, ...]:
        """``lines[i].<target>`` for each line field."""
        while len(self._line_keys) <= i:
            j = len(self._line_keys)
            self._line_keys.append(tuple(f"lines[{j}].{p.target}" for p in self.line))
        return self._line_keys[i]

    def map(self, records: list[Record], start: int = 0) -> list[Item]:
        """Items for ``records``, indexed from ``start``."""
        self.prefetch(records)
        one = self.map_one
        return [one(start + i, rec) for i, rec in enumerate(records)]

    def keys(self, records: list[Record]) -> list[str | None]:
        """Each record's external reference (with the channel, the key an order is deduplicated
        by); None when the mapping gives none or the record's is refused."""
        plan = next((p for p in self.order if p.target == "external_ref"), None)
        out: list[str | None] = []
        for rec in records:
            try:
                value = plan.value(rec.values, [], plan.label) if plan else None
            except Refused:
                value = None
            out.append(None if value is None else str(value))
        return out

    @property
    def master(self) -> MasterData:
        """What this run's lookups found: the master data its orders are created with."""
        return self.ctx.lookups.master

    def prefetch(self, records: list[Record]) -> None:
        """Customers, products and profiles the records name, all in one go."""
        wanted = []
        for plan, per_line in self.lookups:
            texts = set()
            for rec in records:
                for values in ([ln.values for ln in rec.lines] if per_line else (rec.values,)):
                    text = plan.lookup_input(values)
                    if text is not None:
                        texts.add(text)
            kind, by = plan.lookup
            if texts:
                wanted.append((kind, by, texts))
        self.ctx.lookups.prefetch(wanted)

    def map_one(self, index: int, rec: Record) -> Item:
        tabular = self.tabular
        item = Item(index=index, rows=list(rec.rows), where=rec.where)
        first_row = rec.rows[0] if rec.rows else None
        notes, problems = item.notes, item.problems
        order: dict[str, Any] = {}
        values = rec.values
        if tabular or not rec.where:
            sources = item.sources = dict(self.order_sources)
            for plan in self.order:
                try:
                    order[plan.target] = plan.value(values, notes, plan.label)
                except Refused as exc:
                    problems.append(_field_problem(exc, plan.label, first_row, plan.target))
        else:
            sources = item.sources
            for plan in self.order:
                label = f"{rec.where}.{plan.label}"
                sources[plan.target] = label
                try:
                    order[plan.target] = plan.value(values, notes, label)
                except Refused as exc:
                    problems.append(_field_problem(exc, label, first_row, plan.target))
        if order.get("external_ref") is not None:
            order["external_ref"] = str(order["external_ref"])
            item.meta["_ref"] = order["external_ref"]
        lines: list[dict[str, Any]] = []
        if not rec.lines:
            problems.append(Problem("required", _("The order has no lines."),
                                    field=_label(rec.where, (self.spec.lines_from or "lines",), "lines", tabular)))
        for i, src in enumerate(rec.lines):
            ln: dict[str, Any] = {}
            where = src.where
            for plan, key in zip(self.line, self.line_keys(i), strict=True):
                label = plan.label if tabular or not where else f"{where}.{plan.label}"
                sources[key] = label
                try:
                    ln[plan.target] = plan.value(src.values, notes, label)
                except Refused as exc:
                    problems.append(_field_problem(exc, label, src.row, key))
                    ln["_bad"] = True
            lines.append(ln)
        _line_prices(item, lines, rec.lines)
        if problems:
            return item
        _finish(item, order, lines, self.ctx, self.channel, self.received_at, self.tag_rules, self.triage_rules,
                mapper=self)
        return item


def map_records(mapping: CompiledMapping, records: list[Record], lookups: Lookups, *,
                channel: str, received_at: datetime, tag_rules: list[CompiledTagRule],
                triage_rules: list[CompiledTriageRule]) -> list[Item]:
    return Mapper(mapping, lookups, channel=channel, received_at=received_at, tag_rules=tag_rules,
                  triage_rules=triage_rules).map(records)


def _field_problem(exc: Refused, label: str, row: int | None, target: str) -> Problem:
    code = getattr(exc, "code", "invalid_value")
    msg = str(exc)
    if code == "invalid_value" or code == "required":
        msg = f"{label}: {msg}"
    data = {"target": target}
    if row is not None:
        data["row"] = row
    return Problem(code, msg, field=label, data=data)


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
        if ln["unit_price"] * qty != amount:  # the rounding is said, not hidden in the line's amount
            item.notes.append(price_note(sources[i].where if i < len(sources) else f"lines[{i}]", amount, qty,
                                         ln["unit_price"]))


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


_META_KEYS = frozenset(("paid_at", "ordered_at", "total", "seller_memo", "receiver", "phone", "address", "buyer"))


def _finish(item: Item, order: dict[str, Any], lines: list[dict[str, Any]], ctx: _Ctx, channel: str,
            received_at: datetime, tag_rules, triage_rules, mapper: Mapper | None = None) -> None:
    spec = ctx.mapping.spec
    lk = ctx.lookups
    meta = {k: order.pop(k) for k in list(order) if k in _META_KEYS}
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
        text = mapper.text_default_customer if mapper else _("customer %(code)s from the channel's defaults")
        item.notes.append(text % {"code": customer.code})
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
        text = mapper.text_required if mapper else _("required date %(d)s = order date + %(n)d working days")
        item.notes.append(text % {"d": required, "n": lead})
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
        if mapper is None:
            data = apply_triage(item, data, customer, total, triage_rules)
        else:
            data, alerts = triage_order_input(data, customer=customer, total=total, base_time=item.base_time,
                                              rules=triage_rules, tz=ctx.tz,
                                              default_workflow=mapper.triage_workflow)
            item.alerts.extend(alerts)
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
    if checks:  # stored text: in the company's language, whoever's request wrote it
        with translation.override(settings.LANGUAGE_CODE):
            remarks = (remarks + "\n" if remarks else "") + "\n".join(
                _("[check before shipping] %(item)s") % {"item": c} for c in checks)
    return out, remarks, urgency


TRIAGE_TAG = "triage:"
_MIDNIGHT = datetime.min.time()


def apply_triage(item: Item, data: OrderInput, customer: Customer, total: Decimal | None,
                 rules: list[CompiledTriageRule]) -> OrderInput:
    """Triage of a mapped item: the alerts are kept on the item (recorded once the order exists)."""
    data, alerts = triage_order_input(data, customer=customer, total=total, base_time=item.base_time,
                                      rules=rules)
    item.alerts.extend(alerts)
    return data


def triage_order_input(data: OrderInput, *, customer: Customer, total: Decimal | None,
                       base_time: datetime | None, rules: list[CompiledTriageRule], tz=None,
                       default_workflow: str | None = None) -> tuple[OrderInput, list[dict[str, Any]]]:
    """Every matching rule sets its urgency and tag, flags the order with the tag
    ``triage:<rule>`` (it stays on the order through every stage) and, when it names roles,
    yields an alert to record once the order exists. ``hours_to_due``: from ``base_time`` (the
    order's own time) to the start of the required date, in the business time zone (``tz``
    and ``default_workflow``: given by a caller triaging many orders)."""
    if tz is None:
        tz = get_business_calendar().tz
    due = datetime.combine(data.required_date, _MIDNIGHT, tzinfo=tz)
    hours = Decimal(str(round((due - base_time).total_seconds() / 3600, 2))) if base_time else Decimal(0)
    workflow = data.workflow or default_workflow or settings.ORDERHUB_DEFAULT_WORKFLOW
    values = {
        "total": total if total is not None else Decimal(0),
        "hours_to_due": hours,
        "line_count": Decimal(len(data.lines)),
        "qty": sum((ln.qty for ln in data.lines), Decimal(0)),
        "urgency": data.urgency, "channel": data.channel, "customer": customer.code,
        "customer_tier": customer.tier, "workflow": workflow, "tags": list(data.tags),
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

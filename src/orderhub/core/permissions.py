"""Who may do what, decided in one place.

Every capability of the hub is declared here once, with the Django permission(s) behind it;
roles are Django groups holding permissions (``core.roles``), and what an administrator sets
per role (orders visible, prices) is ``core.RoleSetting``, mirrored into the same permissions.
Web views declare their capability with ``web.views.common.requires(code)``, API operations
with ``auth=core.http.auth.requires(code)`` on the route; both end in ``check`` here. Services keep
checking their writes (they are the one way in); the edge check answers 403 early and the same
way everywhere, before a body is even validated.

Besides capabilities this module decides which orders an actor sees (``order_scope``, applied
by ``orders.selectors.visible``), who sees the IP address and browser of a change
(``may_see_forensics``) and which prices an actor may set (``check_line_prices``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from .errors import PermissionDenied, Problem
from .models import RoleSetting

if TYPE_CHECKING:
    from .actors import Actor
    from .roles import RoleDefaults

# The permissions an administrator's role settings grant (see ``setting_permissions``).
CHANGE_PRICE_PERM = "orders.change_price"
VIEW_ALL_ORDERS_PERM = "orders.view_all_orders"
# company-wide figures (every customer's orders, counted): supervisory roles (``core.roles``)
KPIS_PERM = "orders.view_kpis"

_SETTINGS_PERMS = ("workflow.change_workflowdefinition", "core.change_calendaroverride",
                   "catalog.change_customer", "catalog.change_product", "inventory.change_stocklevel",
                   "auth.change_user", "notify.change_endpoint", "intake.change_configversion",
                   "floor.change_problemtype", "shipping.manage_documents")


@dataclass(frozen=True)
class Capability:
    """Something a person or system may do. ``perms``: the Django permissions that grant it
    (any one of them); none means every signed-in person. ``public`` capabilities need no
    sign-in because the request carries its own credential (a webhook signature, a link token)."""

    code: str
    label: Promise
    perms: tuple[str, ...] = ()
    public: bool = False

    @property
    def signed_in_only(self) -> bool:
        return not self.perms and not self.public


def _c(code: str, label: Promise, *perms: str, public: bool = False) -> Capability:
    return Capability(code, label, tuple(perms), public)


CAPABILITIES: dict[str, Capability] = {c.code: c for c in (
    _c("public", _lazy("Open to everyone (signed webhooks, customers' quick-order links)"), public=True),
    _c("home", _lazy("My work")),
    _c("orders.view", _lazy("See orders"), "orders.view_order"),
    _c("orders.export", _lazy("Export orders to Excel"), "orders.view_order"),
    _c("orders.view_events_forensics", _lazy("See the IP address and browser of each change"),
       "orders.view_forensics"),
    _c("orders.create", _lazy("Create orders"), "orders.add_order"),
    _c("orders.change_price", _lazy("Set prices other than the standard price"), CHANGE_PRICE_PERM),
    _c("orders.update", _lazy("Change an order's header fields"), "orders.add_order", "orders.hold_order"),
    _c("orders.edit_lines", _lazy("Change an order's lines (add, remove, quantity, price)"), "orders.add_order"),
    _c("orders.change_request", _lazy("Request order changes (decided by the roles the workflow names)"),
       "orders.add_order"),
    _c("orders.change_decide", _lazy("Decide on order change requests (for one's own role)"), "orders.view_order"),
    _c("orders.move", _lazy("Move orders on (out of the stages one's roles own)"), "orders.view_order"),
    _c("orders.hold", _lazy("Hold and resume orders"), "orders.hold_order"),
    _c("orders.cancel", _lazy("Cancel orders"), "orders.cancel_order"),
    _c("orders.override", _lazy("Force orders past their guards"), "orders.override_guard"),
    _c("orders.attach", _lazy("Attach files to orders"), "orders.view_order", "orders.add_order"),
    _c("kpis.view", _lazy("See the KPI dashboards and their figures"), KPIS_PERM),
    _c("workflow.view", _lazy("See workflow definitions"), "orders.view_order"),
    _c("workflow.change", _lazy("Change workflow definitions"), "workflow.change_workflowdefinition"),
    # everyone who sees orders: triage alerts are shown there to whichever roles a rule names
    _c("intake.view", _lazy("See the intake inbox, imports and drafts"), "orders.view_order"),
    _c("intake.import", _lazy("Import files, replay messages, confirm drafts"), "orders.add_order"),
    _c("intake.configure", _lazy("Change intake mappings and rules"), "intake.change_configversion"),
    _c("intake.refused", _lazy("See requests refused at intake (bad signatures, wrong links)"),
       "intake.view_refusedrequest"),
    _c("intake.quick_link", _lazy("Issue customers' quick-order links"), "orders.add_order",
       "intake.change_configversion"),
    _c("portal.customer", _lazy("Customers' own portal (signed in with a one-time code; their own orders only)"),
       public=True),
    _c("portal.contacts", _lazy("Manage customers' portal contacts and invitations"), "orders.add_order",
       "catalog.change_customer"),
    _c("portal.tracking", _lazy("Share tracking links, log customers' calls, see the self-query rate"),
       "orders.view_order"),
    _c("tickets.view", _lazy("See tickets"), "orders.view_order"),
    _c("tickets.open", _lazy("Open tickets"), "orders.view_order"),
    _c("tickets.resolve", _lazy("Resolve tickets (of one's own roles)"), "orders.view_order"),
    _c("tickets.knowledge", _lazy("Search closed tickets and their resolutions"), "orders.view_order"),
    _c("settings.problem_types", _lazy("Change the problem types of shop-floor tickets"),
       "floor.change_problemtype"),
    _c("rules.view", _lazy("See rules and their firings"), "orders.view_order"),
    _c("rules.manage", _lazy("Change rules"), "rules.change_rule"),
    _c("notify.inbox", _lazy("My notifications and notification settings")),
    _c("notify.manage", _lazy("Notification channels, templates and dead letters"), "notify.change_endpoint"),
    _c("settings.view", _lazy("Open the settings"), *_SETTINGS_PERMS),
    _c("settings.calendar", _lazy("Change the business calendar"), "core.change_calendaroverride"),
    _c("settings.customers", _lazy("Change customers"), "catalog.change_customer"),
    _c("settings.products", _lazy("Change products and BOMs"), "catalog.change_product"),
    _c("settings.stock", _lazy("Correct stock"), "inventory.change_stocklevel"),
    _c("users.manage", _lazy("Manage users and roles"), "auth.change_user"),
    _c("purchasing.view", _lazy("See suppliers, purchase requests and purchase orders"),
       "purchasing.view_purchaseorder"),
    _c("purchasing.request", _lazy("Raise purchase requests"), "purchasing.add_purchaserequest"),
    _c("purchasing.approve", _lazy("Approve purchase requests"), "purchasing.approve_purchaserequest"),
    _c("purchasing.order", _lazy("Place purchase orders, keep suppliers, import from the ERP"),
       "purchasing.add_purchaseorder"),
    _c("purchasing.receive", _lazy("Receive goods against purchase orders"),
       "purchasing.receive_purchaseorder"),
    _c("planning.view", _lazy("View line capacity, schedules, rush order options and delivery risks"), "planning.view_workcenter"),
    _c("planning.plan", _lazy("Maintain lines and routings, reschedule, insert rush orders"), "planning.plan_capacity"),
    _c("shipping.view", _lazy("See shipments"), "orders.view_order"),
    _c("shipping.ship", _lazy("Create shipments and ship them"), "shipping.ship_order"),
    _c("shipping.disruptions", _lazy("Record and lift carrier disruptions (carrier breaker)"), "shipping.ship_order"),
    _c("breakers.view", _lazy("View breakers and the orders they hold"), "orders.view_order"),
    _c("breakers.reset", _lazy("Reset breakers by hand (with a reason)"), "orders.hold_order"),
    _c("breakers.configure", _lazy("Change breaker settings"), "workflow.change_workflowdefinition"),
    _c("documents.print", _lazy("Print order and shipment documents"), "orders.view_order"),
    _c("documents.manage", _lazy("Change the letterhead and document templates"),
       "shipping.manage_documents"),
    _c("finance.view", _lazy("View invoices, payments, payment promises and returns"), "finance.view_invoice"),
    _c("finance.manage", _lazy("Issue invoices, record payments, import bank statements, settle, export vouchers"), "finance.manage_finance"),
    _c("returns.view", _lazy("View returns"), "finance.view_invoice", "finance.add_return",
       "finance.receive_return", "finance.record_qc"),
    _c("returns.create", _lazy("Record returns"), "finance.add_return"),
    _c("returns.receive", _lazy("Receive returns into stock"), "finance.receive_return"),
    _c("returns.qc", _lazy("Record return inspections"), "finance.record_qc"),
)}


def capability(code: str) -> Capability:
    """The declared capability; an unknown code is a programming error, found at import."""
    try:
        return CAPABILITIES[code]
    except KeyError:
        raise ValueError(f"unknown capability {code!r}") from None


def allowed(actor: Actor | None, code: str) -> bool:
    cap = capability(code)
    if cap.public:
        return True
    if actor is None:
        return False
    if actor.is_system:
        return True
    if actor.user is None or not actor.user.is_active:
        return False
    return not cap.perms or any(actor.has_perm(p) for p in cap.perms)


def check(actor: Actor | None, code: str) -> None:
    """Raise PermissionDenied (403) naming the capability unless ``actor`` holds it."""
    if not allowed(actor, code):
        raise PermissionDenied("permission_denied",
                               _("Not allowed: %(capability)s.") % {"capability": capability(code).label})


def granted_by(perms: Iterable[str]) -> list[Capability]:
    """The capabilities a set of permissions gives (what the roles page lists per role)."""
    held = set(perms)
    return [c for c in CAPABILITIES.values() if c.perms and held & set(c.perms)]


# --------------------------------------------------------------------------- role settings

OrderScope = RoleSetting.OrderScope
NO_ORDERS = "none"


def setting_permissions(setting: RoleSetting | dict[str, Any]) -> list[str]:
    """The permissions a role's settings grant (beyond ``core.roles.ROLE_PERMISSIONS``)."""
    get = setting.get if isinstance(setting, dict) else (lambda k: getattr(setting, k))
    out = []
    if get("order_scope") == OrderScope.ALL:
        out.append(VIEW_ALL_ORDERS_PERM)
    if get("change_price"):
        out.append(CHANGE_PRICE_PERM)
    return out


def order_scope(actor: Actor | None) -> str:
    """Which orders ``actor`` sees: "all", "own_customers" (customers whose sales owner is the
    user, and orders the user owns) or "none". One of the user's roles set to all orders is
    enough; system jobs see all."""
    if actor is None:
        return NO_ORDERS
    if actor.is_system:
        return OrderScope.ALL
    if not allowed(actor, "orders.view"):
        return NO_ORDERS
    return OrderScope.ALL if actor.has_perm(VIEW_ALL_ORDERS_PERM) else OrderScope.OWN_CUSTOMERS


def check_customer_in_scope(actor: Actor, customer: Any) -> None:
    """Refuse (403, on the ``customer`` field) an order for ``customer`` from an actor who sees
    only their own customers' orders unless the customer's sales owner is that actor: a rep
    places orders for the customers they look after, and would not see the order otherwise."""
    if order_scope(actor) != OrderScope.OWN_CUSTOMERS:
        return
    if actor.user is not None and customer.sales_owner_id == actor.user.pk:
        return
    message = _("You may only place orders for your own customers; %(customer)s is looked after by "
                "another sales owner.") % {"customer": customer.name}
    raise PermissionDenied("customer_out_of_scope", message,
                           problems=[Problem("customer_out_of_scope", message, field="customer")])


def scope_key(actor: Actor | None) -> str:
    """A short key of what ``actor`` sees, for caches shared between viewers."""
    scope = order_scope(actor)
    return f"{scope}:{actor.user.pk}" if scope == OrderScope.OWN_CUSTOMERS and actor and actor.user else scope


def may_see_forensics(actor: Actor | None) -> bool:
    """The IP address and browser recorded with each change (staff's, too) are for managers and
    administrators; everyone else sees who, when and what."""
    return allowed(actor, "orders.view_events_forensics")


# --------------------------------------------------------------------------- KPI dashboards

#: The dashboards, one per audience, in tab order: 老板 (owner), 运营, 计划, 销售, 采购. Whoever
#: holds ``kpis.view`` may open every tab; a role's own tab is the one it lands on.
KPI_AUDIENCES = ("boss", "operations", "planning", "sales", "purchasing")
_KPI_HOME = (  # first match wins
    ("boss", frozenset({"vice_president", "manager", "admin"})),
    ("operations", frozenset({"operations_director", "production_director", "production_manager"})),
    ("planning", frozenset({"planning_supervisor", "planner"})),
    ("sales", frozenset({"sales", "service"})),
    ("purchasing", frozenset({"purchaser"})),
)


def kpi_audience(actor: Actor | None) -> str | None:
    """The dashboard ``actor`` lands on (``/kpi/``), None when it may not see KPIs."""
    if not allowed(actor, "kpis.view"):
        return None
    roles = actor.roles if actor is not None else frozenset()
    return next((aud for aud, rs in _KPI_HOME if roles & rs), KPI_AUDIENCES[0])


# --------------------------------------------------------------------------- prices

def standard_unit_price(*, customer: Any, product: Any, prices: Any = None, base_qty: Any = None) -> Decimal:
    """The unit price anyone creating an order may set on a line of ``product`` for ``customer``
    without ``orders.change_price``: the customer's price for the line's quantity when the
    caller passes the customer's ``prices`` (a ``catalog.prices.PriceBook``, looked up by the
    layer that may read the catalog), else the product's list price."""
    if prices is not None and base_qty is not None:
        return Decimal(prices.price(product, base_qty))
    return Decimal(product.list_price)


def _money(value: Decimal) -> str:
    cents = value.quantize(Decimal("0.01"))
    return str(cents if cents == value else value.normalize())


def check_line_prices(*, actor: Actor, customer: Any, lines: Iterable[Any], prices: Any = None) -> None:
    """Refuse (403) lines whose unit price differs from the standard price, each named by its
    field (``lines[2].unit_price``), unless ``actor`` may change prices. Machine intake runs as
    its channel's system actor and keeps the prices its mapping carries (a marketplace's paid
    price). ``lines``: order lines with ``line_no`` (1-based), ``product``, ``base_qty`` and
    ``unit_price``; ``prices``: the customer's ``PriceBook`` (None: list prices)."""
    if actor.is_system or allowed(actor, "orders.change_price"):
        return
    problems = []
    for ln in lines:
        standard = standard_unit_price(customer=customer, product=ln.product, prices=prices,
                                       base_qty=getattr(ln, "base_qty", None))
        if ln.unit_price != standard:
            problems.append(Problem(
                "price_not_allowed",
                _("Only roles that may change prices can set %(sku)s to a price other than its "
                  "standard price %(price)s.") % {"sku": ln.product.sku, "price": _money(standard)},
                field=f"lines[{ln.line_no - 1}].unit_price", data={"standard_price": _money(standard)}))
    if problems:
        raise PermissionDenied("price_not_allowed", problems[0].message, problems=problems)


# --------------------------------------------------------------------------- roles, for people

@dataclass(frozen=True)
class RoleView:
    code: str
    label: Promise
    order_scope: str
    change_price: bool
    capabilities: list[Capability]
    users: int

    @property
    def order_scope_label(self) -> str:
        return str(OrderScope(self.order_scope).label)


def roles_overview() -> list[RoleView]:
    """Every role with its settings, what it may do and how many people hold it (2 queries)."""
    from django.contrib.auth.models import Group
    from django.db.models import Count

    from .roles import DEFAULT_ROLE_SETTING, ROLE_SETTING_DEFAULTS, ROLES

    groups = {g.name: g for g in Group.objects.filter(name__in=list(ROLES)).select_related("setting")
              .annotate(n_users=Count("user"))}
    perms: dict[str, set[str]] = {}
    for name, app, code in Group.permissions.through.objects.filter(group__name__in=list(ROLES)).values_list(
            "group__name", "permission__content_type__app_label", "permission__codename"):
        perms.setdefault(name, set()).add(f"{app}.{code}")
    out = []
    for code, label in ROLES.items():
        group = groups.get(code)
        setting = getattr(group, "setting", None) if group else None
        values: RoleDefaults = (
            {"order_scope": setting.order_scope, "change_price": setting.change_price} if setting
            else ROLE_SETTING_DEFAULTS.get(code, DEFAULT_ROLE_SETTING))
        out.append(RoleView(code, label, values["order_scope"], values["change_price"],
                            granted_by(perms.get(code, ())), group.n_users if group else 0))
    return out

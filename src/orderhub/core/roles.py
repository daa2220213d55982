"""Roles are Django groups named by these codes; the labels are what people see."""

from typing import TypedDict

from django.conf import settings
from django.utils.translation import gettext_lazy as _

ROLES = {
    "sales": _("Sales"),
    "service": _("Customer service"),
    "planner": _("Planner"),
    "purchaser": _("Purchaser"),
    "warehouse": _("Warehouse"),
    "production": _("Production"),
    "qc": _("Quality control"),
    "finance": _("Finance"),
    "logistics": _("Logistics"),
    "designer": _("Designer"),
    "manager": _("Manager"),
    "admin": _("Administrator"),
    "planning_supervisor": _("Planning supervisor"),
    "production_director": _("Production director"),
    "production_manager": _("Production manager"),
    "operations_director": _("Operations director"),
    "vice_president": _("Vice president"),
}

# Django permissions each role holds (beyond moving orders out of the stages it owns). What each
# permission allows is declared once, per capability, in ``core.permissions``.
_FORENSICS = "orders.view_forensics"      # the IP address and browser recorded with each change
# purchasing: see, raise requests, place orders (and suppliers, ERP imports), receive goods
_PO_VIEW, _PO_RAISE = "purchasing.view_purchaseorder", "purchasing.add_purchaserequest"
_PO_PLACE, _PO_RECEIVE = "purchasing.add_purchaseorder", "purchasing.receive_purchaseorder"
PURCHASE_APPROVE_PERM = "purchasing.approve_purchaserequest"
_KPIS = "orders.view_kpis"                # the KPI dashboards and /api/kpis (company-wide figures)
# capacity planning: see lines, the board, rush options and risks; plan (lines, routings, rush)
_PLAN_VIEW, _PLAN = "planning.view_workcenter", "planning.plan_capacity"
# finance: see invoices, payments and returns; issue, record, import, export (finance only);
# raise returns, receive them (warehouse), record their QC (qc)
_FIN_VIEW, _FIN_MANAGE = "finance.view_invoice", "finance.manage_finance"
_RET_ADD, _RET_RECEIVE, _RET_QC = "finance.add_return", "finance.receive_return", "finance.record_qc"
ROLE_PERMISSIONS = {
    "sales": ["orders.add_order", "orders.view_order", "orders.hold_order", _FIN_VIEW, _RET_ADD],
    "service": ["orders.add_order", "orders.view_order", "orders.hold_order", _RET_ADD],
    "planner": ["orders.add_order", "orders.view_order", "orders.hold_order", _PO_VIEW, _PO_RAISE],
    "purchaser": ["orders.view_order", _PO_VIEW, _PO_RAISE, _PO_PLACE, _PO_RECEIVE],
    "warehouse": ["orders.view_order", _PO_VIEW, _PO_RECEIVE, "shipping.ship_order", _RET_RECEIVE],
    "production": ["orders.view_order"],
    "qc": ["orders.view_order", "orders.hold_order", _RET_QC],
    "finance": ["orders.view_order", "orders.hold_order", _FIN_VIEW, _FIN_MANAGE, _RET_ADD],
    "logistics": ["orders.view_order", "shipping.ship_order"],
    "designer": ["orders.view_order"],
    "manager": ["orders.add_order", "orders.view_order", "orders.hold_order",
                "orders.override_guard", "orders.cancel_order", _FORENSICS, _KPIS, _PO_VIEW, _FIN_VIEW],
    "admin": ["orders.add_order", "orders.view_order", "orders.hold_order",
              "orders.override_guard", "orders.cancel_order", "workflow.change_workflowdefinition",
              "core.change_calendaroverride", "catalog.change_customer", "catalog.change_product",
              "notify.change_endpoint",
              "inventory.change_stocklevel", "auth.change_user",
              "intake.change_configversion", "intake.view_refusedrequest", "rules.change_rule",
              "floor.change_problemtype", "shipping.manage_documents", _FORENSICS, _KPIS, _PO_VIEW, _PO_PLACE,
              _FIN_VIEW],
    "planning_supervisor": ["orders.add_order", "orders.view_order", "orders.hold_order", _KPIS,
                            _PO_VIEW],
    "production_director": ["orders.view_order", "orders.hold_order", _KPIS],
    "production_manager": ["orders.view_order", "orders.hold_order"],
    "operations_director": ["orders.view_order", "orders.hold_order", "orders.override_guard", _KPIS],
    "vice_president": ["orders.view_order", "orders.hold_order", "orders.override_guard",
                       "orders.cancel_order", _KPIS],
}
for _role in ("planner", "planning_supervisor", "production", "production_manager", "production_director"):
    ROLE_PERMISSIONS[_role] += [_PLAN_VIEW, _PLAN]
for _role in ("manager", "admin", "operations_director", "vice_president"):
    ROLE_PERMISSIONS[_role] += [_PLAN_VIEW]
# Who approves purchase requests is configuration (``ORDERHUB_PURCHASE_APPROVER_ROLES``, default
# planning supervisor and manager): those roles get the approval permission (and the list view).
for _role in settings.ORDERHUB_PURCHASE_APPROVER_ROLES:
    _perms = ROLE_PERMISSIONS.setdefault(_role, [])
    _perms += [p for p in (_PO_VIEW, PURCHASE_APPROVE_PERM) if p not in _perms]

# What an administrator sets per role (``core.RoleSetting``, the users and roles page or
# ``PUT /api/roles/{code}``): these are the values a role starts with. ``order_scope`` "all" or
# "own_customers" (customers whose sales owner is the user, and orders the user owns);
# ``change_price``: may set a price other than the standard (list) price.
class RoleDefaults(TypedDict):
    order_scope: str
    change_price: bool


ROLE_SETTING_DEFAULTS: dict[str, RoleDefaults] = {
    "sales": {"order_scope": "own_customers", "change_price": False},
    "manager": {"order_scope": "all", "change_price": True},
    "admin": {"order_scope": "all", "change_price": True},
}
DEFAULT_ROLE_SETTING: RoleDefaults = {"order_scope": "all", "change_price": False}

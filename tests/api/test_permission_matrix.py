"""The permission matrix: every API operation (from the OpenAPI) and every page (from the URL
conf, plus /admin/) × every role, a user with no role (session and bearer token), a superuser
and anonymous, each answer checked against the table below.

The table is written here by hand from what each role should be able to do; it is not derived
from ``core.permissions`` or ``core.roles`` (that would make the test unable to fail). An
endpoint with no row, a row with no endpoint, or a new role fails the test, so nothing ships
without a rule. "Allowed" means the request got past the permission check: any answer but
401/403 (and, for pages, a redirect to the login page); 404/409/422 from a body or an id count as
allowed through. Each request runs in a savepoint that is rolled back, so writes that get
through change nothing for the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import URLPattern

from orderhub.core import clock
from orderhub.core.roles import ROLES
from orderhub.core.tokens import token_create
from tests.conftest import order_input

pytestmark = pytest.mark.django_db

# --------------------------------------------------------------------------- who may (by hand)

EVERY_ROLE = frozenset({
    "sales", "service", "planner", "purchaser", "warehouse", "production", "qc", "finance",
    "logistics", "designer", "manager", "admin", "planning_supervisor", "production_director",
    "production_manager", "operations_director", "vice_president"})
SEE = EVERY_ROLE                                  # every role sees orders (within its scope)
CREATE = frozenset({"sales", "service", "planner", "planning_supervisor", "manager", "admin"})
HOLD = CREATE | {"qc", "finance", "production_director", "production_manager", "operations_director",
                 "vice_president"}
CANCEL = frozenset({"manager", "admin", "vice_president"})
OVERRIDE = frozenset({"manager", "admin", "operations_director", "vice_president"})
ADMIN = frozenset({"admin"})
SHIP = frozenset({"warehouse", "logistics"})       # plan and ship shipments; everyone else sees them
# purchasing: approvers are ORDERHUB_PURCHASE_APPROVER_ROLES (default planning supervisor, manager)
PO_APPROVE = frozenset({"planning_supervisor", "manager"})
PO_VIEW = PO_APPROVE | {"purchaser", "planner", "warehouse", "admin"}
PO_REQUEST = frozenset({"purchaser", "planner"})
PO_ORDER = frozenset({"purchaser", "admin"})
PO_RECEIVE = frozenset({"purchaser", "warehouse"})
# capacity planning: planners and production write; managers see
PLAN = frozenset({"planner", "planning_supervisor", "production", "production_manager", "production_director"})
PLAN_VIEW = PLAN | {"manager", "admin", "operations_director", "vice_president"}
# finance (issue 19 items 4, 5): sales and supervisors see, finance writes; returns are raised by
# sales, service and finance, received by the warehouse, checked by QC
FIN_VIEW = frozenset({"finance", "sales", "manager", "admin"})
FIN = frozenset({"finance"})
RET_VIEW = FIN_VIEW | {"service", "warehouse", "qc"}
RET_CREATE = frozenset({"sales", "service", "finance"})
RET_RECEIVE = frozenset({"warehouse"})
RET_QC = frozenset({"qc"})
# company-wide figures: the supervisory roles (every tab; each lands on its own audience's)
KPI = frozenset({"manager", "admin", "operations_director", "vice_president", "planning_supervisor",
                 "production_director"})


# who passes: a set of roles (and the superuser), or one of these
SIGNED_IN = "anyone signed in, with or without a role"
SUPERUSER = "the superuser only"
PUBLIC_SAME = "no sign-in; the same answer whoever asks (a signature or link token decides)"
PUBLIC_PAGE = "no sign-in; never refused"

API = {
    ("POST", "/api/orders"): CREATE,
    ("GET", "/api/orders"): SEE,
    ("POST", "/api/orders/preview"): CREATE,
    ("GET", "/api/catalog/customers"): CREATE,
    ("GET", "/api/catalog/products"): CREATE,
    ("GET", "/api/catalog/customers/{code}/addresses"): CREATE,     # ship-to choices of the order forms
    ("POST", "/api/catalog/customers/{code}/addresses"): ADMIN,     # the address book: who edits customers
    ("PUT", "/api/catalog/customers/{code}/addresses/{address_id}"): ADMIN,
    ("POST", "/api/catalog/customers/{code}/addresses/{address_id}/delete"): ADMIN,
    ("GET", "/api/catalog/customers/{code}/prices"): ADMIN,         # price lists: who edits customers
    ("PUT", "/api/catalog/customers/{code}/prices"): ADMIN,
    ("GET", "/api/orders/{number}"): SEE,
    ("PATCH", "/api/orders/{number}"): HOLD,          # header fields: creators and holders
    ("POST", "/api/orders/{number}/lines"): CREATE,    # lines: creators (prices: the price permission)
    ("POST", "/api/orders/{number}/restore"): CREATE,  # header and lines: creators
    ("POST", "/api/orders/{number}/change-requests"): CREATE,   # raised by creators (sales, service, ...)
    ("GET", "/api/orders/{number}/change-requests"): SEE,
    ("GET", "/api/orders/{number}/change-requests/{request_id}"): SEE,
    ("POST", "/api/orders/{number}/change-requests/{request_id}/approve"): SEE,   # then the approver roles, in the service
    ("POST", "/api/orders/{number}/change-requests/{request_id}/reject"): SEE,
    ("POST", "/api/orders/{number}/transition"): SEE,  # then the stage's owner role, in the service
    ("POST", "/api/orders/transition"): SEE,  # many: each order's stage owner role, in the service
    ("POST", "/api/orders/{number}/override"): OVERRIDE,
    ("POST", "/api/orders/{number}/hold"): HOLD,
    ("POST", "/api/orders/{number}/resume"): HOLD,
    ("POST", "/api/orders/{number}/cancel"): CANCEL,
    ("GET", "/api/orders/{number}/events"): SEE,
    ("GET", "/api/orders/{number}/snapshots"): SEE,
    ("GET", "/api/workflows"): SEE,
    ("GET", "/api/workflows/{code}"): SEE,
    ("PUT", "/api/workflows/{code}"): ADMIN,
    ("POST", "/api/workflows/{code}/guard-test"): ADMIN,
    ("GET", "/api/rules"): SEE,
    ("POST", "/api/rules"): ADMIN,
    ("GET", "/api/rules/{rule_id}"): SEE,
    ("PUT", "/api/rules/{rule_id}"): ADMIN,
    ("GET", "/api/tickets"): SEE,
    ("POST", "/api/tickets"): SEE,                     # shop-floor tickets: whoever sees the order
    ("GET", "/api/tickets/knowledge"): SEE,
    ("GET", "/api/tickets/similar"): SEE,
    ("GET", "/api/tickets/problem-types"): SEE,
    ("PUT", "/api/tickets/problem-types"): ADMIN,
    ("GET", "/api/tickets/{ticket_id}"): SEE,
    ("POST", "/api/tickets/{ticket_id}/resolve"): SEE,  # then the ticket's owner role, in the service
    ("GET", "/api/tickets/{ticket_id}/photos/{photo_id}"): SEE,
    ("GET", "/api/tickets/{ticket_id}/photos/{photo_id}/thumbnail"): SEE,
    ("GET", "/api/intake/messages"): SEE,
    ("GET", "/api/intake/messages/{message_id}"): SEE,
    ("GET", "/api/intake/messages/{message_id}/payload"): SEE,
    ("POST", "/api/intake/messages/{message_id}/replay"): CREATE,
    ("POST", "/api/intake/replay-failed"): CREATE,
    ("POST", "/api/intake/uploads"): CREATE,
    ("GET", "/api/intake/uploads/{job_id}"): SEE,
    ("POST", "/api/intake/uploads/{job_id}/resume"): CREATE,
    ("GET", "/api/intake/drafts"): SEE,
    ("GET", "/api/intake/drafts/{draft_id}"): SEE,
    ("POST", "/api/intake/drafts/{draft_id}/confirm"): CREATE,
    ("POST", "/api/intake/drafts/{draft_id}/discard"): CREATE,
    ("GET", "/api/intake/config"): SEE,
    ("PUT", "/api/intake/config"): ADMIN,
    ("POST", "/api/intake/quick-links/{customer}"): CREATE,
    ("GET", "/api/intake/quick/{token}"): PUBLIC_SAME,
    ("POST", "/api/intake/quick/{token}"): PUBLIC_SAME,
    ("GET", "/api/intake/quick/{token}/qr.{kind}"): PUBLIC_SAME,
    # customer portal: staff manage contacts (creators; admins through the customer settings),
    # anyone who sees orders shares tracking links and logs calls; customers use their own
    # cookie only, so every staff principal gets the anonymous answer
    ("GET", "/api/portal/customers/{customer}/contacts"): CREATE,
    ("POST", "/api/portal/customers/{customer}/contacts"): CREATE,
    ("PATCH", "/api/portal/contacts/{contact_id}"): CREATE,
    ("POST", "/api/portal/contacts/{contact_id}/invite"): CREATE,
    ("POST", "/api/portal/contacts/{contact_id}/logout-everywhere"): CREATE,
    ("POST", "/api/portal/orders/{number}/tracking-link"): SEE,
    ("POST", "/api/portal/orders/{number}/calls"): SEE,
    ("GET", "/api/orders/{number}/messages"): SEE,      # the order's thread with the customer
    ("POST", "/api/orders/{number}/messages"): SEE,
    ("GET", "/api/portal/self-query"): SEE,
    ("POST", "/api/portal/login/code"): PUBLIC_SAME,
    ("POST", "/api/portal/login/verify"): PUBLIC_SAME,
    ("GET", "/api/portal/me"): PUBLIC_SAME,
    ("GET", "/api/portal/me/orders"): PUBLIC_SAME,
    ("GET", "/api/portal/me/orders/{number}"): PUBLIC_SAME,
    ("GET", "/api/portal/me/orders/{number}/messages"): PUBLIC_SAME,
    ("POST", "/api/portal/me/orders/{number}/messages"): PUBLIC_SAME,
    ("POST", "/api/portal/me/logout-everywhere"): PUBLIC_SAME,
    ("GET", "/api/portal/track/{token}"): PUBLIC_SAME,
    # satisfaction and COEI: figures for whoever sees orders, weights for administrators, a
    # customer's update interval for those who manage its contacts; the survey is the customer's
    ("GET", "/api/portal/orders/{number}/coei"): SEE,
    ("GET", "/api/portal/customers/{customer}/coei"): SEE,
    ("GET", "/api/portal/surveys"): SEE,
    ("GET", "/api/portal/coei/config"): SEE,
    ("PUT", "/api/portal/coei/config"): ADMIN,
    ("PUT", "/api/portal/customers/{customer}/update-hours"): CREATE,
    ("GET", "/api/portal/me/orders/{number}/survey"): PUBLIC_SAME,
    ("PUT", "/api/portal/me/orders/{number}/survey"): PUBLIC_SAME,
    ("GET", "/api/portal/survey/{token}"): PUBLIC_SAME,
    ("PUT", "/api/portal/survey/{token}"): PUBLIC_SAME,
    # the customer places, reorders and asks for changes (cookie only: staff are no customer)
    ("POST", "/api/portal/me/new-orders"): PUBLIC_SAME,
    ("POST", "/api/portal/me/orders/{number}/reorder"): PUBLIC_SAME,
    ("POST", "/api/portal/me/orders/{number}/change-requests"): PUBLIC_SAME,
    # the customer's shipments and documents of their own order (cookie only)
    ("GET", "/api/portal/me/orders/{number}/shipments"): PUBLIC_SAME,
    ("GET", "/api/portal/me/orders/{number}/confirmation"): PUBLIC_SAME,
    ("GET", "/api/portal/me/orders/{number}/shipments/{shipment}/{kind}"): PUBLIC_SAME,
    ("POST", "/api/intake/{channel}"): PUBLIC_SAME,
    ("GET", "/api/intake/refused"): ADMIN,
    ("GET", "/api/intake/channels"): SEE,
    ("POST", "/api/intake/channels/{code}"): ADMIN,
    ("PATCH", "/api/intake/channels/{code}"): ADMIN,
    ("POST", "/api/intake/channels/{code}/secret"): ADMIN,
    ("GET", "/api/intake/mappings/{code}/versions"): SEE,
    ("POST", "/api/intake/mappings/{code}/trial"): ADMIN,
    ("GET", "/api/intake/customers/{code}/aliases"): SEE,
    ("PUT", "/api/intake/customers/{code}/aliases"): ADMIN,
    ("POST", "/api/intake/uploads/email"): CREATE,
    ("POST", "/api/intake/master-data/import"): ADMIN,
    ("GET", "/api/notify/endpoints"): ADMIN,
    ("GET", "/api/notify/endpoints/{code}"): ADMIN,
    ("PUT", "/api/notify/endpoints/{code}"): ADMIN,
    ("GET", "/api/notify/settings"): ADMIN,
    ("PUT", "/api/notify/settings"): ADMIN,
    ("GET", "/api/notify/inbox"): SIGNED_IN,
    ("POST", "/api/notify/inbox/read"): SIGNED_IN,
    ("GET", "/api/roles"): ADMIN,
    ("PUT", "/api/roles/{code}"): ADMIN,
    ("GET", "/api/calendar/years"): ADMIN,
    ("POST", "/api/calendar/official"): ADMIN,
    ("GET", "/api/orders/{number}/shipments"): SEE,
    ("POST", "/api/orders/{number}/shipments"): SHIP,
    ("GET", "/api/orders/{number}/documents/{kind}"): SEE,
    ("GET", "/api/shipping/shipments"): SEE,
    ("GET", "/api/shipping/shipments/{number}"): SEE,
    ("POST", "/api/shipping/shipments/{number}/ship"): SHIP,
    ("GET", "/api/shipping/shipments/{number}/documents/{kind}"): SEE,
    ("POST", "/api/shipping/shipments/{number}/pod"): SHIP,
    ("GET", "/api/shipping/shipments/{number}/pod"): SEE,
    ("POST", "/api/shipping/shipments/{number}/acceptance"): SHIP,
    ("GET", "/api/finance/invoices"): FIN_VIEW,
    ("GET", "/api/finance/invoices/{number}"): FIN_VIEW,
    ("POST", "/api/finance/shipments/{number}/invoice"): FIN,
    ("POST", "/api/finance/invoices/{number}/promises"): FIN,
    ("GET", "/api/finance/promises"): FIN_VIEW,
    ("GET", "/api/finance/payments"): FIN_VIEW,
    ("POST", "/api/finance/payments"): FIN,
    ("POST", "/api/finance/payments/{number}/apply"): FIN,
    ("POST", "/api/finance/bank-imports"): FIN,
    ("GET", "/api/finance/bank-imports"): FIN_VIEW,
    ("GET", "/api/finance/credit-notes"): FIN_VIEW,
    ("GET", "/api/finance/customers/{code}"): FIN_VIEW,
    ("GET", "/api/finance/vouchers/{system}"): FIN,
    ("GET", "/api/finance/returns"): RET_VIEW,
    ("GET", "/api/finance/returns/{number}"): RET_VIEW,
    ("POST", "/api/finance/orders/{number}/returns"): RET_CREATE,
    ("POST", "/api/finance/returns/{number}/qc"): RET_QC,
    ("GET", "/api/finance/returns/{number}/qc/file"): RET_VIEW,
    ("POST", "/api/finance/returns/{number}/receive"): RET_RECEIVE,
    ("GET", "/api/catalog/customers/{code}"): ADMIN,              # the customer master: who edits customers
    ("PUT", "/api/catalog/customers/{code}"): ADMIN,
    ("GET", "/api/catalog/customers/{code}/billing"): ADMIN,      # invoice details: who edits customers
    ("PUT", "/api/catalog/customers/{code}/billing"): ADMIN,
    ("GET", "/api/shipping/letterhead"): ADMIN,
    ("PUT", "/api/shipping/letterhead"): ADMIN,
    ("GET", "/api/shipping/templates/{kind}"): ADMIN,
    ("PUT", "/api/shipping/templates/{kind}"): ADMIN,
    ("GET", "/api/planning/lines"): PLAN_VIEW,
    ("PUT", "/api/planning/lines/{code}"): PLAN,
    ("GET", "/api/planning/board"): PLAN_VIEW,
    ("POST", "/api/planning/reschedule"): PLAN,
    ("GET", "/api/planning/orders/{number}"): PLAN_VIEW,
    ("GET", "/api/planning/orders/{number}/rush-options"): PLAN_VIEW,
    ("POST", "/api/planning/orders/{number}/rush"): PLAN,
    ("GET", "/api/planning/risks"): PLAN_VIEW,
    ("GET", "/api/planning/risks/score"): PLAN_VIEW,
    ("GET", "/api/purchasing/suppliers"): PO_VIEW,
    ("PUT", "/api/purchasing/suppliers/{code}"): PO_ORDER,
    ("GET", "/api/purchasing/requests"): PO_VIEW,
    ("POST", "/api/purchasing/requests"): PO_REQUEST,
    ("POST", "/api/purchasing/requests/{number}/approve"): PO_APPROVE,
    ("POST", "/api/purchasing/requests/{number}/reject"): PO_APPROVE,
    ("GET", "/api/purchasing/orders"): PO_VIEW,
    ("POST", "/api/purchasing/orders"): PO_ORDER,
    ("GET", "/api/purchasing/orders/{number}"): PO_VIEW,
    ("POST", "/api/purchasing/orders/{number}/receipts"): PO_RECEIVE,
    ("POST", "/api/purchasing/imports/orders"): PO_ORDER,
    ("POST", "/api/purchasing/imports/receipts"): PO_RECEIVE,
    ("GET", "/api/shortages"): PO_VIEW,
    ("GET", "/api/shortages/safety"): PO_VIEW,
    ("GET", "/api/shortages/{number}"): SEE,
    ("GET", "/api/shortages/{number}/safety"): SEE,
    ("POST", "/api/shortages/{number}/requests"): PO_REQUEST,
    ("GET", "/api/purchasing/requests/{number}"): PO_VIEW,
    ("GET", "/api/purchasing/replenishment"): PO_VIEW,
    ("PUT", "/api/purchasing/replenishment"): PO_ORDER,
    **{("GET", f"/api/kpis/{figure}"): KPI for figure in (
        "first-touch", "on-time", "processing", "stage-times", "open-by-stage", "stalled", "overdue",
        "exceptions", "trend", "portal", "daily-report.pdf", "daily-report.xlsx")},
    ("GET", "/api/kpis/daily-report/setting"): ADMIN,
    ("GET", "/api/breakers/config"): SEE,
    ("PUT", "/api/breakers/config/{kind}"): ADMIN,
    ("GET", "/api/breakers/trips"): SEE,
    ("POST", "/api/breakers/trips/{trip_id}/reset"): HOLD,
    ("GET", "/api/shipping/disruptions"): SEE,
    ("POST", "/api/shipping/disruptions"): SHIP,
    ("POST", "/api/shipping/disruptions/{disruption_id}/clear"): SHIP,
    ("PUT", "/api/kpis/daily-report/setting"): ADMIN,
}

WEB = {
    ("GET", ""): SIGNED_IN,
    ("GET", "login/"): PUBLIC_PAGE,
    ("GET", "logout/"): PUBLIC_SAME,
    ("GET", "board/<str:code>/"): SEE,
    ("GET", "board/<str:code>/columns"): SEE,
    ("GET", "kpi/"): KPI,
    ("GET", "kpi/<str:audience>/"): KPI,
    ("GET", "kpi/export/<str:panel>.xlsx"): KPI,
    ("GET", "kpi/daily-report.pdf"): KPI,
    ("GET", "kpi/daily-report.xlsx"): KPI,
    ("GET", "kpi/daily-report/setting/"): ADMIN,
    ("POST", "kpi/daily-report/setting/"): ADMIN,
    ("GET", "orders/"): SEE,
    ("GET", "orders/export.xlsx"): SEE,
    ("POST", "orders/bulk-move"): SEE,                 # then each order's stage owner role
    ("GET", "orders/new/"): CREATE,
    ("POST", "orders/new/"): CREATE,
    ("POST", "orders/new/preview"): CREATE,
    ("GET", "orders/<str:number>/"): SEE,
    ("GET", "orders/<str:number>/edit"): HOLD,         # header fields: creators and holders
    ("POST", "orders/<str:number>/edit"): HOLD,
    ("GET", "orders/<str:number>/lines"): CREATE,      # the edit-lines form: creators
    ("POST", "orders/<str:number>/lines"): CREATE,
    ("GET", "orders/<str:number>/restore"): CREATE,
    ("POST", "orders/<str:number>/restore"): CREATE,
    ("GET", "orders/<str:number>/change-requests/new"): CREATE,   # 申请变更: creators
    ("POST", "orders/<str:number>/change-requests/new"): CREATE,
    ("GET", "orders/<str:number>/change-requests/<int:pk>"): SEE,
    ("POST", "orders/<str:number>/change-requests/<int:pk>"): SEE,  # decide: then the approver roles
    ("POST", "orders/<str:number>/move"): SEE,
    ("POST", "orders/<str:number>/override"): OVERRIDE,
    ("POST", "orders/<str:number>/hold"): HOLD,
    ("POST", "orders/<str:number>/resume"): HOLD,
    ("POST", "orders/<str:number>/cancel"): CANCEL,
    ("POST", "orders/<str:number>/attach"): SEE,
    ("GET", "orders/<str:number>/files/<int:pk>"): SEE,
    ("GET", "intake/"): SEE,
    ("GET", "intake/upload/"): CREATE,
    ("POST", "intake/upload/"): CREATE,
    ("GET", "intake/jobs/<int:pk>/"): SEE,
    ("POST", "intake/jobs/<int:pk>/resume"): CREATE,
    ("GET", "intake/drafts/"): CREATE,
    ("GET", "intake/drafts/<int:pk>/"): CREATE,
    ("POST", "intake/drafts/<int:pk>/"): CREATE,
    ("GET", "intake/refused/"): ADMIN,
    ("GET", "intake/<int:pk>/"): SEE,
    ("GET", "intake/<int:pk>/raw"): SEE,
    ("GET", "intake/<int:pk>/preview"): SEE,
    ("POST", "intake/<int:pk>/replay"): CREATE,
    ("GET", "settings/customers/<str:code>/quick-link"): CREATE,
    ("GET", "q/<str:token>"): PUBLIC_SAME,
    ("POST", "orders/<str:number>/tracking-link"): SEE,
    ("POST", "orders/<str:number>/calls"): SEE,
    ("POST", "orders/<str:number>/messages"): SEE,
    ("GET", "self-query/"): SEE,
    ("GET", "settings/customers/<str:code>/portal/"): CREATE,
    ("POST", "settings/customers/<str:code>/portal/"): CREATE,
    ("POST", "settings/customers/<str:code>/portal/<int:pk>"): CREATE,
    # the customer's pages: a staff session is no customer (the same answer as anonymous)
    ("GET", "portal/"): PUBLIC_SAME,
    ("GET", "portal/login/"): PUBLIC_SAME,
    ("POST", "portal/login/"): PUBLIC_SAME,
    ("GET", "portal/login/code/"): PUBLIC_SAME,
    ("POST", "portal/logout/"): PUBLIC_SAME,
    ("POST", "portal/logout-everywhere/"): PUBLIC_SAME,
    ("GET", "portal/orders/<str:number>/"): PUBLIC_SAME,
    ("POST", "portal/orders/<str:number>/messages"): PUBLIC_SAME,
    ("GET", "portal/orders/<str:number>/confirmation.pdf"): PUBLIC_SAME,
    ("GET", "portal/orders/<str:number>/shipments/<str:shipment>/<str:kind>.pdf"): PUBLIC_SAME,
    ("GET", "track/<str:token>"): PUBLIC_SAME,
    ("GET", "portal/orders/<str:number>/survey/"): PUBLIC_SAME,
    ("GET", "portal/orders/new/"): PUBLIC_SAME,
    ("POST", "portal/orders/new/"): PUBLIC_SAME,
    ("GET", "portal/orders/<str:number>/change/"): PUBLIC_SAME,
    ("POST", "portal/orders/<str:number>/change/"): PUBLIC_SAME,
    ("POST", "portal/orders/<str:number>/survey/"): PUBLIC_SAME,
    ("GET", "survey/<str:token>"): PUBLIC_SAME,
    ("POST", "survey/<str:token>"): PUBLIC_SAME,
    ("GET", "settings/coei/"): ADMIN,
    ("POST", "settings/coei/"): ADMIN,
    ("POST", "settings/customers/<str:code>/portal/update-hours"): CREATE,
    ("GET", "settings/intake/"): ADMIN,
    ("POST", "settings/intake/"): ADMIN,
    ("POST", "settings/intake/master-data"): ADMIN,
    ("GET", "settings/intake/<str:code>/"): ADMIN,
    ("POST", "settings/intake/<str:code>/"): ADMIN,
    ("POST", "settings/intake/<str:code>/secret"): ADMIN,
    ("POST", "settings/customers/<str:code>/aliases"): ADMIN,
    ("GET", "settings/"): ADMIN,
    ("GET", "settings/workflows/<str:code>/"): ADMIN,
    ("POST", "settings/workflows/<str:code>/"): ADMIN,
    ("POST", "settings/workflows/<str:code>/guard-test"): ADMIN,
    ("GET", "settings/calendar/"): ADMIN,
    ("POST", "settings/calendar/"): ADMIN,
    ("GET", "settings/calendar/official"): ADMIN,
    ("POST", "settings/calendar/official"): ADMIN,
    ("GET", "settings/customers/"): ADMIN,
    ("GET", "settings/customers/<str:code>/"): ADMIN,
    ("POST", "settings/customers/<str:code>/"): ADMIN,
    ("GET", "settings/customers/<str:code>/addresses"): ADMIN,
    ("POST", "settings/customers/<str:code>/addresses"): ADMIN,
    ("GET", "settings/customers/<str:code>/prices"): ADMIN,
    ("POST", "settings/customers/<str:code>/prices"): ADMIN,
    ("GET", "settings/products/"): ADMIN,
    ("GET", "settings/products/<str:sku>/"): ADMIN,
    ("POST", "settings/products/<str:sku>/"): ADMIN,
    ("GET", "settings/stock/"): ADMIN,
    ("POST", "settings/stock/"): ADMIN,
    ("GET", "settings/users/"): ADMIN,
    ("POST", "settings/users/"): ADMIN,
    ("POST", "settings/users/<str:username>/unlock"): ADMIN,
    ("GET", "notifications/"): SIGNED_IN,
    ("POST", "notifications/read"): SIGNED_IN,
    ("GET", "notifications/badge"): SIGNED_IN,
    ("GET", "notifications/me/"): SIGNED_IN,
    ("POST", "notifications/me/"): SIGNED_IN,
    ("GET", "notifications/dead/"): ADMIN,
    ("POST", "notifications/dead/<int:pk>/resend"): ADMIN,
    ("GET", "settings/notify/"): ADMIN,
    ("GET", "settings/notify/endpoints/new/"): ADMIN,
    ("POST", "settings/notify/endpoints/new/"): ADMIN,
    ("GET", "settings/notify/endpoints/<str:code>/"): ADMIN,
    ("GET", "settings/notify/templates/<str:event>/<str:channel>/"): ADMIN,
    ("POST", "settings/notify/templates/<str:event>/<str:channel>/"): ADMIN,
    ("GET", "rules/"): SEE,
    ("GET", "rules/new/"): ADMIN,
    ("POST", "rules/new/"): ADMIN,
    ("GET", "rules/firings/"): SEE,
    ("GET", "rules/<int:pk>/"): ADMIN,
    ("GET", "tickets/"): SEE,
    ("GET", "tickets/<int:pk>/"): SEE,
    ("POST", "tickets/<int:pk>/resolve"): SEE,         # then the ticket's owner role, in the service
    ("POST", "orders/<str:number>/tickets"): SEE,
    ("POST", "orders/<str:number>/shipments"): SHIP,
    ("GET", "orders/<str:number>/documents/<str:kind>.pdf"): SEE,
    ("GET", "shipping/"): SEE,
    ("GET", "shipping/<str:number>/"): SEE,
    ("POST", "shipping/<str:number>/ship"): SHIP,
    ("GET", "shipping/<str:number>/documents/<str:kind>.pdf"): SEE,
    ("POST", "shipping/<str:number>/pod"): SHIP,
    ("GET", "shipping/<str:number>/pod/file"): SEE,
    ("POST", "shipping/<str:number>/accept"): SHIP,
    ("GET", "finance/"): FIN_VIEW,
    ("POST", "finance/bank-import"): FIN,
    ("POST", "finance/payments"): FIN,
    ("POST", "finance/payments/<str:number>/apply"): FIN,
    ("GET", "finance/invoices/<str:number>/"): FIN_VIEW,
    ("POST", "finance/invoices/<str:number>/promise"): FIN,
    ("POST", "finance/shipments/<str:number>/invoice"): FIN,
    ("GET", "finance/vouchers.xlsx"): FIN,
    ("GET", "finance/customers/<str:code>/"): FIN_VIEW,
    ("GET", "finance/orders/<str:number>/card"): SEE,          # 404 for roles that see neither finance nor returns
    ("POST", "finance/orders/<str:number>/returns"): RET_CREATE,
    ("GET", "finance/returns/"): RET_VIEW,
    ("GET", "finance/returns/<str:number>/"): RET_VIEW,
    ("POST", "finance/returns/<str:number>/qc"): RET_QC,
    ("GET", "finance/returns/<str:number>/qc-file"): RET_VIEW,
    ("POST", "finance/returns/<str:number>/receive"): RET_RECEIVE,
    ("GET", "settings/documents/"): ADMIN,
    ("POST", "settings/documents/"): ADMIN,
    ("GET", "settings/documents/<str:kind>/"): ADMIN,
    ("POST", "settings/documents/<str:kind>/"): ADMIN,
    ("GET", "tickets/new/"): SEE,
    ("POST", "tickets/new/"): SEE,
    ("GET", "tickets/knowledge/"): SEE,
    ("GET", "tickets/<int:pk>/photos/<int:photo>"): SEE,
    ("GET", "tickets/<int:pk>/photos/<int:photo>/thumbnail"): SEE,
    ("GET", "settings/problem-types/"): ADMIN,
    ("POST", "settings/problem-types/"): ADMIN,
    ("GET", "planning/"): PLAN_VIEW,
    ("GET", "planning/lines/"): PLAN_VIEW,
    ("POST", "planning/lines/save"): PLAN,
    ("POST", "planning/reschedule"): PLAN,
    ("GET", "planning/risks/"): PLAN_VIEW,
    ("GET", "orders/<str:number>/rush/"): PLAN_VIEW,
    ("POST", "orders/<str:number>/rush/apply"): PLAN,
    ("GET", "purchasing/"): PO_VIEW,
    ("GET", "purchasing/new/"): PO_ORDER,
    ("POST", "purchasing/new/"): PO_ORDER,
    ("GET", "purchasing/suppliers/"): PO_VIEW,
    ("GET", "purchasing/shortages/"): PO_VIEW,
    ("POST", "orders/<str:number>/purchase-request"): PO_REQUEST,
    ("POST", "purchasing/suppliers/save"): PO_ORDER,
    ("POST", "purchasing/requests/"): PO_REQUEST,
    ("POST", "purchasing/requests/<str:number>/approve"): PO_APPROVE,
    ("GET", "purchasing/requests/<str:number>/"): PO_VIEW,
    ("GET", "purchasing/replenishment/"): PO_VIEW,
    ("POST", "purchasing/replenishment/save"): PO_ORDER,
    ("POST", "purchasing/import/orders"): PO_ORDER,
    ("POST", "purchasing/import/receipts"): PO_RECEIVE,
    ("GET", "purchasing/<str:number>/"): PO_VIEW,
    ("POST", "purchasing/<str:number>/receive"): PO_RECEIVE,
    ("GET", "breakers/"): SEE,
    ("POST", "breakers/<int:pk>/reset"): HOLD,
    ("POST", "breakers/disruptions/"): SHIP,
    ("POST", "breakers/disruptions/<int:pk>/clear"): SHIP,
    ("GET", "settings/breakers/"): ADMIN,
    ("POST", "settings/breakers/"): ADMIN,
    ("GET", "admin/"): SUPERUSER,
    ("GET", "admin/auth/user/"): SUPERUSER,
}


# the operational endpoints beside the app (orderhub.urls): for load balancers and Prometheus
METRICS_TOKEN = "the metrics bearer token only"
ROOT = {
    ("GET", "healthz"): PUBLIC_SAME,
    ("GET", "metrics"): METRICS_TOKEN,
}


def test_the_table_knows_every_role():
    assert set(ROLES) == EVERY_ROLE, "a role was added or removed: give it its rows in this table"


# --------------------------------------------------------------------------- the endpoints


def _api_endpoints() -> set[tuple[str, str]]:
    from orderhub.api.api import api

    return {(method.upper(), path) for path, ops in api.get_openapi_schema()["paths"].items()
            for method in ops}


def _web_patterns() -> set[str]:
    from orderhub.web import urls

    return {str(p.pattern) for p in urls.urlpatterns if isinstance(p, URLPattern)}


def _root_patterns() -> set[str]:
    from orderhub import urls

    return {str(p.pattern) for p in urls.urlpatterns if isinstance(p, URLPattern)}


def test_every_endpoint_has_a_row_and_every_row_an_endpoint():
    root = _root_patterns()
    assert root == {pattern for _m, pattern in ROOT}, "operational endpoints without a row (or rows without one)"
    api = _api_endpoints()
    assert api - set(API) == set(), "API operations without a row in the permission table"
    assert set(API) - api == set(), "rows for API operations that no longer exist"
    web = _web_patterns()
    rows = {pattern for _m, pattern in WEB if not pattern.startswith("admin/")}
    assert web - rows == set(), "pages without a row in the permission table"
    assert rows - web == set(), "rows for pages that no longer exist"


def test_every_endpoint_declares_its_capability_in_one_place():
    """API operations by ``auth=requires(...)`` (or ``auth=None`` when public), pages by
    ``@requires(...)``: the declaration is what the edge checks, through core.permissions."""
    from orderhub.api.api import api
    from orderhub.core.permissions import CAPABILITIES
    from orderhub.web import urls

    schema = api.get_openapi_schema()["paths"]
    undeclared = [(m, p) for p, ops in schema.items() for m, op in ops.items()
                  if op.get("x-orderhub-capability") not in CAPABILITIES]
    assert undeclared == []
    from orderhub import urls as root_urls

    pages = [str(p.pattern) for p in [*urls.urlpatterns, *(p for p in root_urls.urlpatterns if isinstance(p, URLPattern))]
             if (getattr(p.callback, "capability", None)
                 or getattr(getattr(p.callback, "view_class", None), "capability", None)) not in CAPABILITIES]
    assert pages == []


# --------------------------------------------------------------------------- the requests


@dataclass
class Principal:
    name: str
    client: Client
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.name == "anonymous"


@pytest.fixture
def world(company, tmp_path, settings):
    """One order (with an attachment, a ticket), an inbound message with an import job and a
    draft, the principals."""
    from orderhub.core.actors import Actor
    from orderhub.intake.models import Draft, ImportJob
    from orderhub.intake.services import inbound_receive
    from orderhub.orders.services import order_attach, order_create, ticket_open

    settings.MEDIA_ROOT = tmp_path
    settings.ORDERHUB_RUN_JOBS_INLINE = True
    # every principal knocks with a wrong link or channel from one address: the per-address
    # limits (tests/web/test_rate_limits.py) would answer 429 instead of the door's own answer
    settings.ORDERHUB_RATE_LIMITS = {}
    system = Actor.system("matrix")
    order = order_create(data=order_input(), actor=company["actors"]["service"]).order
    att = order_attach(order=order.number, name="drawing.pdf", content=b"%PDF-1.4 x",
                       content_type="application/pdf", actor=system)
    ticket = ticket_open(order=order.number, kind="exception", title="缺料", owner_role="planner",
                         actor=system)
    msg = inbound_receive(channel="taobao", kind="upload", payload=b"a,b\n1,2\n", actor=system,
                          content_type="text/csv", filename="x.csv")
    now = clock.now()
    job = ImportJob.objects.create(message=msg, mode="accept_valid", started_at=now, updated_at=now)
    draft = Draft.objects.create(message=msg, data={"customer": "C001", "lines": []}, created_at=now)
    User = get_user_model()
    norole = User.objects.create_user(username="norole", password="pw-norole")
    root = User.objects.create_superuser(username="root", password="pw-root")
    people = {**company["users"], "norole": norole, "root": root}

    def session(user):
        c = Client()
        c.force_login(user)
        return c

    def bearer(user):
        _, raw = token_create(user=user, name=f"matrix-{user.username}")
        return {"Authorization": f"Bearer {raw}"}

    web = [Principal(name, session(user)) for name, user in people.items()] + [Principal("anonymous", Client())]
    api = ([Principal(name, Client(), bearer(user)) for name, user in people.items()]
           + [Principal("norole-session", session(norole)), Principal("anonymous", Client())])
    ids = {"number": order.number, "att": att.pk, "ticket": ticket.pk, "message": msg.pk, "job": job.pk,
           "draft": draft.pk}
    return {"web": web, "api": api, "ids": ids}


def _api_url(path: str, ids: dict) -> str:
    return (path.replace("{number}", ids["number"]).replace("{message_id}", str(ids["message"]))
            .replace("{job_id}", str(ids["job"])).replace("{draft_id}", str(ids["draft"]))
            .replace("{code}", "T1" if "/workflows/" in path else "C001" if "/catalog/customers/" in path else "sales")
            .replace("{customer}", "C001").replace("{address_id}", "999999")
            .replace("{token}", "no-such-token").replace("{kind}", "png" if "/qr." in path else "quotation" if "/orders/" in path else "delivery-note").replace("{channel}", "no-such-channel")
            .replace("{rule_id}", "999999").replace("{contact_id}", "999999")
            .replace("{ticket_id}", str(ids["ticket"])).replace("{photo_id}", "999999").replace("{request_id}", "999999")
            .replace("{trip_id}", "999999").replace("{disruption_id}", "999999"))


def _web_url(pattern: str, ids: dict) -> str:
    special = {
        "board/<str:code>/": "/board/T1/", "board/<str:code>/columns": "/board/T1/columns",
        "kpi/<str:audience>/": "/kpi/boss/", "kpi/export/<str:panel>.xlsx": "/kpi/export/overdue-stage.xlsx",
        "settings/workflows/<str:code>/": "/settings/workflows/T1/",
        "settings/workflows/<str:code>/guard-test": "/settings/workflows/T1/guard-test",
        "settings/customers/<str:code>/quick-link": "/settings/customers/C001/quick-link",
        "settings/customers/<str:code>/": "/settings/customers/C001/",
        "settings/customers/<str:code>/aliases": "/settings/customers/C001/aliases",
        "settings/customers/<str:code>/addresses": "/settings/customers/C001/addresses",
        "settings/customers/<str:code>/prices": "/settings/customers/C001/prices",
        "settings/intake/<str:code>/": "/settings/intake/taobao/",
        "settings/intake/<str:code>/secret": "/settings/intake/taobao/secret",
        "settings/products/<str:sku>/": "/settings/products/HSG-100/",
        "settings/notify/endpoints/<str:code>/": "/settings/notify/endpoints/no-such-endpoint/",
        "settings/notify/templates/<str:event>/<str:channel>/": "/settings/notify/templates/order.created/all/",
        "q/<str:token>": "/q/no-such-token",
        "track/<str:token>": "/track/no-such-token",
        "survey/<str:token>": "/survey/no-such-token",
        "settings/customers/<str:code>/portal/update-hours": "/settings/customers/C001/portal/update-hours",
        "settings/customers/<str:code>/portal/": "/settings/customers/C001/portal/",
        "settings/customers/<str:code>/portal/<int:pk>": "/settings/customers/C001/portal/999999",
        "orders/<str:number>/files/<int:pk>": f"/orders/{ids['number']}/files/{ids['att']}",
        "intake/jobs/<int:pk>/": f"/intake/jobs/{ids['job']}/",
        "intake/jobs/<int:pk>/resume": f"/intake/jobs/{ids['job']}/resume",
        "intake/drafts/<int:pk>/": f"/intake/drafts/{ids['draft']}/",
        "tickets/<int:pk>/": f"/tickets/{ids['ticket']}/",
        "tickets/<int:pk>/resolve": f"/tickets/{ids['ticket']}/resolve",
        "tickets/<int:pk>/photos/<int:photo>": f"/tickets/{ids['ticket']}/photos/999999",
        "tickets/<int:pk>/photos/<int:photo>/thumbnail": f"/tickets/{ids['ticket']}/photos/999999/thumbnail",
        "notifications/dead/<int:pk>/resend": "/notifications/dead/999999/resend",
        "rules/<int:pk>/": "/rules/999999/",
        "settings/users/<str:username>/unlock": "/settings/users/planner/unlock",
        "orders/<str:number>/documents/<str:kind>.pdf": f"/orders/{ids['number']}/documents/quotation.pdf",
        "shipping/<str:number>/documents/<str:kind>.pdf": "/shipping/no-such-shipment/documents/delivery-note.pdf",
        "settings/documents/<str:kind>/": "/settings/documents/delivery-note/",
        "finance/customers/<str:code>/": "/finance/customers/C001/",
    }
    if pattern in special:
        return special[pattern]
    return "/" + pattern.replace("<str:number>", ids["number"]).replace("<int:pk>", str(ids["message"]))


def _send(p: Principal, method: str, url: str, *, json_body: bool):
    """One request inside a savepoint that is rolled back afterwards."""
    sid = transaction.savepoint()
    try:
        if method == "GET":
            resp = p.client.get(url, headers=p.headers)
        elif json_body:
            resp = getattr(p.client, method.lower())(url, data=b"{}", content_type="application/json",
                                                     headers=p.headers)
        else:
            resp = p.client.post(url, {}, headers=p.headers)
        if hasattr(resp, "streaming_content"):
            b"".join(resp.streaming_content)
        return resp
    finally:
        transaction.savepoint_rollback(sid)


def _expected(rule, name: str) -> bool:
    if rule in (PUBLIC_SAME, PUBLIC_PAGE):
        return True
    if name == "anonymous":
        return False
    if name == "root":
        return True
    if rule == SUPERUSER:
        return False
    if rule == SIGNED_IN:
        return True
    return name in rule


def _to_login(resp, *, admin: bool) -> bool:
    where = "/admin/login/" if admin else "/login/"
    return resp.status_code == 302 and resp["Location"].startswith(where)


@dataclass
class Tally:
    requests: int = 0
    wrong: list = field(default_factory=list)
    unauthorised_reads: int = 0


def _judge(tally: Tally, key, rule, p: Principal, resp, *, api: bool, admin: bool = False) -> None:
    tally.requests += 1
    status = resp.status_code
    if rule == PUBLIC_SAME:
        return  # compared across principals by the caller
    if rule == PUBLIC_PAGE:
        ok = status not in (401, 403) and not _to_login(resp, admin=False)
        if not ok:
            tally.wrong.append((key, p.name, status))
        return
    refused = status in (401, 403) or (not api and _to_login(resp, admin=admin))
    expected = _expected(rule, p.name)
    if expected and refused:
        tally.wrong.append((key, p.name, status, "refused but should pass"))
    elif not expected:
        if not refused:
            tally.wrong.append((key, p.name, status, "let through"))
            if key[0] == "GET" and 200 <= status < 300:
                tally.unauthorised_reads += 1
        elif api and status != (401 if p.anonymous else 403):
            tally.wrong.append((key, p.name, status, "refused with the wrong status"))
        elif not api and not admin and (_to_login(resp, admin=False) != p.anonymous
                                        or (not p.anonymous and status != 403)):
            tally.wrong.append((key, p.name, status, "anonymous → login, signed in → 403"))


def test_api_matrix(world):
    tally = Tally()
    ids = world["ids"]
    for (method, path), rule in sorted(API.items()):
        answers = {}
        for p in world["api"]:
            resp = _send(p, method, _api_url(path, ids), json_body=True)
            answers[p.name] = resp.status_code
            _judge(tally, (method, path), rule, p, resp, api=True)
            if not (200 <= resp.status_code < 500):
                tally.wrong.append(((method, path), p.name, resp.status_code, "a server error"))
            if resp.status_code == 403 and not p.anonymous:
                assert resp.json()["message"], (method, path)  # names what is not allowed
        if rule == PUBLIC_SAME and len(set(answers.values())) != 1:
            tally.wrong.append(((method, path), "everyone", answers, "a public endpoint answers by role"))
    print(f"API matrix: {tally.requests} requests, unauthorised reads: {tally.unauthorised_reads}")
    assert tally.wrong == []
    assert tally.unauthorised_reads == 0


def test_web_matrix(world):
    tally = Tally()
    ids = world["ids"]
    for (method, pattern), rule in sorted(WEB.items()):
        url = "/" + pattern if pattern.startswith("admin/") else _web_url(pattern, ids)
        answers = {}
        for p in world["web"]:
            resp = _send(p, method, url, json_body=False)
            answers[p.name] = resp.status_code
            _judge(tally, (method, pattern), rule, p, resp, api=False, admin=pattern.startswith("admin/"))
            assert resp.status_code < 500, (method, url, p.name)
            if resp.status_code == 403:
                assert "无权" in resp.content.decode(), (method, url)  # the Chinese 403 page
        if rule == PUBLIC_SAME and len(set(answers.values())) != 1:
            tally.wrong.append(((method, pattern), "everyone", answers, "a public page answers by role"))
    print(f"web matrix: {tally.requests} requests, unauthorised reads: {tally.unauthorised_reads}")
    assert tally.wrong == []
    assert tally.unauthorised_reads == 0


def test_operational_endpoints(world, settings):
    """/healthz answers everyone alike (no sign-in; 200 or 503 by the state of the services, which
    in this test has no job runner); /metrics only to its bearer token: off (404) without one,
    401 to anyone else, whoever they are signed in as."""
    settings.ORDERHUB_METRICS_TOKEN = "m" * 40
    health = {p.name: p.client.get("/healthz").status_code for p in world["web"]}
    assert set(health.values()) <= {200, 503} and len(set(health.values())) == 1, health
    metrics = {p.name: p.client.get("/metrics", headers=p.headers).status_code for p in world["web"] + world["api"]}
    assert set(metrics.values()) == {401}, metrics   # sessions and API tokens are not the metrics token
    assert Client().get("/metrics", headers={"Authorization": "Bearer " + "m" * 40}).status_code == 200
    settings.ORDERHUB_METRICS_TOKEN = ""
    assert Client().get("/metrics", headers={"Authorization": "Bearer " + "m" * 40}).status_code == 404
